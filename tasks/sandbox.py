"""Tasks of the sandbox family (queue ``sandbox``): evaluate code submissions."""
from pathlib import Path

from celeryconfig import settings
from domain.sandbox import flow
from domain.sandbox.jail import SandboxUnavailable
from domain.sandbox.judge import JudgeConfig
from domain.sandbox.slots import NoFreeSlot
from workers.base import job_task


def judge_config() -> JudgeConfig:
    return JudgeConfig(work_dir=Path(settings.sandbox_work_dir), base_uid=settings.sandbox_uid_base,
                       slots=settings.sandbox_slots, max_processes=settings.sandbox_max_processes,
                       max_output_bytes=settings.sandbox_max_output_bytes,
                       max_file_bytes=settings.sandbox_max_file_bytes,
                       compile_seconds=settings.sandbox_compile_seconds, wall_factor=settings.sandbox_wall_factor,
                       bwrap=settings.sandbox_bwrap)


@job_task("evaluate", transient=(SandboxUnavailable, NoFreeSlot))
def evaluate(ctx, payload):
    return flow.run(payload, job_id=ctx.job_id, uow=ctx.uow, emit=ctx.emit, config=judge_config(),
                    max_time_ms=int(settings.sandbox_time_limit * 1000), max_memory_mb=settings.sandbox_memory_mb,
                    progress=ctx.progress, cancelled=lambda: ctx.cancelled)
