"""HTTP metrics of an intake process with prometheus-fastapi-instrumentator: requests by route
template (``/v1/jobs/{job_id}``, never the raw path), method and status, and their latency.
Unmatched paths count under ``none``; health and metrics endpoints are not counted."""
from __future__ import annotations

from fastapi import FastAPI
from prometheus_fastapi_instrumentator import Instrumentator, metrics

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def install(app: FastAPI) -> None:
    inst = Instrumentator(should_group_status_codes=False, should_ignore_untemplated=False,
                          should_group_untemplated=True, should_instrument_requests_inprogress=False,
                          excluded_handlers=["/metrics", "/metrics/platform", "/healthz", "/readyz"])
    inst.add(metrics.requests(metric_namespace="coursework"))
    inst.add(metrics.latency(metric_namespace="coursework", buckets=LATENCY_BUCKETS))
    inst.instrument(app)
