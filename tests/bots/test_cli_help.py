"""Every CLI command's --help renders (Rich reads [brackets] in help texts as markup and can crash on them)."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from bots.cli.main import app


def _command_paths(command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [path]
    if hasattr(command, "commands"):  # a group (typer ships its own click, so no isinstance check)
        for name, sub in command.commands.items():
            paths += _command_paths(sub, (*path, name))
    return paths


COMMANDS = _command_paths(typer.main.get_command(app))


def test_the_walk_finds_the_nested_commands():
    assert ("eval", "run") in COMMANDS and ("ask",) in COMMANDS and len(COMMANDS) > 10


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "kura")
def test_help_renders(path):
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, f"kura {' '.join(path)} --help failed: {result.output}{result.exception!r}"
    assert "Usage" in result.output
