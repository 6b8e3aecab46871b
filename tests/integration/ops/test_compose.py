"""docker-compose.yml: valid for the compose tool, every queue consumed, every command a real
`coursework` invocation, every COURSEWORK_* variable a real setting."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from celeryconfig import Settings
from domain.registry import CONTROL_QUEUE, CPU_HEAVY_QUEUES, FAMILY_QUEUES
from cli.main import build_parser

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"


def _compose_cli() -> list[str] | None:
    """`docker compose` (v2 plugin), else the standalone `docker-compose`, else None."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _coursework_services(compose: dict) -> dict[str, dict]:
    return {name: svc for name, svc in compose["services"].items() if svc.get("image", "").startswith("coursework")}


def _workers(compose: dict) -> dict[str, dict]:
    return {name: svc for name, svc in _coursework_services(compose).items() if svc["command"][0] == "worker"}


def test_compose_tool_accepts_the_file():
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no `docker compose` plugin and no `docker-compose` on this machine; "
                    "the YAML checks below still run")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEWORK_")}
    out = subprocess.run([*cli, "-f", str(COMPOSE), "config", "--quiet"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_every_queue_is_consumed_and_cpu_queues_use_prefork(compose):
    parser = build_parser()
    consumed: dict[str, str] = {}
    for name, svc in _workers(compose).items():
        args = parser.parse_args(svc["command"])
        for queue in args.queues.split(","):
            assert queue in (*FAMILY_QUEUES, CONTROL_QUEUE), f"{name} consumes unknown queue {queue!r}"
            consumed[queue] = name
            if queue in CPU_HEAVY_QUEUES:
                assert args.pool == "prefork", f"{name}: CPU-heavy queue {queue} on pool {args.pool}"
    assert set(consumed) == {*FAMILY_QUEUES, CONTROL_QUEUE}, consumed
    assert len(_workers(compose)) >= 2, "one worker service per queue group"


def test_every_command_parses_and_the_roles_are_all_there(compose):
    parser = build_parser()
    roles = {}
    for name, svc in _coursework_services(compose).items():
        roles.setdefault(parser.parse_args(svc["command"]).command, []).append(name)
    assert {"intake", "worker", "beat", "flower", "migrate"} <= set(roles), roles
    assert len(roles["beat"]) == 1
    assert compose["services"][roles["beat"][0]].get("deploy", {}).get("replicas", 1) == 1
    assert {"redis", "postgres"} <= set(compose["services"])


def test_env_names_are_real_settings_and_all_processes_share_broker_and_database(compose):
    known = {f"COURSEWORK_{name.upper()}" for name in Settings.model_fields}
    shared = set()
    for name, svc in _coursework_services(compose).items():
        env = svc["environment"]
        unknown = {k for k in env if k.startswith("COURSEWORK_")} - known
        assert not unknown, f"{name}: not settings (typo?): {sorted(unknown)}"
        shared.add((env["COURSEWORK_REDIS_URL"], env["COURSEWORK_DATABASE_URL"], env["COURSEWORK_STORAGE_URL"]))
    assert len(shared) == 1, shared
    flower = next(s for s in _coursework_services(compose).values() if s["command"][0] == "flower")
    assert ":" in flower["environment"]["COURSEWORK_FLOWER_BASIC_AUTH"]


def test_one_image_built_once_and_every_long_running_service_has_a_health_check(compose):
    built = [name for name, svc in compose["services"].items() if "build" in svc]
    assert len(built) == 1, f"the image is built by exactly one service, not {built}"
    images = {svc["image"] for svc in _coursework_services(compose).values()}
    assert images == {compose["services"][built[0]]["image"]}, images
    for name, svc in compose["services"].items():
        if svc.get("restart") == "no":          # one-shot (migrate): the others wait for it to complete
            continue
        check = svc.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"


def test_workload_classes_never_share_a_worker(compose):
    # a long transcode must not hold back a learner's verdict; bulk fan-out must not hold back the tutor
    parser = build_parser()
    groups = [set(parser.parse_args(svc["command"]).queues.split(",")) for svc in _workers(compose).values()]
    for alone in ("video", "sandbox", "tutor"):
        group = next(g for g in groups if alone in g)
        assert group == {alone}, f"{alone} shares a worker with {group - {alone}}"


def test_email_goes_to_the_mail_catcher_in_the_stack(compose):
    env = compose["x-coursework-env"]
    host = env["COURSEWORK_SMTP_HOST"].split(":-")[-1].rstrip("}")
    assert host in compose["services"], f"COURSEWORK_SMTP_HOST {host!r} is not a service of the stack"
    assert env["COURSEWORK_EMAIL_PROVIDER"].split(":-")[-1].rstrip("}") == "smtp"
