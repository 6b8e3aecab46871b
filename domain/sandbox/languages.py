"""The languages a submission may use: file name, compile step, run command, memory handling.

Memory: the verdict threshold is the exercise's limit on *peak resident memory* (ru_maxrss).
``RLIMIT_AS`` is a safety net set above it: interpreters reserve address space they never
touch (Node.js maps ~0.8 GB at start), so each language adds its own headroom. Node's V8 heap
is also capped with ``--max-old-space-size`` so a runaway JS heap stops at the limit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

MB = 1024 * 1024


@dataclass(frozen=True)
class Language:
    name: str
    title: str
    source: str                                   # file name inside /box
    run: Callable[[int], list[str]]               # memory limit (MB) -> argv
    compile: list[str] | None = None              # argv, run in /box (writable)
    address_space_headroom: int = 64 * MB
    oom_markers: tuple[bytes, ...] = ()           # stderr text that means "allocation failed"


LANGUAGES: dict[str, Language] = {
    "python": Language(
        name="python", title="Python 3", source="main.py",
        run=lambda mb: ["/usr/bin/python3", "-I", "-B", "/box/main.py"],
        address_space_headroom=64 * MB, oom_markers=(b"MemoryError",)),
    "javascript": Language(
        name="javascript", title="JavaScript (Node.js)", source="main.js",
        run=lambda mb: ["/usr/bin/node", f"--max-old-space-size={max(16, mb)}", "--stack-size=984",
                        "/box/main.js"],
        address_space_headroom=1536 * MB,
        oom_markers=(b"heap out of memory", b"Allocation failed", b"Array buffer allocation failed",
                     b"RangeError: Invalid array length")),
    "c": Language(
        name="c", title="C (gcc, C17)", source="main.c",
        compile=["/usr/bin/gcc", "-O2", "-std=c17", "-pipe", "-o", "main", "main.c", "-lm"],
        run=lambda mb: ["/box/main"], address_space_headroom=16 * MB),
    "cpp": Language(
        name="cpp", title="C++ (g++, C++17)", source="main.cpp",
        compile=["/usr/bin/g++", "-O2", "-std=c++17", "-pipe", "-o", "main", "main.cpp"],
        run=lambda mb: ["/box/main"], address_space_headroom=32 * MB, oom_markers=(b"std::bad_alloc",)),
}


def get(name: str) -> Language:
    try:
        return LANGUAGES[name]
    except KeyError:
        raise KeyError(f"unknown language {name!r}; known: {', '.join(LANGUAGES)}") from None
