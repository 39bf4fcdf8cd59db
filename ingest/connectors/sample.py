"""The sample corpus: a fictional company's Confluence pages, Google Docs and Slack threads, stored as Markdown.

Powers the demo and the tests. Format: see ingest/sample_corpus/README.md.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import yaml

from core.identity import user_principal
from core.protocols import DocumentFailure, SyncBatch
from core.types import PUBLIC, Document
from ingest.markdown import FrontMatterError, parse_sections, split_front_matter

logger = logging.getLogger(__name__)

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_corpus"
_META_KEYS = ("space", "breadcrumb", "labels", "channel")


def _as_datetime(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


class SampleConnector:
    """Loads the Markdown sample corpus; every document keeps the source it imitates (confluence, gdocs, slack)."""

    name = "sample"

    def __init__(self, directory: Path = SAMPLE_DIR, batch_size: int = 16) -> None:
        self.directory = Path(directory)
        self.batch_size = batch_size

    def load(self) -> Iterator[SyncBatch]:
        if not self.directory.is_dir():
            raise FileNotFoundError(f"sample corpus not found at {self.directory}")
        batch = SyncBatch()
        for path in sorted(self.directory.glob("*.md")):
            if path.name.lower() == "readme.md":
                continue
            try:
                batch.documents.append(self.read(path))
            except (FrontMatterError, ValueError, KeyError) as exc:
                batch.failures.append(DocumentFailure(self.name, path.name, str(exc)))
            if len(batch.documents) >= self.batch_size:
                yield batch
                batch = SyncBatch()
        if batch.documents or batch.failures:
            yield batch

    def poll(self, since: datetime | None) -> Iterator[SyncBatch]:
        # Files are cheap to read; unchanged documents are skipped downstream by content hash.
        return self.load()

    @staticmethod
    def read(path: Path) -> Document:
        meta, body = split_front_matter(path.read_text(encoding="utf-8"))
        for key in ("source", "source_id", "title"):
            if not meta.get(key):
                raise ValueError(f"{path.name}: front matter lacks {key!r}")
        _, sections = parse_sections(body, title=str(meta["title"]))
        principals = tuple(str(p) for p in (meta.get("principals") or [PUBLIC]))
        return Document(
            source=str(meta["source"]),
            source_id=str(meta["source_id"]),
            title=str(meta["title"]),
            sections=sections,
            url=str(meta.get("url", "")),
            author=str(meta.get("author", "")),
            created_at=_as_datetime(meta.get("created")),
            updated_at=_as_datetime(meta.get("updated")),
            principals=principals,
            metadata={k: meta[k] for k in _META_KEYS if k in meta},
        )

    def identities(self) -> dict[str, list[str]]:
        """email -> principals granted by the sample company's directory (groups, private Slack channels)."""
        path = self.directory / "identities.yaml"
        if not path.exists():
            return {}
        people = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("people", [])
        grants: dict[str, list[str]] = {}
        for person in people:
            email = person["email"]
            grants[email] = [
                user_principal(email),
                *(f"group:{g}" for g in person.get("groups") or []),
                *(f"slack:{c}" for c in person.get("slack_channels") or []),
            ]
        return grants

    def slack_aliases(self) -> dict[str, str]:
        path = self.directory / "identities.yaml"
        if not path.exists():
            return {}
        people = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("people", [])
        return {f"slack:{p['slack_id']}": p["email"] for p in people if p.get("slack_id")}
