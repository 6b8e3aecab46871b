"""The samples folder of a worker's processes (prometheus_client multiprocess mode). Apart from
``workers.metrics`` because it must run before prometheus_client is first imported."""
from __future__ import annotations

import os
import shutil
import tempfile


def prepare() -> str:
    folder = tempfile.mkdtemp(prefix="cw-worker-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    return folder


def cleanup(folder: str) -> None:
    shutil.rmtree(folder, ignore_errors=True)
