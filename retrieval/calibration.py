"""Calibration text for static int8 quantization: Kura's own documentation, never the evaluation data.

Static quantization measures activation ranges on sample inputs. The inputs
must be real prose of the kind Kura embeds (technical English) and must not
overlap the evaluation sets, or quality checks would flatter the quantized
model. Kura's Markdown guides and module docstrings are both, ship with the
package, and need no network.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "ingest", "retrieval", "chat", "bots")
_WORDS_PER_TEXT = 110


def kura_texts(root: Path = ROOT, limit: int = 300) -> list[str]:
    """Up to ``limit`` passages of ~110 words from Kura's guides and docstrings, in a stable order."""
    words: list[str] = []
    for package in PACKAGES:
        folder = root / package
        for path in sorted(folder.rglob("*.md")):
            if "sample_corpus" not in path.parts:
                words.extend(path.read_text(encoding="utf-8").split())
        for path in sorted(folder.rglob("*.py")):
            words.extend(_docstrings(path).split())
    readme = root / "README.md"
    if readme.exists():
        words.extend(readme.read_text(encoding="utf-8").split())
    step = _WORDS_PER_TEXT // 2  # overlapping windows: more distinct samples from a small text
    texts = [" ".join(words[i : i + _WORDS_PER_TEXT]) for i in range(0, max(0, len(words) - 20), step)]
    return texts[:limit]


def _docstrings(path: Path) -> str:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return ""
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.ClassDef, ast.FunctionDef)))]
    return "\n".join(doc for n in nodes if (doc := ast.get_docstring(n)))
