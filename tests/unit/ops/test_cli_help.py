"""Every option and argument of the `coursework` CLI says what it is for, and the worker offers
only pools that are installed."""
from __future__ import annotations

import argparse
import importlib

from cli.main import POOLS, build_parser


def _walk(parser: argparse.ArgumentParser, path: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helped = {a.dest for a in action._choices_actions if a.help}
            for name, sub in action.choices.items():
                yield f"{path} {name}", "(the command itself)", name in helped
                yield from _walk(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield path, "/".join(action.option_strings) or action.dest, bool(action.help)


def test_every_command_option_and_argument_has_help():
    missing = [f"{path}: {name}" for path, name, ok in _walk(build_parser(), "coursework") if not ok]
    assert not missing, "\n".join(missing)


def test_only_pools_that_are_installed_are_offered():
    for pool in POOLS:
        if pool in ("gevent", "eventlet"):
            importlib.import_module(pool)
    worker = build_parser()._subparsers._group_actions[0].choices["worker"]
    pool = next(a for a in worker._actions if a.dest == "pool")
    assert pool.choices == POOLS and "gevent" not in pool.choices
