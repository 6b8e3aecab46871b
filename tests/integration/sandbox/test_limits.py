"""Limits on the whole process tree of a case, verdicts at the edge, one verdict per event in every
language, a bounded /tmp, hidden cases that reveal nothing. Each test runs twice: with the slot's
cgroup where this host allows one, and with the fallback (runner's own accounting of the tree)."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from domain.sandbox import cgroups
from domain.sandbox.judge import CaseSpec, evaluate
from tests.integration.sandbox.support import sandbox_processes


@pytest.fixture(params=["cgroup", "fallback"])
def config(request, judge_config):
    if request.param == "cgroup" and cgroups.tree(True).mode == "none":
        pytest.skip(f"no cgroup the worker may use on this host: {cgroups.tree(True).why}")
    # a wall clock far above the CPU limit: on a loaded machine CPU time, not wall time, decides
    cfg = dataclasses.replace(judge_config, cgroups=request.param == "cgroup", wall_factor=20.0)
    assert cgroups.tree(cfg.cgroups).mode != "none" or request.param == "fallback"
    yield cfg
    assert sandbox_processes() == []   # every process of every case was killed and reaped


def judge(config, code, language="python", expected="done\n", time_limit_ms=1000, memory_limit_mb=64,
          hidden=False, stdin=""):
    case = CaseSpec(stdin=stdin, expected=expected, hidden=hidden)
    return evaluate(language, code, [case], time_limit_ms=time_limit_ms, memory_limit_mb=memory_limit_mb,
                    config=config)


# --------------------------------------------------------------------------- the whole tree

def test_cpu_time_of_children_never_waited_for_counts(config):
    # Given a program whose two children burn 0.7 s of CPU each under a 1 s limit; the parent
    # learns they are done through a pipe and exits without ever waiting for them
    code = """
import os, time
r, w = os.pipe()
for _ in range(2):
    if os.fork() == 0:
        while time.process_time() < 0.7:
            pass
        os.write(w, b"x")
        time.sleep(60)
os.close(w)
got = b""
while len(got) < 2:
    got += os.read(r, 2)
print("done")
"""
    result = judge(config, code)
    # Then their CPU time counted: Time Limit Exceeded, the time shown is past the limit
    assert result.verdict == "TLE", result.public()
    assert result.cases[0].time_ms >= 1000


def test_memory_of_children_counts_together(config):
    # Given 8 children holding 50 MB each (touched) under a 64 MB limit, none waited for
    code = """
import os, time
r, w = os.pipe()
for _ in range(8):
    if os.fork() == 0:
        block = bytearray(50 << 20)
        os.write(w, b"x")
        time.sleep(60)
os.close(w)
got = b""
while len(got) < 8:
    chunk = os.read(r, 8)
    if not chunk:
        break
    got += chunk
print("done")
"""
    result = judge(config, code, time_limit_ms=5000)
    # Then the tree's memory is over the limit: Memory Limit Exceeded
    assert result.verdict == "MLE", result.public()


# --------------------------------------------------------------------------- time at the edge

def test_a_program_just_under_the_cpu_limit_is_accepted(config):
    code = "import time\nwhile time.process_time() < 0.8:\n    pass\nprint('done')\n"
    result = judge(config, code)
    assert result.verdict == "AC", result.public()
    assert result.cases[0].time_ms < 1000


def test_a_program_over_the_cpu_limit_gets_tle_with_its_measured_time(config):
    code = "import time\nwhile time.process_time() < 3:\n    pass\nprint('done')\n"
    result = judge(config, code)
    assert result.verdict == "TLE", result.public()
    assert result.cases[0].time_ms >= 1000


def test_the_time_of_a_case_killed_by_the_wall_clock_leaves_out_the_teardown(config):
    # Given a program that sleeps past a wall clock of 0.2 s x 2 + 1 s
    cfg = dataclasses.replace(config, wall_factor=2.0)
    result = judge(cfg, "import time\ntime.sleep(60)\n", time_limit_ms=200)
    # Then it is TLE, and its time is that of the wall clock, not of the clean-up after the kill
    assert result.verdict == "TLE"
    wall_ms = (0.2 * 2 + 1) * 1000
    assert wall_ms <= result.cases[0].time_ms < wall_ms + 1000


@pytest.fixture
def one_busy_core():
    """This process and what it starts run on one core, with three CPU hogs there, each in a
    session (scheduling group) of its own: a program gets about a quarter of that core."""
    if not os.path.exists("/proc/self/schedstat"):   # the kernel's run_delay (CONFIG_SCHED_INFO)
        pytest.skip("this kernel reports no run_delay: the wall clock then counts waiting for a CPU too")
    core = min(os.sched_getaffinity(0))
    before = os.sched_getaffinity(0)
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True,
                             preexec_fn=lambda: os.sched_setaffinity(0, {core})) for _ in range(3)]
    os.sched_setaffinity(0, {core})
    try:
        yield core
    finally:
        os.sched_setaffinity(0, before)
        for hog in hogs:
            hog.kill()
            hog.wait()


def test_a_correct_program_kept_from_the_cpu_by_other_work_keeps_its_accepted(config, one_busy_core):
    # Given a program that needs 0.6 s of CPU under a 1 s limit, a wall clock of 1 s x 1 + 1 s, and
    # three other processes busy on the only core it may use; it reports, from the kernel's own
    # count of its time spent waiting for a CPU (run_delay), whether that wait would have taken it
    # past its wall clock had the wait been charged to it
    cfg = dataclasses.replace(config, wall_factor=1.0)
    code = """
import time
while time.process_time() < 0.6:
    pass
run_delay = int(open('/proc/self/schedstat').read().split()[1]) / 1e9
print('done' if run_delay + time.process_time() > 2.0 else f'not kept waiting: run_delay {run_delay:.2f} s')
"""
    result = judge(cfg, code)
    # (it really was kept waiting past its wall clock)
    assert not result.cases[0].output.startswith("not kept waiting"), result.cases[0].output
    # Then the time it waited for the CPU is not charged to it: Accepted
    assert result.verdict == "AC", result.public()


# --------------------------------------------------------------------------- one verdict per event

BIG_FILE = {
    "python": "f = open('/tmp/big', 'wb')\nfor _ in range(64):\n    f.write(b'x' * (1 << 20))\n    f.flush()\n"
              "print('done')\n",
    "javascript": "const fs = require('fs');\nconst fd = fs.openSync('/tmp/big', 'w');\n"
                  "for (let i = 0; i < 64; i++) fs.writeSync(fd, Buffer.alloc(1 << 20, 120));\nconsole.log('done');\n",
    "c": "#include <stdio.h>\nint main(){FILE*f=fopen(\"/tmp/big\",\"w\"); static char b[1<<20];\n"
         " for(int i=0;i<64;i++){ if(fwrite(b,1,sizeof b,f)!=sizeof b) return 1; fflush(f);} puts(\"done\"); return 0;}\n",
    "cpp": "#include <fstream>\n#include <iostream>\n#include <vector>\nint main(){std::ofstream f(\"/tmp/big\");\n"
           " f.exceptions(std::ios::badbit | std::ios::failbit); std::vector<char> b(1<<20, 'x');\n"
           " for(int i=0;i<64;i++){ f.write(b.data(), b.size()); f.flush(); } std::cout << \"done\\n\";}\n",
}

ALLOCATE = {
    "python": "blocks = []\nwhile True:\n    blocks.append(bytearray(1 << 20))\n",
    "javascript": "const blocks = [];\nfor (;;) blocks.push(new Array(1 << 17).fill(1.5));\n",
    "c": "#include <stdlib.h>\n#include <string.h>\nint main(){for(;;){char*p=malloc(1<<20); memset(p,1,1<<20);}}\n",
    "cpp": "#include <vector>\nint main(){std::vector<std::vector<char>> v; for(;;) v.emplace_back(1<<20, 1);}\n",
}


@pytest.mark.parametrize("language", sorted(BIG_FILE))
def test_a_file_over_the_size_limit_is_ole_in_every_language(config, language):
    # the test config allows 4 MB files: each program writes 64 MB
    assert config.max_file_bytes < 64 << 20
    result = judge(config, BIG_FILE[language], language=language, time_limit_ms=5000, memory_limit_mb=128)
    assert result.verdict == "OLE", result.public()


@pytest.mark.parametrize("language", sorted(ALLOCATE))
def test_allocating_past_the_limit_is_mle_in_every_language(config, language):
    result = judge(config, ALLOCATE[language], language=language, time_limit_ms=5000, memory_limit_mb=64)
    assert result.verdict == "MLE", result.public()


# --------------------------------------------------------------------------- /tmp, hidden cases

def test_tmp_has_an_inode_bound(config):
    # Given a program that creates empty files in /tmp until it is refused
    code = """
import os
n = 0
try:
    while n < 150000:
        open(f"/tmp/{n}", "w").close()
        n += 1
except OSError as exc:
    print(n, exc.strerror)
"""
    result = judge(config, code, expected="")
    # Then it was stopped at the inode bound (files + the folder itself), not by anything else
    count, _, reason = result.cases[0].output.strip().partition(" ")
    assert int(count) < config.tmp_inodes and reason == "No space left on device", result.cases[0].output


def test_a_hidden_case_reveals_nothing_but_its_verdict(config):
    # Given a program that would tell its hidden input through its exit code, time and memory
    code = "import sys, time\nn = int(input())\nblock = bytearray(n << 20)\nsys.exit(n)\n"
    result = judge(config, code, stdin="42\n", hidden=True)
    case = result.public()["cases"][0]
    # Then the stored result of that case holds the verdict only, and the feedback no number of it
    assert case["verdict"] == "RE"
    assert (case["time_ms"], case["memory_kb"], case["detail"]) == (None, None, "")
    assert "42" not in result.feedback and "exit" not in result.feedback
