"""Several test cases of one submission: one bwrap runs them all, each case in namespaces of
its own (runner.c). Nothing a case does reaches the next case, and a case that had to be killed
(or that filled the process limit) does not spoil the next one."""
from __future__ import annotations

from domain.jobs.errors import JobCancelled
from domain.sandbox.judge import CaseSpec, evaluate

from tests.integration.sandbox.support import sandbox_processes
from tests.support.control import RecordingControl

import pytest


@pytest.fixture(autouse=True)
def no_leftovers():
    yield
    assert sandbox_processes() == []


def run(judge_config, code: str, cases: list[CaseSpec], language: str = "python", **kw):
    kw.setdefault("time_limit_ms", 3000)
    kw.setdefault("memory_limit_mb", 64)
    return evaluate(language, code, cases, config=judge_config, **kw)


def test_files_in_tmp_do_not_reach_the_next_case(judge_config):
    # Given a program that remembers its input in /tmp and prints what an earlier case left there
    code = """
import os, glob
left = sorted(open(p).read() for p in glob.glob('/tmp/*') + glob.glob('/dev/shm/*'))
print(left)
line = input()
for place in ('/tmp', '/dev/shm'):
    try:
        with open(os.path.join(place, 'stash-' + line), 'w') as f:
            f.write(line)
    except OSError:
        pass
"""
    # When three cases run one after the other
    cases = [CaseSpec(stdin=f"secret{i}\n", expected="[]\n", hidden=i == 0) for i in range(3)]
    result = run(judge_config, code, cases)
    # Then every case found a clean /tmp and /dev/shm
    assert [c.verdict for c in result.cases] == ["AC", "AC", "AC"], result.feedback


def test_ipc_objects_sockets_and_loopback_counters_do_not_reach_the_next_case(judge_config):
    # Given a program that, on a hidden case, leaves a SysV message queue, a listening abstract
    # socket and loopback traffic behind, and on the next case looks for any of them
    code = """
import ctypes, socket
libc = ctypes.CDLL(None, use_errno=True)
line = input()
if line == 'leave':
    libc.msgget(4242, 0o1666)   # IPC_CREAT | 0666
    s = socket.socket(socket.AF_UNIX); s.bind('\\0stash'); s.listen()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(500):
        u.sendto(b'x', ('127.0.0.1', 9))
    import os
    if os.fork() == 0:   # a daemon keeping the socket open
        import time; time.sleep(60)
    print('left')
else:
    found = [libc.msgget(4242, 0) >= 0]
    try:
        socket.socket(socket.AF_UNIX).connect('\\0stash'); found.append(True)
    except OSError:
        found.append(False)
    lo = [l.split() for l in open('/proc/net/dev') if l.strip().startswith('lo:')][0]
    found.append(int(lo[2]) > 0)   # packets received on loopback
    print(found)
"""
    cases = [CaseSpec("leave\n", "left\n", hidden=True), CaseSpec("look\n", "[False, False, False]\n")]
    # When both run one after the other
    result = run(judge_config, code, cases)
    # Then the second case found none of them
    assert [c.verdict for c in result.cases] == ["AC", "AC"], result.feedback


def test_a_case_killed_by_the_wall_clock_does_not_spoil_the_next(judge_config):
    # Given a program that sleeps forever on one input and answers on the others
    code = "import time\nline = input()\nif line == 'sleep':\n    time.sleep(10**6)\nprint(line)\n"
    cases = [CaseSpec("a\n", "a\n"), CaseSpec("sleep\n", "x\n"), CaseSpec("b\n", "b\n"), CaseSpec("c\n", "c\n")]
    # When it is judged
    result = run(judge_config, code, cases, time_limit_ms=300)
    # Then only the sleeping case is TLE: the sandbox, killed with it, was set up again for the next
    assert [c.verdict for c in result.cases] == ["AC", "TLE", "AC", "AC"], result.feedback


def test_an_output_flood_does_not_spoil_the_next_case(judge_config):
    code = "line = input()\nwhile line == 'flood':\n    print('spam' * 100)\nprint(line)\n"
    cases = [CaseSpec("flood\n", "x\n"), CaseSpec("b\n", "b\n")]
    result = run(judge_config, code, cases)
    assert [c.verdict for c in result.cases] == ["OLE", "AC"], result.feedback


def test_a_fork_bomb_does_not_spoil_the_next_case(judge_config):
    # Given a C program that fills the process limit on one input (children wait until the
    # case's PID namespace dies), under the slot uid the next cases use too
    code = ("#include <stdio.h>\n#include <unistd.h>\nint main(){int n=0; if(scanf(\"%d\",&n)!=1) return 2;"
            " if(n==0){for(int i=0;i<1000;i++) if(fork()==0){pause();}} printf(\"%d\\n\", n); return 0;}")
    cases = [CaseSpec("0\n", "0\n"), CaseSpec("7\n", "7\n"), CaseSpec("8\n", "8\n")]
    result = run(judge_config, code, cases, language="c")
    # Then the cases after it run normally
    assert [c.verdict for c in result.cases][1:] == ["AC", "AC"], result.feedback


def test_a_cancelled_evaluation_leaves_no_sandbox_waiting(judge_config):
    # Given an evaluation cancelled after its first case (the second case's sandbox is already set up)
    control = RecordingControl(cancel_when=lambda pct, msg: True)
    with pytest.raises(JobCancelled):
        run(judge_config, "print(input())\n", [CaseSpec(f"{i}\n", f"{i}\n") for i in range(4)], control=control)
    # Then it stops there, and the autouse fixture finds no sandbox process left on the host
    assert control.messages == ["test 1/4: AC"]
