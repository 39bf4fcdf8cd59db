"""Versioned prompt files: ``chat/prompts/<name>/<version>/{system,user}.txt``.

A prompt's id is ``<name>/<version>@<hash>``: the hash of the two files, so an
edit made without bumping the version still shows up as a different prompt in
answers and eval reports. Every Answer records the id it was made with.

Templates use ``{placeholder}`` fields. Only known names are replaced and the
values are inserted verbatim, so braces inside documents or questions are safe.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError

PROMPTS_DIR = Path(__file__).parent / "prompts"
_FIELD = re.compile(r"\{([a-z_]+)\}")


def _fill(template: str, values: dict[str, str], where: str) -> str:
    missing = sorted(set(_FIELD.findall(template)) - set(values))
    if missing:
        raise ConfigError(f"prompt {where} needs values for: {', '.join(missing)}")
    return _FIELD.sub(lambda m: values[m.group(1)], template)


@dataclass(frozen=True)
class PromptTemplate:
    """A system + user template pair with a version id."""

    name: str
    version: str
    system: str
    user: str

    @property
    def id(self) -> str:
        digest = hashlib.sha256(f"{self.system}\x1e{self.user}".encode()).hexdigest()[:8]
        return f"{self.name}/{self.version}@{digest}"

    def messages(self, **values: str) -> list[dict[str, str]]:
        """Chat messages with the fields filled in: one system message, one user message."""
        return [
            {"role": "system", "content": _fill(self.system, values, f"{self.name}/{self.version}/system.txt")},
            {"role": "user", "content": _fill(self.user, values, f"{self.name}/{self.version}/user.txt")},
        ]

    def render_system(self, **values: str) -> str:
        return _fill(self.system, values, f"{self.name}/{self.version}/system.txt")


def load_prompt(name: str, version: str, root: Path | None = None) -> PromptTemplate:
    """Read ``<root>/<name>/<version>/system.txt`` and ``user.txt``; a ConfigError names what is missing."""
    folder = (root or PROMPTS_DIR) / name / version
    files = {}
    for part in ("system", "user"):
        path = folder / f"{part}.txt"
        if not path.is_file():
            available = sorted(p.name for p in folder.parent.iterdir() if p.is_dir()) if folder.parent.is_dir() else []
            raise ConfigError(
                f"prompt file {path} not found (versions of '{name}' available: {', '.join(available) or 'none'})"
            )
        files[part] = path.read_text(encoding="utf-8").strip() + "\n"
    return PromptTemplate(name=name, version=version, system=files["system"], user=files["user"])
