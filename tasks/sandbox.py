"""Tasks of the sandbox family (queue ``sandbox``): evaluate code submissions."""
from pathlib import Path

from celery import signals

import celeryconfig
from domain.sandbox import flow, judge
from domain.sandbox.jail import SandboxUnavailable
from domain.sandbox.judge import JudgeConfig
from domain.sandbox.slots import NoFreeSlot
from workers.base import job_task


def judge_config(settings=None) -> JudgeConfig:
    """The sandbox settings as the judge takes them (the platform's unless given)."""
    settings = settings or celeryconfig.settings
    return JudgeConfig(work_dir=Path(settings.sandbox_work_dir), base_uid=settings.sandbox_uid_base,
                       slots=settings.sandbox_slots, slot_wait_seconds=settings.sandbox_slot_wait_seconds,
                       max_processes=settings.sandbox_max_processes,
                       max_output_bytes=settings.sandbox_max_output_bytes,
                       max_file_bytes=settings.sandbox_max_file_bytes, tmp_inodes=settings.sandbox_tmp_inodes,
                       compile_seconds=settings.sandbox_compile_seconds, wall_factor=settings.sandbox_wall_factor,
                       cgroups=settings.sandbox_cgroups, bwrap=settings.sandbox_bwrap)


def _sweep(settings) -> None:
    """Boxes left by a worker killed mid-case: at a worker process's start, then every 10 minutes."""
    config = judge_config(settings)
    judge.sweep_now(config, older_than=judge.longest_run_seconds(config, int(settings.sandbox_time_limit * 1000)))


@signals.worker_process_init.connect
def _process_init(**_kw):
    # (the process becomes a child subreaper when it starts its first sandbox: see sweep.py)
    _sweep(celeryconfig.settings)


@job_task("evaluate", transient=(SandboxUnavailable, NoFreeSlot))
def evaluate(ctx, payload):
    settings = ctx.settings
    _sweep(settings)
    return flow.run(payload, job_id=ctx.job_id, uow=ctx.uow, emit=ctx.emit, config=judge_config(settings),
                    max_time_ms=int(settings.sandbox_time_limit * 1000), max_memory_mb=settings.sandbox_memory_mb,
                    control=ctx)
