"""Hostile programs in the real sandbox: each is contained and gets the right verdict, and
nothing it started outlives the run. The last test proves a normal submission still works."""
from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.integration.sandbox.support import sandbox_processes

# the checkout these tests run from: its files exist on the host, and must not inside the sandbox
CHECKOUT = Path(__file__).resolve().parents[3]
CONFIG = CHECKOUT / "celeryconfig.py"


def _host_has(*paths: Path) -> None:
    """The precondition of an 'invisible inside' test: the file is really there outside."""
    for path in paths:
        assert path.is_file(), f"{path} should exist on the host for this test to mean anything"


@pytest.fixture(autouse=True)
def no_leftovers():
    yield
    # whatever the program started is gone once the judge returns
    assert sandbox_processes() == []


def test_fork_bomb_is_stopped_by_the_process_limit(judge):
    result = judge("import os\nwhile True:\n    os.fork()\n")
    assert result.verdict in ("RE", "TLE")


def test_fork_bomb_in_c_cannot_exceed_the_process_limit(judge):
    code = ("#include <unistd.h>\nint main(){for(int i=0;i<1000;i++) if(fork()==0){pause();}"
            " return 0;}")
    # the parent keeps forking until the limit refuses; children pause until the namespace dies
    result = judge(code, language="c")
    assert result.verdict in ("AC", "WA", "RE", "TLE")   # contained: what matters is the cleanup below
    assert sandbox_processes() == []


def test_infinite_loop_gets_time_limit_exceeded(judge):
    result = judge("while True:\n    pass\n", time_limit_ms=500)
    assert result.verdict == "TLE"
    assert result.cases[0].time_ms >= 500   # CPU time, or wall time when the clock stopped it


def test_allocating_without_end_gets_memory_limit_exceeded(judge):
    result = judge("a = []\nwhile True:\n    a.append(bytearray(1 << 20))\n", memory_limit_mb=64)
    assert result.verdict == "MLE"


def test_allocating_without_end_in_c_gets_memory_limit_exceeded(judge):
    code = ("#include <stdlib.h>\n#include <string.h>\nint main(){for(;;){char*p=malloc(1<<20); if(!p) return 3;"
            " memset(p,1,1<<20);}}")
    result = judge(code, language="c", memory_limit_mb=32)
    assert result.verdict == "MLE"


def test_writing_a_huge_file_is_cut_at_the_file_size_limit(judge, judge_config):
    code = ("import os\nf = open('/tmp/huge', 'wb')\nchunk = b'x' * (1 << 20)\n"
            "for _ in range(1000):\n    f.write(chunk)\n    f.flush()\n")
    result = judge(code)
    # Python turns SIGXFSZ into an exception: still the same verdict as in C
    assert result.verdict == "OLE", result.feedback
    # the box folder on the host is gone, and /tmp was a private tmpfs
    assert [p.name for p in judge_config.work_dir.iterdir() if p.name.startswith("box-")] == []


def test_writing_a_huge_file_in_c_gets_output_limit_exceeded(judge):
    code = ("#include <stdio.h>\nint main(){FILE*f=fopen(\"/tmp/huge\",\"w\"); char b[65536]={1};"
            " for(int i=0;i<10000;i++) fwrite(b,1,sizeof b,f); return 0;}")
    assert judge(code, language="c").verdict == "OLE"    # SIGXFSZ


def test_printing_without_end_gets_output_limit_exceeded(judge):
    result = judge("while True:\n    print('spam' * 100)\n", time_limit_ms=5000)
    assert result.verdict == "OLE"


def test_network_is_unreachable_even_on_loopback(judge):
    # Given a real TCP server listening on the host's loopback (like Redis or PostgreSQL)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    socket.create_connection(("127.0.0.1", port), timeout=2).close()   # reachable from the host
    targets = [("127.0.0.1", port), ("127.0.0.1", 6379), ("127.0.0.1", 5432), ("169.254.169.254", 80),
               ("1.1.1.1", 53)]
    code = f"""
import socket
for host, port in {targets!r}:
    try:
        socket.create_connection((host, port), timeout=1).close()
        print("OPEN", host, port)
    except OSError:
        print("blocked")
"""
    try:
        # When the program tries to connect to each of them
        result = judge(code, expected="blocked\n" * len(targets))
    finally:
        server.close()
    # Then every connection fails
    assert result.verdict == "AC", result.feedback


def test_symlink_outside_the_box_leads_nowhere(judge):
    _host_has(CONFIG, Path("/etc/passwd"))
    code = f"""
import os
for target in [{str(CONFIG)!r}, "/etc/passwd", "/root/.bashrc", "/proc/1/root/etc/hostname"]:
    os.symlink(target, "/tmp/link")
    try:
        open("/tmp/link").read()
        print("READ", target)
    except OSError:
        print("no")
    os.unlink("/tmp/link")
"""
    result = judge(code, expected="no\nno\nno\nno\n")
    assert result.verdict == "AC", result.feedback


def test_proc_shows_only_the_sandbox_own_processes(judge):
    code = "import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
    result = judge(code)
    pids = eval(result.cases[0].output)   # our own test's output: a list of ints
    assert pids and max(pids) < 10
    assert os.getpid() not in pids or os.getpid() < 10


def test_worker_environment_secrets_are_invisible(judge, monkeypatch):
    # Given a secret in the worker's environment
    secret = "sk-test-do-not-leak-4242"
    monkeypatch.setenv("COURSEWORK_SIGNING_SECRET", secret)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    # When the program dumps its environment and every /proc/*/environ it can open
    code = """
import os
print(dict(os.environ))
for p in os.listdir('/proc'):
    if p.isdigit():
        try:
            print(open(f'/proc/{p}/environ', 'rb').read())
        except OSError as exc:
            print(p, exc)
"""
    result = judge(code, expected="irrelevant")
    # Then the secret is nowhere in what it saw
    output = result.cases[0].output
    assert "PATH" in output
    assert secret not in output and "COURSEWORK" not in output and "AWS_" not in output


def test_project_config_files_cannot_be_read(judge):
    _host_has(CONFIG, Path("/etc/passwd"))
    code = f"""
for path in [{str(CONFIG)!r}, {str(CHECKOUT / ".env")!r}, "/etc/shadow", "/etc/passwd", "/root", "/home"]:
    try:
        open(path).read()
        print("READ", path)
    except OSError:
        print("no")
"""
    result = judge(code, expected="no\n" * 6)
    assert result.verdict == "AC", result.feedback


def test_including_a_project_file_at_compile_time_fails(judge):
    _host_has(CONFIG)
    result = judge(f'#include "{CONFIG}"\nint main(){{return 0;}}', language="c")
    assert result.verdict == "CE"
    assert "No such file" in result.cases[0].detail + result.feedback
    assert "Settings" not in result.feedback


def test_no_capabilities_no_new_user_namespace_no_mount(judge):
    code = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
print([l.split()[1] for l in open('/proc/self/status') if l.startswith(('CapEff', 'CapBnd', 'NoNewPrivs'))])
print('userns', libc.unshare(0x10000000))                     # CLONE_NEWUSER
print('mount', libc.mount(b'none', b'/tmp', b'tmpfs', 0, None))
print('remount', libc.mount(None, b'/box', None, 0x20 | 0x1000, None))   # MS_REMOUNT | MS_BIND, read-write
"""
    result = judge(code, expected="['0000000000000000', '0000000000000000', '1']\nuserns -1\nmount -1\nremount -1\n")
    assert result.verdict == "AC", result.feedback


def test_killing_parent_and_other_processes_has_no_effect_outside(judge):
    # Given a process on the host that the program will try to kill
    victim = subprocess.Popen(["sleep", "30"])
    try:
        code = f"""
import os, signal
for pid in [os.getppid(), 1, {victim.pid}, {os.getpid()}, -1]:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
print("done")
"""
        # When the program signals its parent, PID 1, the victim, the worker and everyone (-1)
        judge(code, expected="done\n")
        # Then the victim and this (worker) process are alive
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


def test_daemon_left_behind_is_killed_when_the_program_exits(judge):
    code = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.close(1); os.close(2)
        time.sleep(60)
    os._exit(0)
print("bye")
"""
    result = judge(code, expected="bye\n")
    assert result.verdict == "AC", result.feedback
    # the autouse fixture checks no sandbox process is left on the host


def test_sleeping_forever_is_stopped_by_the_wall_clock(judge):
    result = judge("import time\ntime.sleep(10**6)\n", time_limit_ms=500)
    assert result.verdict == "TLE"


def test_a_normal_submission_still_works_afterwards(judge):
    result = judge("print(sum(map(int, input().split())))\n", stdin="2 40\n", expected="42\n")
    assert result.verdict == "AC"
    assert result.score == 100
