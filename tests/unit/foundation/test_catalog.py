import pytest

from domain.jobs.kinds import catalog
from workers.base import JobTask, job_task


def test_every_kind_routes_to_a_declared_queue():
    from celeryconfig import task_queues

    queues = {q.name for q in task_queues}
    for kind in catalog().kinds.values():
        assert kind.queue in queues, kind
        assert kind.task.startswith("tasks."), kind


def test_every_kind_has_a_registered_task():
    from workers.app import app

    app.loader.import_default_modules()
    for mod in app.conf.include:
        __import__(mod)
    for kind in catalog().kinds.values():
        assert kind.task in app.tasks, f"no task registered for {kind.name} ({kind.task})"
        assert isinstance(app.tasks[kind.task], JobTask)


def test_job_task_refuses_unknown_options():
    with pytest.raises(TypeError):
        job_task("ping", ignore_results=True)


def test_job_task_refuses_unknown_kind():
    with pytest.raises(LookupError):
        job_task("no-such-kind")
