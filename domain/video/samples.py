"""Generated test sources (ffmpeg's lavfi ``testsrc2`` + ``sine``): no downloaded media anywhere.

Used by the tests, the demo, the benchmark and ``coursework video sample``.
"""
from __future__ import annotations

import os
from pathlib import Path

from domain.video import process


def sample_argv(path: Path, *, seconds: float = 2.0, width: int = 320, height: int = 180, fps: float = 25,
                audio: bool = True, pix_fmt: str = "yuv420p", vfr: bool = False,
                ffmpeg_bin: str = "ffmpeg", preset: str = "ultrafast") -> list[str]:
    """A clip of ``width`` x ``height`` (odd sizes too: they are encoded 4:4:4, which allows them)."""
    odd = width % 2 or height % 2
    if odd and pix_fmt == "yuv420p":
        pix_fmt = "yuv444p"
    argv = [ffmpeg_bin, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={width + width % 2}x{height + height % 2}:rate={fps}:duration={seconds:g}"]
    if audio:
        argv += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds:g}"]
    vf = [f"scale={width}:{height}", f"format={pix_fmt}"]
    if vfr:   # drop every fifth frame: timestamps with uneven gaps
        vf.insert(0, "select='not(eq(mod(n\\,5)\\,3))'")
    argv += ["-vf", ",".join(vf), "-c:v", "libx264", "-preset", preset]
    if pix_fmt != "yuv420p":
        argv += ["-profile:v", "high444" if "444" in pix_fmt else "high10"]
    if vfr:
        argv += ["-fps_mode", "vfr"]
    if audio:
        argv += ["-c:a", "aac", "-b:a", "96k"]
    argv += ["-shortest", str(path)]
    return argv


def make_sample(path: Path, *, rotate: int | None = None, timeout: float = 120.0, ffmpeg_bin: str = "ffmpeg",
                **kw) -> Path:
    """Write a clip to ``path``; ``rotate`` adds display-rotation metadata (a phone held sideways)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path.with_name(path.stem + ".norot" + path.suffix) if rotate is not None else path
    process.run(sample_argv(target, ffmpeg_bin=ffmpeg_bin, **kw), timeout=timeout)
    if rotate is not None:   # a stream copy with the tag writes the display matrix
        process.run([ffmpeg_bin, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(target),
                     "-c", "copy", "-metadata:s:v:0", f"rotate={rotate}", str(path)], timeout=timeout)
        os.unlink(target)
    return path
