"""A folder of Markdown, plain-text and HTML files as public documents (``kura ingest --path DIR``).

The connector never leaves its folder. It walks the folder with directory file
descriptors (each folder and file opened relative to its parent with
``O_NOFOLLOW``), so neither a symbolic link (to a file or a folder, inside or
outside) nor a link swapped in while the walk runs can make it read anything
outside. Links, special files (FIFOs, devices, sockets) and files over the
size limit are not read; each is reported (``SyncBatch.skipped`` or a failure),
never dropped silently, and so is a subfolder it cannot read.

Document ids are ``files:<folder>/<relative path>``: every id lies under the
folder's ``scope``, so a file that disappears from the folder (or a link that is
removed) loses its chunks on the next run. ``scope_family`` lets the pipeline
also remove ``files:`` documents that lie outside every folder ingested so far:
what an older version indexed under a link's target (``files:/etc/passwd``).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from core.protocols import DocumentFailure, SyncBatch
from core.types import Document, Section
from ingest.connectors.html_to_sections import check_html_depth
from ingest.markdown import parse_sections, split_front_matter

logger = logging.getLogger(__name__)

SUFFIXES = {".md", ".markdown", ".txt", ".html", ".htm"}
DEFAULT_MAX_BYTES = 10_000_000  # KURA_MAX_DOCUMENT_MB's default


class SkippedFile(Exception):
    """A file the connector does not read on purpose (link, special file); the message says why."""


def html_sections(html: str) -> tuple[str, tuple[Section, ...]]:
    """Title and sections of an HTML page: headings start sections; paragraphs, lists, tables, code become blocks."""
    from bs4 import BeautifulSoup

    # Deeper pages are refused before parsing: the walk below costs size x depth (find_parent per element).
    check_html_depth(html, implicit_close=True)
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
    scope_family = "files:"  # every document of this source lies in some folder's scope

    def __init__(self, root: Path, batch_size: int = 32, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = Path(root).resolve()  # the folder named by the user may itself be a link: that is their choice
        self.batch_size = batch_size
        self.max_bytes = max_bytes

    @property
    def scope(self) -> tuple[str, ...]:
        """Document-id prefix of this folder's files: re-ingesting it removes files deleted since."""
        return (f"{self.name}:{self.root.as_posix()}/",)

    def load(self) -> Iterator[SyncBatch]:
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.root} is not a folder")
        batch = SyncBatch()
        for entry in self._walk(batch):
            if isinstance(entry, DocumentFailure):
                batch.failures.append(entry)
                continue
            rel, name, dir_fd = entry
            path = self.root.joinpath(*rel, name)
            try:
                batch.documents.append(self._read(path, name, dir_fd))
            except SkippedFile as exc:
                batch.skipped.append(DocumentFailure(self.name, path.as_posix(), str(exc)))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                batch.failures.append(DocumentFailure(self.name, path.as_posix(), _reason(exc)))
            if len(batch.documents) >= self.batch_size:
                yield batch
                batch = SyncBatch()
        if batch.documents or batch.failures or batch.skipped:
            yield batch

    def poll(self, since: datetime | None) -> Iterator[SyncBatch]:
        return self.load()

    def _walk(self, batch: SyncBatch) -> Iterator[tuple[tuple[str, ...], str, int] | DocumentFailure]:
        """(relative folder parts, file name, folder fd) of candidate files, in a stable order.

        Each folder is opened relative to its parent's descriptor with ``O_NOFOLLOW``, so the walk cannot be led
        out of the folder. A folder that cannot be listed becomes a failure whose id ends in "/": the pipeline
        then keeps every document indexed under it (unread is not gone).
        """
        try:
            root_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise FileNotFoundError(f"{self.root} cannot be read: {exc.strerror}") from None
        yield from self._walk_folder((), root_fd, batch)

    def _walk_folder(self, rel: tuple[str, ...], dir_fd: int, batch: SyncBatch):
        try:
            with os.scandir(dir_fd) as listing:
                entries = sorted((e.name, e.stat(follow_symlinks=False).st_mode) for e in listing)
            folders = []
            for name, mode in entries:
                where = self.root.joinpath(*rel, name).as_posix()
                if stat.S_ISLNK(mode):
                    if Path(name).suffix.lower() in SUFFIXES or self._points_to_folder(name, dir_fd):
                        target = _link_target(name, dir_fd)
                        batch.skipped.append(DocumentFailure(
                            self.name, where + ("/" if self._points_to_folder(name, dir_fd) else ""),
                            f"symbolic link, not followed (it points to {target})"))
                elif stat.S_ISDIR(mode):
                    folders.append(name)
                elif Path(name).suffix.lower() in SUFFIXES:
                    yield rel, name, dir_fd  # regular or special: _read tells them apart on the open descriptor
            for name in folders:
                try:
                    sub_fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
                except OSError as exc:
                    yield DocumentFailure(self.name, self.root.joinpath(*rel, name).as_posix() + "/",
                                          f"folder not readable ({exc.strerror}); its documents were kept as they were")
                    continue
                yield from self._walk_folder((*rel, name), sub_fd, batch)
        except OSError as exc:
            yield DocumentFailure(self.name, self.root.joinpath(*rel).as_posix() + "/",
                                  f"folder not readable ({exc.strerror}); its documents were kept as they were")
        finally:
            os.close(dir_fd)

    @staticmethod
    def _points_to_folder(name: str, dir_fd: int) -> bool:
        try:
            return stat.S_ISDIR(os.stat(name, dir_fd=dir_fd).st_mode)
        except OSError:
            return False

    def _read(self, path: Path, name: str, dir_fd: int) -> Document:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP or _is_link(name, dir_fd):  # O_NOFOLLOW met a symbolic link
                raise SkippedFile(f"symbolic link, not followed (it points to {_link_target(name, dir_fd)})") from None
            raise
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise SkippedFile("not a regular file (FIFO, device or socket), not read")
            if info.st_size > self.max_bytes:
                raise ValueError(
                    f"file is {info.st_size / 1e6:.1f} MB, "
                    f"over the per-document limit of {self.max_bytes / 1e6:.1f} MB "
                    "(KURA_MAX_DOCUMENT_MB); not indexed"
                )
            raw = fh.read(self.max_bytes + 1).decode("utf-8")
        return self._document(path, raw, info.st_mtime)

    def read(self, path: Path) -> Document:
        """One file by path (tests, tools): the same checks as the walk, relative to its own folder."""
        path = Path(path)
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            return self._read(path, path.name, dir_fd)
        finally:
            os.close(dir_fd)

    def _document(self, path: Path, raw: str, mtime: float) -> Document:
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
            source_id=path.as_posix(),  # the path inside the folder, never a link's target
            title=title or path.stem.replace("_", " ").replace("-", " "),
            sections=sections,
            url=path.as_uri(),
            updated_at=datetime.fromtimestamp(mtime, tz=timezone.utc),
        )


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _link_target(name: str, dir_fd: int) -> str:
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError:
        return "?"


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot read: {exc.strerror}"
    return str(exc)
