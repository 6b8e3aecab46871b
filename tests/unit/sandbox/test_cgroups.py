"""The slot group's bookkeeping against the kernel's file formats (a fake cgroup tree on disk:
the real ones are exercised by tests/integration/sandbox/test_limits.py where the host has them)."""
from __future__ import annotations

from domain.sandbox import cgroups

MB = 1024 * 1024


def _files(d, **files):
    d.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (d / name.replace("__", ".")).write_text(text)


def test_v1_group_sets_the_limits_and_reads_the_case_usage(tmp_path):
    roots = {c: tmp_path / c / "coursework-sandbox" for c in ("memory", "cpuacct", "pids")}
    _files(roots["memory"] / "uid-7", memory__usage_in_bytes="3000000\n", memory__max_usage_in_bytes="0\n",
           memory__oom_control="oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    _files(roots["cpuacct"] / "uid-7", cpuacct__usage="5000000000\n")
    _files(roots["pids"] / "uid-7")
    group = cgroups.Tree("v1", roots, "test").slot(7)
    assert [p.parent.name for p in group.procs] == ["uid-7"] * 3
    # When a case with a 64 MB limit is prepared
    group.prepare(64 * MB, processes=32)
    mem = roots["memory"] / "uid-7"
    assert (mem / "memory.limit_in_bytes").read_text() == str(64 * MB + cgroups.OVERHEAD)
    assert (mem / "memory.memsw.limit_in_bytes").read_text() == str(64 * MB + cgroups.OVERHEAD)
    assert (roots["pids"] / "uid-7" / "pids.max").read_text() == "40"
    assert not group.oom_killed()
    # And the kernel then counts 1.5 s of CPU, a 70 MB peak and one more OOM kill
    (roots["cpuacct"] / "uid-7" / "cpuacct.usage").write_text("6500000000\n")
    (mem / "memory.max_usage_in_bytes").write_text(f"{70 * MB + 3000000}\n")
    (mem / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n")
    # Then the case's usage is what changed during the case
    assert group.oom_killed()
    assert cgroups.Usage(cpu_seconds=1.5, peak_bytes=70 * MB, oom_kills=1) == group.usage()


def test_v2_group_sets_the_limits_and_reads_the_case_usage(tmp_path):
    root = tmp_path / "coursework-sandbox"
    _files(root / "uid-3", memory__current="1000\n", memory__peak="1000\n", memory__swap__max="max\n",
           memory__events="low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n", cpu__stat="usage_usec 100\nuser_usec 50\n")
    group = cgroups.Tree("v2", {"unified": root}, "test").slot(3)
    group.prepare(32 * MB, processes=8)
    d = root / "uid-3"
    assert (d / "memory.max").read_text() == str(32 * MB + cgroups.OVERHEAD)
    assert (d / "memory.swap.max").read_text() == "0" and (d / "pids.max").read_text() == "16"
    (d / "cpu.stat").write_text("usage_usec 250100\nuser_usec 50\n")
    (d / "memory.peak").write_text(f"{20 * MB + 1000}\n")
    assert not group.oom_killed()
    assert group.usage() == cgroups.Usage(cpu_seconds=0.25, peak_bytes=20 * MB, oom_kills=0)


def test_no_cgroup_means_the_fallback():
    assert cgroups.Tree("none", {}, "test").slot(1) is None
    assert cgroups.tree(allow=False).mode == "none"
