"""The built-in ``ping`` job."""
from domain.ping import engine
from workers.base import job_task


@job_task("ping")
def ping(ctx, payload):
    return engine.run(payload, ctx.attempt, ctx)
