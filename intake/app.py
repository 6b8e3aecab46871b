"""The ASGI app: ``uvicorn intake.app:app`` or ``coursework intake``."""
from __future__ import annotations

from contextlib import asynccontextmanager

import redis
import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from celeryconfig import settings
from domain.core import production
from intake import errors, http_metrics, openapi
from intake.guards import UrlGuard
from intake.limits import BodySizeLimit
from intake.server import BodyDeadline
from intake.routes import routers
from workers import events, relay

API_DESCRIPTION = """Coursework intake: validates and enqueues jobs; workers do the work.
Authenticate with `Authorization: Bearer <api key>`. Errors use one envelope:
`{"error": {"code", "message", "details": [{"field", "message"}]}}`."""


@asynccontextmanager
async def lifespan(app: FastAPI):
    production.refuse_to_start(settings, "intake")   # also when served as `uvicorn intake.app:app`
    events.install()
    # /readyz and /metrics: one quick try, no retry backoff (redis-py's default waits seconds)
    app.state.redis = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=2,
                                           retry=Retry(NoBackoff(), 0))
    app.state.aredis = aioredis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
    # the rate limiter fails open: its Redis gives up fast rather than hold a request
    app.state.limiter_redis = aioredis.Redis.from_url(settings.redis_url, socket_connect_timeout=0.25,
                                                      socket_timeout=0.25, retry=AsyncRetry(NoBackoff(), 0))
    loop = None
    if settings.relay_in_intake:
        loop = relay.RelayThread()
        loop.start()
    try:
        yield
    finally:
        if loop is not None:
            loop.stop()
        await app.state.aredis.aclose()
        await app.state.limiter_redis.aclose()


def create_app() -> FastAPI:
    # FastAPI's built-in OpenTelemetry hooks cost ~15 % of the request path here; metrics come
    # from /metrics (Prometheus: intake.http_metrics), /metrics/platform and Flower instead
    # /docs (Swagger UI) and /redoc from assets packaged with fastapi-offline: no CDN, so they load offline
    app = FastAPIOffline(title="Coursework intake", version="1.0", description=API_DESCRIPTION, lifespan=lifespan,
                         telemetry={"tracing": False, "metrics": False, "logs": False},
                         swagger_ui_parameters={"persistAuthorization": True})
    errors.install(app)
    openapi.install(app)
    http_metrics.install(app)
    for router in routers():
        app.include_router(router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, exempt_prefixes=("/v1/files/",))
    app.add_middleware(BodyDeadline, seconds=settings.http_body_timeout)
    app.add_middleware(UrlGuard)
    return app


app = create_app()
