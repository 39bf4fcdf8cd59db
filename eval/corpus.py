"""The documents a Kura JSONL or feedback dataset is asked against: inline, a JSONL file, a folder, or the sample corpus.

``--docs sample`` takes the sample corpus through its connector, with the
sample company's directory as the askers' permissions, so its
``questions.jsonl`` is evaluated with the same access rules as the demo.
``--docs DIR`` reads a folder of Markdown / text / HTML files (public), and
``--docs FILE.jsonl`` reads ``{"document": {...}}`` lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.errors import EvalError
from core.types import Document

SAMPLE = "sample"


@dataclass
class Corpus:
    """Documents plus, where the corpus comes with a directory, who may read what (email -> principals)."""

    documents: list[Document]
    grants: dict[str, tuple[str, ...]] = field(default_factory=dict)
    fingerprint: str = ""


def load_corpus(spec: str | Path) -> Corpus:
    """Documents by spec: ``sample``, a folder of files, or a JSONL file of document lines."""
    from core.types import content_hash

    if str(spec) == SAMPLE:
        from ingest.connectors.sample import SampleConnector

        connector = SampleConnector()
        documents = _load(connector, "the sample corpus")
        grants = {email.lower(): tuple(p) for email, p in connector.identities().items()}
    else:
        path = Path(spec)
        if path.is_dir():
            from ingest.connectors.files import FilesConnector

            documents, grants = _load(FilesConnector(path), str(path)), {}
        elif path.is_file():
            from eval.kura_jsonl import read_documents

            documents, grants = read_documents(path), {}
        else:
            raise EvalError(f"documents not found: {spec} (use 'sample', a folder of files or a JSONL file)")
    if not documents:
        raise EvalError(f"no documents in {spec}")
    fingerprint = content_hash("|".join(sorted(d.content_hash for d in documents)))
    return Corpus(documents, grants, fingerprint)


def _load(connector, what: str) -> list[Document]:
    documents: list[Document] = []
    failures = []
    for batch in connector.load():
        documents.extend(batch.documents)
        failures.extend(batch.failures)
    if failures:
        reasons = "; ".join(f"{f.source_id}: {f.reason}" for f in failures[:3])
        raise EvalError(f"{len(failures)} documents of {what} could not be read: {reasons}")
    return documents
