"""The HTTP process imports no worker: building the Celery app and loading the task modules is
the workers' business (intake publishes through ``app.send_task`` only when it sends)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import json, sys
import intake.app
import celery._state
print(json.dumps({"modules": sorted(sys.modules), "apps": len(list(celery._state._apps))}))
"""


def test_importing_intake_builds_no_celery_app_and_loads_no_task():
    # Given a fresh interpreter (this test process may have imported workers already)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    modules = seen["modules"]
    # Then the probe really loaded the intake (its routes included)
    assert "intake.app" in modules and "intake.routes.video" in modules and "intake.routes.certificates" in modules
    # And no worker module, no task module and no Celery app came with it
    assert "workers.app" not in modules and "workers.base" not in modules
    assert not [m for m in modules if m == "tasks" or m.startswith("tasks.")]
    assert seen["apps"] == 0
    assert "domain.storage" in modules      # the storage the routes use comes from the domain
