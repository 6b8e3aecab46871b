from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from domain.core.fields import number, text

from domain.jobs.kinds import JobKind


class PingPayload(BaseModel):
    """``sleep`` holds the job running; the ``fail_*``/``crash_worker`` knobs drive lifecycle
    drills (retry, permanent failure, worker loss) so operators can check a deployment."""

    model_config = ConfigDict(extra="forbid")
    echo: str = text(1000, default="pong", description="returned as the result", examples=["hi"])
    sleep: float = number(default=0.0, ge=0, le=600, description="seconds to stay running", examples=[0.5])
    fail_transient_times: int = Field(default=0, ge=0, le=20, examples=[2],
                                      description="fail with a transient error this many times first (retries)")
    fail_permanent: bool = Field(default=False, description="fail permanently (no retry)", examples=[False])
    crash_worker: bool = Field(default=False, description="kill the worker process mid-job (redelivery drill)",
                               examples=[False])


def _drills_need_operate(p: PingPayload) -> str | None:
    """A plain echo is for anyone with ``enqueue``; holding a slot, failing on purpose or killing a
    worker is an operator's drill."""
    drill = p.sleep > 0 or p.fail_transient_times or p.fail_permanent or p.crash_worker
    return "operate" if drill else None


KINDS = [
    JobKind(name="ping", payload=PingPayload, task="tasks.ping.ping", queue="maintenance", max_attempts=4,
            payload_scope=_drills_need_operate,
            description="Echo a value back; optional sleep and lifecycle drills."),
]
