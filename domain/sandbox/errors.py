"""Errors of the sandbox itself (not of the learner's program)."""
from __future__ import annotations


class SandboxUnavailable(RuntimeError):
    """bwrap is missing or cannot create its namespaces on this host."""


class ProgramNotStarted(OSError):
    """The sandbox ran but could not exec the program (e.g. the language runtime is missing)."""
