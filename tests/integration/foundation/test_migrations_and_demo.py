"""One linear Alembic history that builds the models' schema on PostgreSQL and SQLite,
and the README's first command on the embedded defaults."""
from __future__ import annotations

import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

import domain.models  # noqa: F401
from cli.services import ROOT, migrate
from domain.db import Base
from domain.jobs.kinds import FAMILIES
from tests.support import sessions


def test_one_head():
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    heads = ScriptDirectory.from_config(cfg).get_heads()
    assert len(heads) == 1, f"Alembic history has several heads: {heads}"


def _diff(url: str) -> list:
    engine = create_engine(url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, Base.metadata)


def test_migrations_match_the_models_on_postgresql(database):
    # the session database was built by `alembic upgrade head`
    assert _diff(database.url) == []


def test_migrations_match_the_models_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate(url)
    assert _diff(url) == []


def test_demo_runs_every_family_end_to_end_on_embedded_defaults(tmp_path, redis_server):
    # Given a fresh folder and only the embedded defaults (SQLite, local storage)
    # (a Redis database number of its own, so the shared test worker never takes its jobs)
    # (and this session's sandbox uids and folder: other sessions' sandbox runs are the host's too)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "COURSEWORK_REDIS_URL": redis_server.url.rsplit("/", 1)[0] + "/11", **sessions.env()}
    # When the whole demo runs, as `bash bin/demo` runs it
    out = subprocess.run([sys.executable, "-m", "cli.main", "demo"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    # Then it migrated, started a worker and intake, and every family's jobs succeeded
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ping             succeeded" in out.stdout
    families = [f for f in FAMILIES if f != "ping"]
    missing = [f for f in families if f"\n- {f}\n" not in out.stdout]
    assert not missing, f"the demo ran no step for {missing}:\n{out.stdout}"
    assert "FAILED" not in out.stdout, out.stdout
    assert "all families succeeded" in out.stdout
    assert (tmp_path / ".coursework" / "demo" / "coursework.db").exists()
