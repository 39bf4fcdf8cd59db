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


@pytest.mark.parametrize(
    "args, message",
    [((), "Missing argument"), (("x", "--answerer", "bogus"), "use extractive, llm or auto"),
     (("--bogus", "x"), "No such option")],
)
def test_a_usage_error_is_a_usage_message_and_exit_code_2(args, message, monkeypatch, capsys, tmp_path):
    # Through the console entry point, which sorts errors: not "unexpected error" (typer ships its own click).
    from bots.cli.main import main

    monkeypatch.setenv("KURA_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("sys.argv", ["kura", "ask", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    err = capsys.readouterr().err
    assert exited.value.code == 2 and message in err and "unexpected error" not in err
