"""The ffmpeg runner against real processes: stderr floods, timeouts and cancels kill the group."""
import os
import sys

import pytest

from domain.jobs.errors import JobCancelled
from domain.video import process
from tests.support.control import RecordingControl
from tests.support.stack import wait_for


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:      # a zombie is dead too
        return f.read().split(")")[-1].split()[0] != "Z"


def test_megabytes_on_stderr_do_not_block_and_the_tail_is_kept():
    # Given a child that writes 32 MB to stderr (far past any pipe buffer), then a last line
    code = "import sys\nfor _ in range(32):\n    sys.stderr.write('x' * (1 << 20))\nsys.stderr.write('\\nTHE END\\n')\n"
    # When it runs through the runner
    done = process.run([sys.executable, "-c", code], timeout=60)
    # Then it finishes, and only the end of stderr is kept
    assert done.returncode == 0
    assert done.stderr_tail.endswith("THE END\n") and len(done.stderr_tail) <= process.TAIL_BYTES


def _pid_in(pidfile) -> int:
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), timeout=20, interval=0.02,
             message=f"the grandchild's pid in {pidfile.name}")
    return int(pidfile.read_text())


def test_timeout_kills_the_whole_process_group(tmp_path):
    # Given a shell that starts a grandchild which never ends by itself, and waits for it
    pidfile = tmp_path / "child.pid"
    argv = ["bash", "-c", f"sleep infinity & echo $! > {pidfile}; echo started >&2; wait"]
    # When it outlives its timeout
    with pytest.raises(process.ProcessTimeout) as err:
        process.run(argv, timeout=1.0)
    # Then the runner returned without waiting for the grandchild (it would never have ended),
    # the grandchild is killed with the group, and the error carries stderr
    assert "started" in err.value.stderr_tail    # (the grandchild had started: its pid was written)
    child = _pid_in(pidfile)
    wait_for(lambda: not _alive(child), timeout=10, interval=0.05, message=f"grandchild {child} to die")


def test_cancel_kills_the_process_group(tmp_path):
    # Given a shell that starts a grandchild which never ends by itself
    pidfile = tmp_path / "child.pid"
    argv = ["bash", "-c", f"sleep infinity & echo $! > {pidfile}; wait"]

    class CancelledOnceTheGrandchildRuns(RecordingControl):
        def check_cancelled(self) -> None:
            if pidfile.exists() and pidfile.read_text().strip():
                self.cancel()
            super().check_cancelled()

    # When the job's cancel check raises once the grandchild runs
    with pytest.raises(JobCancelled):
        process.run(argv, timeout=300, control=CancelledOnceTheGrandchildRuns())
    # Then the grandchild is killed with the group
    child = _pid_in(pidfile)
    wait_for(lambda: not _alive(child), timeout=10, interval=0.05, message=f"grandchild {child} to die")


def test_a_failure_carries_the_exit_code_and_stderr_tail():
    with pytest.raises(process.ProcessFailed) as err:
        process.run(["ffmpeg", "-hide_banner", "-i", "/nonexistent/input.mp4", "-f", "null", "-"], timeout=30)
    assert err.value.returncode not in (0, None)
    assert "No such file or directory" in err.value.stderr_tail and "stderr tail" in str(err.value)


def test_progress_from_a_real_ffmpeg_run_is_parsed():
    # Given ffmpeg encoding 3 s of a lavfi source with -progress pipe:1
    seen = []
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=3",
            "-c:v", "libx264", "-preset", "ultrafast", "-progress", "pipe:1", "-nostats", "-f", "null", "-"]
    # When it runs
    process.run(argv, timeout=60, on_progress=lambda block: seen.append(process.out_time_seconds(block)),
                poll=0.02)
    # Then the last block reports the whole duration, and times never go backwards
    times = [t for t in seen if t is not None]
    assert times and abs(times[-1] - 3.0) < 0.2
    assert times == sorted(times)


def test_the_child_dies_with_the_process_that_started_it(tmp_path):
    # Given a python process that starts a long child through the runner, then is killed
    pidfile = tmp_path / "child.pid"
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from domain.video import process\n"
            "process.run(['bash', '-c', 'echo $$ > %s; exec sleep 300'], timeout=300)\n") % (os.getcwd(), pidfile)
    import subprocess
    parent = subprocess.Popen([sys.executable, "-c", code])
    child = _pid_in(pidfile)
    assert _alive(child)
    # When the parent is SIGKILLed (a worker killed mid-transcode)
    parent.kill()
    parent.wait()
    # Then the child does not linger as an orphan
    wait_for(lambda: not _alive(child), timeout=10, interval=0.05, message=f"orphan {child} to die")
