"""Markdown (with optional YAML front matter) to Document sections.

Used by the sample corpus and by ``kura ingest --path`` for Markdown files.
Each block becomes a Section carrying its heading path: paragraphs, lists, code
fences, tables (turned into readable "Header: value" rows, which answer
questions better than pipe syntax) and Slack-style messages.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from core.types import Section

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_MESSAGE = re.compile(r"^(?:\*\*)?(?P<author>[^*()\n]+?)(?:\*\*)?\s*\((?P<time>\d{4}-\d\d-\d\d[^)]*)\):\s*")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


class FrontMatterError(ValueError):
    """The file's front matter is not valid YAML."""


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    if not text.startswith("---"):
        return {}, text
    end = text.find("\n---", 3)
    if end < 0:
        return {}, text
    try:
        meta = yaml.safe_load(text[3:end]) or {}
    except yaml.YAMLError as exc:
        raise FrontMatterError(f"front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise FrontMatterError("front matter must be a mapping")
    body = text[end + 4 :]
    return meta, body.lstrip("\n")


def table_rows(lines: list[str]) -> str:
    """A Markdown table as one line per row: 'Header: value; Header: value'."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines if not _TABLE_RULE.match(line)]
    if not rows:
        return ""
    header, body = rows[0], rows[1:]
    if not body:
        return "; ".join(header)
    out = []
    for row in body:
        cells = [f"{h}: {v}" if h else v for h, v in zip(header, row) if v]
        out.append("; ".join(cells))
    return "\n".join(out)


def parse_sections(body: str, *, title: str = "") -> tuple[str, tuple[Section, ...]]:
    """(title, sections) of a Markdown body; the first level-1 heading is the title if none is given."""
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    block: list[str] = []
    in_code = False

    def heading_path() -> tuple[str, ...]:
        return tuple(h for _, h in path)

    def flush() -> None:
        if not block:
            return
        lines = list(block)
        block.clear()
        text = "\n".join(lines).strip()
        if not text:
            return
        if not lines[0].lstrip().startswith("```"):
            # Bold markers are presentation, not content: keep them out of the index and of quoted answers.
            lines = [_EMPHASIS.sub(r"\2", l) for l in lines]
            text = "\n".join(lines).strip()
        if lines[0].lstrip().startswith("```"):
            sections.append(Section("\n".join(l for l in lines if not l.lstrip().startswith("```")).strip(), heading_path(), "code"))
        elif all(l.lstrip().startswith("|") for l in lines if l.strip()):
            sections.append(Section(table_rows(lines), heading_path(), "table"))
        elif _MESSAGE.match(lines[0]):
            sections.append(Section(text, heading_path(), "message"))
        elif _LIST_ITEM.match(lines[0]):
            sections.append(Section(text, heading_path(), "list"))
        else:
            sections.append(Section(" ".join(l.strip() for l in lines), heading_path(), "text"))

    for line in body.splitlines():
        if line.lstrip().startswith("```"):
            if in_code:
                block.append(line)
                flush()
                in_code = False
                continue
            flush()
            in_code = True
            block.append(line)
            continue
        if in_code:
            block.append(line)
            continue
        heading = _HEADING.match(line)
        if heading:
            flush()
            level, text = len(heading.group(1)), heading.group(2).strip()
            if level == 1 and not title:
                title = text
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, text))
            continue
        if not line.strip():
            flush()
            continue
        block.append(line)
    flush()
    return title, tuple(sections)
