"""A folder of Markdown, plain-text and HTML files as public documents (``kura ingest --path DIR``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from core.protocols import DocumentFailure, SyncBatch
from core.types import Document, Section
from ingest.markdown import parse_sections, split_front_matter

logger = logging.getLogger(__name__)

SUFFIXES = {".md", ".markdown", ".txt", ".html", ".htm"}


def html_sections(html: str) -> tuple[str, tuple[Section, ...]]:
    """Title and sections of an HTML page: headings start sections; paragraphs, lists, tables, code become blocks."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    for tag in soup(["script", "style", "nav", "footer"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else ""
    path: list[tuple[int, str]] = []
    sections: list[Section] = []
    body = soup.body or soup
    for el in body.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "table", "pre"]):
        if el.find_parent(["ul", "ol", "table", "pre"]) is not None:
            continue  # nested: taken with its container
        if el.name[0] == "h" and el.name[1:].isdigit():
            level, text = int(el.name[1]), el.get_text(" ", strip=True)
            title = title or (text if level == 1 else "")
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, text))
            continue
        heading = tuple(h for _, h in path)
        if el.name == "table":
            rows = [[c.get_text(" ", strip=True) for c in tr.find_all(["th", "td"])] for tr in el.find_all("tr")]
            if rows:
                header = rows[0]
                lines = ["; ".join(f"{h}: {v}" if h else v for h, v in zip(header, r) if v) for r in rows[1:]] or ["; ".join(header)]
                sections.append(Section("\n".join(lines), heading, "table"))
        elif el.name in ("ul", "ol"):
            items = [f"- {li.get_text(' ', strip=True)}" for li in el.find_all("li")]
            sections.append(Section("\n".join(items), heading, "list"))
        elif el.name == "pre":
            sections.append(Section(el.get_text(), heading, "code"))
        else:
            text = el.get_text(" ", strip=True)
            if text:
                sections.append(Section(text, heading, "text"))
    return title, tuple(s for s in sections if s.text.strip())


class FilesConnector:
    """Every Markdown, text and HTML file under a folder, public, title from the first heading or the file name."""

    name = "files"

    def __init__(self, root: Path, batch_size: int = 32) -> None:
        self.root = Path(root).resolve()
        self.batch_size = batch_size

    @property
    def scope(self) -> tuple[str, ...]:
        """Document-id prefix of this folder's files: re-ingesting it removes files deleted since."""
        return (f"{self.name}:{self.root.as_posix()}/",)

    def load(self) -> Iterator[SyncBatch]:
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.root} is not a folder")
        batch = SyncBatch()
        for path in sorted(p for p in self.root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES):
            try:
                batch.documents.append(self.read(path))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                batch.failures.append(DocumentFailure(self.name, path.resolve().as_posix(), str(exc)))
            if len(batch.documents) >= self.batch_size:
                yield batch
                batch = SyncBatch()
        if batch.documents or batch.failures:
            yield batch

    def poll(self, since: datetime | None) -> Iterator[SyncBatch]:
        return self.load()

    def read(self, path: Path) -> Document:
        raw = path.read_text(encoding="utf-8")
        suffix = path.suffix.lower()
        if suffix in (".html", ".htm"):
            title, sections = html_sections(raw)
        elif suffix == ".txt":
            blocks = [b.strip() for b in raw.split("\n\n") if b.strip()]
            title, sections = "", tuple(Section(b) for b in blocks)
        else:
            meta, body = split_front_matter(raw)
            title, sections = parse_sections(body, title=str(meta.get("title", "")))
        return Document(
            source=self.name,
            source_id=path.resolve().as_posix(),
            title=title or path.stem.replace("_", " ").replace("-", " "),
            sections=sections,
            url=path.resolve().as_uri(),
            updated_at=datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc),
        )
