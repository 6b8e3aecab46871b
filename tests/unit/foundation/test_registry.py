"""One registry of families (domain/registry.py): everything that lists families is derived from
it, and each family's parts are where the registry says."""
import importlib
import importlib.util

from domain import registry
from domain.jobs.kinds import catalog


def test_every_family_has_its_kinds_and_tasks_and_its_kinds_use_its_queue():
    kinds = catalog().kinds.values()
    for name, family in registry.FAMILIES.items():
        module = importlib.import_module(f"domain.{name}.kinds")
        assert importlib.util.find_spec(f"tasks.{name}") is not None, f"no tasks/{name}.py"
        for kind in getattr(module, "KINDS", []):
            assert kind.queue == family.queue, f"{kind.name} goes to {kind.queue}, its family to {family.queue}"
    assert {k.queue for k in kinds} <= set(registry.ALL_QUEUES)


def test_queues_routes_task_modules_and_routers_come_from_the_registry():
    import celeryconfig
    from intake.routes import MODULES
    from workers.app import app

    assert [q.name for q in celeryconfig.task_queues] == list(registry.ALL_QUEUES)
    for name, family in registry.FAMILIES.items():
        assert celeryconfig.task_routes[f"tasks.{name}.*"] == {"queue": family.queue}
        assert f"tasks.{name}" in app.conf.include
        has_routes = importlib.util.find_spec(f"intake.routes.{name}") is not None
        assert (name in MODULES) == has_routes
