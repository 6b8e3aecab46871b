"""Local services for the demo and the tests: migrations, a Redis we can start, free ports,
child processes that are always stopped (process groups)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent


def migrate(url: str, revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, revision)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_answers(url: str, timeout: float = 1.0) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping())
    except redis.RedisError:
        return False


def ensure_redis_binary() -> str:
    path = shutil.which("redis-server")
    if path:
        return path
    print("redis-server not found; installing it with apt-get (Debian package redis-server)...", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-qq"], check=False)
    subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    path = shutil.which("redis-server")
    if not path:
        raise RuntimeError("could not install redis-server: run 'apt-get install redis-server'")
    return path


class RedisServer:
    """A private redis-server on a free loopback port, in its own temp dir; stop() ends it.
    ``persistent``: an append-only file (fsync every second), kept across ``restart()``."""

    def __init__(self, port: int | None = None, persistent: bool = False):
        self.port = port or free_port()
        self.persistent = persistent
        self.dir = tempfile.mkdtemp(prefix="cw-redis-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        binary = ensure_redis_binary()
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes" if self.persistent else "no", "--appendfsync", "everysec",
             "--dir", self.dir, "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 10
        while time.time() < deadline:
            if redis_answers(self.url, 0.2):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def halt(self, sig: int = signal.SIGTERM) -> None:
        """End the server process (SIGTERM: a clean shutdown; SIGKILL: a crash), keeping its
        data folder for a ``start()`` on the same port."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def restart(self, sig: int = signal.SIGTERM) -> "RedisServer":
        self.halt(sig)
        return self.start()

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.dir, ignore_errors=True)


def _terminate_with_parent() -> None:
    """In the child, before exec: SIGTERM when the starting process dies (even by SIGKILL),
    so a killed demo or test run leaves no orphaned worker or intake behind (Linux only)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except OSError:
        pass


class Child:
    """A child process in its own process group; ``stop()`` ends the whole group."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path, cwd: Path | None = None):
        self.argv, self.env, self.log_path = argv, env, log_path
        self.cwd = cwd or ROOT
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Child":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self._log_start = self._log.tell()     # a reused log file: what this run wrote starts here
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=_terminate_with_parent)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.signal_group(signal.SIGKILL)   # children a graceful stop left behind
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()

    def log_text(self) -> str:
        """What this process wrote to its log (not an earlier run's lines in the same file)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(getattr(self, "_log_start", 0))
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""


def coursework_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def wait_http(url: str, timeout: float = 30.0, child: Child | None = None) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        if child is not None and not child.alive():
            raise RuntimeError(f"process exited early:\n{child.log_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def wait_worker_ready(child: Child, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not child.alive():
            raise RuntimeError(f"worker exited early:\n{child.log_text()[-3000:]}")
        if " ready." in child.log_text():
            return
        time.sleep(0.1)
    raise TimeoutError(f"worker not ready within {timeout}s:\n{child.log_text()[-3000:]}")
