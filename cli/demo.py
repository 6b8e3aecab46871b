"""``coursework demo``: the main job end to end on the embedded defaults.

SQLite file + local-folder storage under ./.coursework/demo, a Redis (the configured one if
it answers, else a private redis-server it starts, installing it with apt when missing), a
worker and an intake as child processes. It enqueues real jobs of every family through the
HTTP intake, waits, prints their final states and results, and stops what it started.
"""
from __future__ import annotations

import importlib
import json
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from cli.services import (ROOT, Child, RedisServer, coursework_argv, free_port, migrate, redis_answers,
                          wait_http, wait_worker_ready)
from domain.jobs.kinds import FAMILIES
from intake.client import CourseworkClient

STATE = Path.cwd() / ".coursework" / "demo"


@dataclass
class DemoContext:
    """What a family's ``demo(d)`` gets: an intake client, the database, storage, a printer."""

    client: CourseworkClient
    db_url: str
    env: dict[str, str]
    state_dir: Path
    mail: "MailSink | None" = None
    lines: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        print(f"  {text}", flush=True)
        self.lines.append(text)

    def run(self, kind: str, payload: dict, timeout: float = 180.0) -> dict:
        job = self.client.enqueue(kind, payload)
        return self.client.wait(job["id"], timeout=timeout)

    def storage(self):
        from domain.storage import storage_from_url

        return storage_from_url(self.env["COURSEWORK_STORAGE_URL"], base_url=self.env["COURSEWORK_PUBLIC_BASE_URL"],
                                secret=self.env["COURSEWORK_SIGNING_SECRET"])


class MailSink:
    """A local SMTP server (aiosmtpd) that keeps what it receives: the demo's stand-in for an email
    provider, up for the whole demo so that every family's emails are delivered, none retried."""

    def __init__(self, port: int):
        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes, policy

        msg = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.extend((to, msg) for to in envelope.rcpt_tos)
        return "250 OK"

    def to(self, addresses: set[str]) -> list:
        """What arrived for these recipients only (other families send emails too)."""
        return [(to, msg) for to, msg in self.messages if to in addresses]


def _summary(job: dict) -> str:
    result = json.dumps(job.get("result") or job.get("error", {}).get("message"), default=str)
    return f"{job['kind']:<16} {job['state']:<13} attempts={job['attempts']}  {result[:160]}"


def run_demo(keep: bool = False, only: str | None = None) -> int:
    if STATE.exists():
        shutil.rmtree(STATE)
    STATE.mkdir(parents=True)
    db_url = f"sqlite:///{STATE / 'coursework.db'}"
    redis_url = os.environ.get("COURSEWORK_REDIS_URL", "redis://127.0.0.1:6379/0")
    own_redis = None
    if not redis_answers(redis_url):
        print(f"no Redis at {redis_url}: starting a private redis-server", flush=True)
        own_redis = RedisServer().start()
        redis_url = own_redis.url
    elif "COURSEWORK_REDIS_URL" not in os.environ:
        # a database number of its own on the shared server, so queues never mix with others
        redis_url = redis_url.rsplit("/", 1)[0] + f"/{random.randint(8, 15)}"
    port, smtp_port = free_port(), free_port()
    env = dict(os.environ)
    env.update({
        "COURSEWORK_DATABASE_URL": db_url,
        "COURSEWORK_REDIS_URL": redis_url,
        "COURSEWORK_STORAGE_URL": f"local://{STATE / 'storage'}",
        "COURSEWORK_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "COURSEWORK_SIGNING_SECRET": env.get("COURSEWORK_SIGNING_SECRET", "demo-secret"),
        "COURSEWORK_RELAY_INTERVAL": "0.5",
        "COURSEWORK_EMAIL_PROVIDER": "smtp",
        "COURSEWORK_SMTP_HOST": "127.0.0.1",
        "COURSEWORK_SMTP_PORT": str(smtp_port),
        "PYTHONPATH": str(ROOT),
    })
    os.environ.update(env)     # the demo's own in-process reads use the same settings
    children: list[Child] = []
    failures = 0
    mail = MailSink(smtp_port)
    mail.controller.start()
    try:
        print(f"1. migrating {db_url}", flush=True)
        migrate(db_url)
        from domain.db import unit_of_work
        from domain.jobs import keys

        with unit_of_work(db_url) as s:
            _, raw_key = keys.create(s, "demo", ["enqueue", "read", "operate"])
        print("2. starting a worker (all queues) and the intake API", flush=True)
        worker = Child(coursework_argv("worker", "-c", "2"), env, STATE / "worker.log").start()
        children.append(worker)
        intake = Child(coursework_argv("intake", "--port", str(port)), env, STATE / "intake.log").start()
        children.append(intake)
        wait_http(f"http://127.0.0.1:{port}/healthz", child=intake)
        wait_worker_ready(worker)
        client = CourseworkClient(f"http://127.0.0.1:{port}", raw_key, timeout=60)
        d = DemoContext(client=client, db_url=db_url, env=env, state_dir=STATE, mail=mail)
        print("3. enqueueing real jobs through the HTTP intake", flush=True)
        print("- ping", flush=True)
        job = d.run("ping", {"echo": "hello from the demo"})
        d.say(_summary(job))
        failures += job["state"] != "succeeded"
        wanted = set(only.split(",")) if only else None
        for family in FAMILIES:
            if family == "ping" or (wanted and family not in wanted):
                continue
            try:
                module = importlib.import_module(f"cli.families.{family}")
            except ModuleNotFoundError:
                continue
            fn: Callable | None = getattr(module, "demo", None)
            if fn is None:
                continue
            print(f"- {family}", flush=True)
            started = time.monotonic()
            try:
                ok = fn(d)
            except Exception as exc:  # one family failing must not hide the others
                d.say(f"FAILED: {type(exc).__name__}: {exc}")
                ok = False
            failures += ok is False
            d.say(f"({time.monotonic() - started:.1f}s)")
        print(f"4. done: {'all families succeeded' if not failures else f'{failures} family demo(s) failed'}")
        print(f"   state, logs and outputs: {STATE}")
        return 1 if failures else 0
    finally:
        for child in reversed(children):
            child.stop()
        mail.controller.stop()
        if own_redis:
            own_redis.stop()
        if not keep:
            shutil.rmtree(STATE / "tmp", ignore_errors=True)   # outputs and the SQLite file stay for inspection


def main() -> None:  # pragma: no cover
    sys.exit(run_demo())
