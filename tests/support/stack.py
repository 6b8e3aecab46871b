"""A real stack for tests: its own PostgreSQL database, its own Redis, an S3 server on
loopback, worker and intake processes. Services that cannot be reached fail with a message
that says how to start them; nothing is skipped silently."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from domain import registry
from cli.services import Child, RedisServer, coursework_argv, free_port, migrate, wait_http, wait_worker_ready

ROOT = Path(__file__).resolve().parents[2]
# one folder per pytest-xdist session: workers of the same name in two sessions log apart
LOG_DIR = ROOT / ".coursework" / "test-logs" / os.environ.get("PYTEST_XDIST_WORKER", "main")
PG_ADMIN = os.environ.get("COURSEWORK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
HOW_TO_START_PG = ("PostgreSQL is not answering at {url}: start it with "
                   "'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start' "
                   "(or 'bash .ci/run' which installs and starts it), or point COURSEWORK_TEST_PG at a server")
# settings every test process and child shares (short leases so worker-loss tests are quick)
TEST_SETTINGS = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
    "COURSEWORK_STORAGE_URL": "s3://coursework-test",
    "COURSEWORK_LEASE_SECONDS": "6",
    "COURSEWORK_HEARTBEAT_SECONDS": "1",
    "COURSEWORK_RELAY_INTERVAL": "0.3",
    "COURSEWORK_RETRY_BACKOFF_MAX": "2",
    "COURSEWORK_RATE_LIMIT_PER_MINUTE": "100000",
    "COURSEWORK_ANONYMOUS_RATE_PER_MINUTE": "100000",
    "COURSEWORK_VERIFY_RATE_PER_MINUTE": "100000",
    # few idle connections per process (a busy one still opens up to 2 + 20): several sessions at
    # once, each with its workers, intakes and isolated stacks, share one server's max_connections
    "COURSEWORK_DB_POOL_SIZE": "2",
}
ALL_QUEUES = ",".join(registry.ALL_QUEUES)


def sqlalchemy_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+psycopg://", 1)


class Database:
    def __init__(self, name: str | None = None):
        self.name = name or f"cw_test_{secrets.token_hex(4)}"
        base = PG_ADMIN.rsplit("/", 1)[0]
        self.dsn = f"{base}/{self.name}"
        self.url = sqlalchemy_url(self.dsn)
        self.created = False

    def create(self) -> "Database":
        try:
            with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
        except psycopg.OperationalError as exc:
            pytest.fail(HOW_TO_START_PG.format(url=PG_ADMIN) + f"\n({exc})", pytrace=False)
        self.created = True
        migrate(self.url)
        return self

    def drop(self) -> None:
        if not self.created:
            return
        try:
            with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        except psycopg.Error:
            pass


class S3Server:
    """moto in server mode on loopback: a real HTTP S3 API, not an in-process mock."""

    def __init__(self, port: int):
        self.port = port
        self.child: Child | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "S3Server":
        moto = Path(sys.executable).with_name("moto_server")
        argv = [str(moto)] if moto.exists() else [sys.executable, "-m", "moto.server"]
        self.child = Child([*argv, "-H", "127.0.0.1", "-p", str(self.port)], dict(os.environ),
                           LOG_DIR / f"moto-{self.port}.log").start()
        wait_http(f"{self.endpoint}/moto-api/", timeout=30, child=self.child)
        return self

    def stop(self) -> None:
        if self.child:
            self.child.stop()


class Stack:
    """Env + processes for one isolated platform instance."""

    def __init__(self, db: Database, redis_url: str, s3_endpoint: str, bucket: str = "coursework-test",
                 extra_env: dict | None = None):
        self.db, self.redis_url, self.s3_endpoint, self.bucket = db, redis_url, s3_endpoint, bucket
        self.children: list[Child] = []
        self.intake_url: str | None = None
        self.extra_env = extra_env or {}

    @property
    def db_url(self) -> str:
        return self.db.url

    def env(self, **overrides: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(TEST_SETTINGS)
        env.update({
            "COURSEWORK_DATABASE_URL": self.db.url,
            "COURSEWORK_REDIS_URL": self.redis_url,
            "COURSEWORK_STORAGE_URL": f"s3://{self.bucket}",
            "COURSEWORK_S3_ENDPOINT_URL": self.s3_endpoint,
            "COURSEWORK_LOG_LEVEL": "INFO",
            "PYTHONPATH": str(ROOT),
        })
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def start_worker(self, queues: str = ALL_QUEUES, concurrency: int = 2, name: str | None = None,
                     pool: str = "prefork", **env: str) -> Child:
        name = name or f"w{len(self.children)}-{secrets.token_hex(3)}"
        child = Child(coursework_argv("worker", "-Q", queues, "-c", str(concurrency), "-P", pool,
                                      "-n", f"{name}@%h", "--fast-start"),
                      self.env(**env), LOG_DIR / f"worker-{name}.log").start()
        self.children.append(child)
        wait_worker_ready(child)
        return child

    def start_intake(self, **env: str) -> str:
        port = free_port()
        env.setdefault("COURSEWORK_PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")   # links it mints point at it
        child = Child(coursework_argv("intake", "--port", str(port)), self.env(**env),
                      LOG_DIR / f"intake-{port}.log").start()
        self.children.append(child)
        wait_http(f"http://127.0.0.1:{port}/healthz", child=child)
        url = f"http://127.0.0.1:{port}"
        if self.intake_url is None:     # the stack's own intake is the first; later ones (a test's
            self.intake_url = url       # rate-limited or re-keyed intake) never replace it
        return url

    def create_key(self, scopes: str = "enqueue,read,operate", name: str = "test") -> str:
        out = subprocess.run(coursework_argv("keys", "create", "--name", name, "--scopes", scopes),
                             env=self.env(), capture_output=True, text=True, check=True, cwd=ROOT)
        import json

        return json.loads(out.stdout)["key"]

    def client(self, key: str) -> httpx.Client:
        assert self.intake_url, "start_intake() first"
        return httpx.Client(base_url=self.intake_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def stop(self) -> None:
        for child in reversed(self.children):     # all asked to stop at once, then each waited for
            if child.alive():
                child.signal_group(signal.SIGTERM)
        for child in reversed(self.children):
            child.stop(timeout=3)
        self.children.clear()


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1, message: str = "condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message} (last value: {last!r})")


def consumed_queues(broker_url: str) -> dict[str, set[str]]:
    """Each live worker's queues, as Celery's own inspect reports them (by worker name up to its first "-")."""
    from celery import Celery

    app = Celery(broker=broker_url)
    try:
        replies = app.control.inspect(timeout=2.0).active_queues() or {}
    finally:
        app.close()
    return {name.split("-")[0]: {q["name"] for q in queues} for name, queues in replies.items()}


def private_redis() -> RedisServer:
    try:
        return RedisServer().start()
    except Exception as exc:  # pragma: no cover - message path
        pytest.fail(f"could not start a private redis-server ({exc}); install it with "
                    "'apt-get install redis-server' or run 'bash .ci/run'", pytrace=False)
