"""Every option of every command is read by that command: none is parsed and dropped."""

from __future__ import annotations

import argparse
import inspect
import re

import pytest

from ltnet.cli import build_parser
from ltnet.commands import COMMANDS, options

# read by the shared helpers (options.prep_config, prep_cache, pick_device) or by cli.main
SHARED = {"help", "command", "func", "dataaug_command"}


def _subparsers(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[prefix + name] = sub
                out.update(_subparsers(sub, prefix + name + " "))
    return out


def _reads(source: str) -> set[str]:
    return set(re.findall(r"args\.([a-z_0-9]+)", source)) | set(
        re.findall(r'getattr\(args, "([a-z_0-9]+)"\)', source)
    )


@pytest.mark.parametrize("name", sorted(_subparsers(build_parser())))
def test_every_option_is_read(name):
    sub = _subparsers(build_parser())[name]
    if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
        pytest.skip(f"{name} only dispatches to its subcommands")
    module = next(m for m in COMMANDS if sub.get_default("func").__module__ == m.__name__)
    read = _reads(inspect.getsource(module)) | _reads(inspect.getsource(options))
    flags = {a.dest for a in sub._actions} - SHARED
    # the recipe flags are read through a table (commands.train.RECIPE_FLAGS)
    table = {attr for _, attr in getattr(module, "RECIPE_FLAGS", ())}
    unread = sorted(flags - read - table)
    assert not unread, f"ltnet {name}: options parsed but never read: {unread}"
