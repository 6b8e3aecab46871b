"""Production mode refuses each default; ``config --check`` lists them; secrets are masked."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from celeryconfig import Settings
from domain.core import production, redact
from domain.certificates.signing import SigningKey

ROOT = Path(__file__).resolve().parents[3]
STRONG = "s" * 40


@pytest.fixture
def key_file(tmp_path) -> str:
    path = tmp_path / "cert.pem"
    path.write_bytes(SigningKey.generate().pem())
    return str(path)


def good(key_file: str, **over) -> Settings:
    values = dict(env="production", signing_secret=STRONG, certificate_key_file=key_file,
                  flower_basic_auth="ops:long-random-password", public_base_url="https://learn.example")
    values.update(over)
    return Settings(**values)


def test_good_production_settings_have_no_problem(key_file):
    assert production.problems(good(key_file)) == []
    production.refuse_to_start(good(key_file), "intake")    # returns


@pytest.mark.parametrize("over,setting", [
    ({"signing_secret": Settings.model_fields["signing_secret"].default}, "COURSEWORK_SIGNING_SECRET"),
    ({"signing_secret": "short-but-not-default"}, "COURSEWORK_SIGNING_SECRET"),
    ({"certificate_key_file": None}, "COURSEWORK_CERTIFICATE_KEY_FILE"),
    ({"certificate_key_file": "/nonexistent/cert.pem"}, "COURSEWORK_CERTIFICATE_KEY_FILE"),
    ({"flower_basic_auth": "admin:admin"}, "COURSEWORK_FLOWER_BASIC_AUTH"),
    ({"flower_basic_auth": ""}, "COURSEWORK_FLOWER_BASIC_AUTH"),
    ({"flower_basic_auth": "admin:"}, "COURSEWORK_FLOWER_BASIC_AUTH"),
    ({"public_base_url": "http://learn.example"}, "COURSEWORK_PUBLIC_BASE_URL"),
    ({"signing_previous_secret": STRONG + "old"}, "COURSEWORK_SIGNING_PREVIOUS_UNTIL"),
])
def test_each_default_or_weak_setting_is_refused(key_file, over, setting, capsys):
    s = good(key_file, **over)
    found = production.problems(s)
    assert len(found) == 1 and setting in found[0], found
    with pytest.raises(SystemExit) as exc:
        production.refuse_to_start(s, "worker")
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and setting in lines[0] and "refusing to start" in lines[0]
    assert production.problems(good(key_file, env="development", **over)) == found
    production.refuse_to_start(good(key_file, env="development", **over), "worker")   # development starts


def _coursework(*args: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("COURSEWORK_")}
    full.update({"PYTHONPATH": str(ROOT), "COURSEWORK_DATABASE_URL": "sqlite://",
                 "COURSEWORK_REDIS_URL": "redis://127.0.0.1:1/0", **env})
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=full, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("process", ["intake", "worker", "beat", "flower", "relay"])
def test_every_process_refuses_to_start_in_production_with_defaults(process):
    r = _coursework(process, COURSEWORK_ENV="production")
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines and all(ln.startswith(f"coursework {process}: refusing to start in production: COURSEWORK_")
                         for ln in lines), r.stderr
    assert any("COURSEWORK_SIGNING_SECRET" in ln for ln in lines)


def test_config_check_lists_every_problem_and_config_masks_secrets():
    env = dict(COURSEWORK_ENV="production", COURSEWORK_DATABASE_URL="postgresql+psycopg://app:pg-pass-123@db/cw",
               COURSEWORK_REDIS_URL="redis://:redis-pass-456@cache:6379/0", COURSEWORK_SMTP_PASSWORD="smtp-pass-789",
               COURSEWORK_FLOWER_BASIC_AUTH="ops:flower-pass-000")
    r = _coursework("config", "--check", **env)
    assert r.returncode == 1
    assert {"COURSEWORK_SIGNING_SECRET", "COURSEWORK_CERTIFICATE_KEY_FILE", "COURSEWORK_PUBLIC_BASE_URL"} <= {
        ln.split()[0] for ln in r.stdout.splitlines()}
    shown = _coursework("config", **env)
    assert shown.returncode == 0
    for secret in ("pg-pass-123", "redis-pass-456", "smtp-pass-789", "flower-pass-000", "dev-only-change-me"):
        assert secret not in shown.stdout
    assert "COURSEWORK_DATABASE_URL=postgresql+psycopg://app:***@db/cw" in shown.stdout


def test_log_lines_mask_url_passwords_and_credential_values():
    settings = Settings(database_url="postgresql+psycopg://app:pg-pass-123@db/cw", smtp_password="smtp-pass-789")
    formatter = redact.RedactingFormatter(logging.Formatter("%(message)s"), redact.secret_values(settings))
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "cannot reach %s (login with %s), also amqp://u:p4ss@mq//",
                               (settings.database_url, "smtp-pass-789"),
                               None)
    line = formatter.format(record)
    assert "pg-pass-123" not in line and "smtp-pass-789" not in line and "p4ss" not in line, line
    assert "postgresql+psycopg://app:***@db/cw" in line


def test_mask_url_keeps_everything_but_the_password():
    assert redact.mask_url("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"
    assert redact.mask_url("https://h/x?y=1") == "https://h/x?y=1"
    assert redact.mask_value("sendgrid_api_key", "SG.abc") == "***"
    assert redact.mask_value("sendgrid_api_key", None) is None
