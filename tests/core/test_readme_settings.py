"""The README's settings table states the defaults the code uses (the chunking and embedding ones were chosen by the eval)."""

from __future__ import annotations

import re
from pathlib import Path

from core.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_defaults() -> dict[str, str]:
    """``KURA_NAME -> default`` for every row of the settings table whose names and defaults pair up one to one."""
    table = README.read_text(encoding="utf-8").split("## Settings", 1)[1].split("\n\n")[2]
    out = {}
    for row in table.splitlines():
        cells = [c.strip() for c in row.strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`KURA_"):
            continue
        names = re.findall(r"`(KURA_\w+)`", cells[0])
        defaults = [d.strip().strip("`") for d in cells[1].split(",")]
        if len(names) == len(defaults):
            out.update(zip(names, defaults))
    return out


def test_readme_defaults_match_the_settings():
    stated = readme_defaults()
    settings = Settings(_env_file=None)
    checked = 0
    for name, default in stated.items():
        field = name.removeprefix("KURA_").lower()
        value = getattr(settings, field)
        if default == "unset":
            assert value is None, name
        elif field == "embedding_cache_dir":
            assert value is None  # resolved to $XDG_CACHE_HOME/kura or ~/.cache/kura by Settings.embedder_cache_dir
            continue
        elif isinstance(value, bool):  # the README writes booleans as the environment does: true / false
            assert str(value).lower() == default, (name, value)
        else:
            assert str(value) == default or (isinstance(value, float) and value == float(default)), (name, value)
        checked += 1
    # The eval-chosen defaults are among those checked.
    assert {"KURA_CHUNK_STRATEGY", "KURA_CHUNK_TOKENS", "KURA_CHUNK_OVERLAP", "KURA_EMBEDDING_BACKEND"} <= set(stated)
    assert checked >= 15
