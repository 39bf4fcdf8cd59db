"""The files connector stays in its folder, reports what it leaves out, and its documents follow the folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from core.protocols import DocumentFailure, SyncBatch
from core.store_edge import EdgeStore
from core.types import Document, Section
from ingest.chunking import ChunkingConfig, create_chunker
from ingest.connectors.files import FilesConnector, SkippedFile
from ingest.pipeline import IndexPipeline
from retrieval.bm25 import BM25Encoder

REPO = Path(__file__).resolve().parents[3]


def listing(connector: FilesConnector) -> SyncBatch:
    """Everything one load() yields, merged."""
    out = SyncBatch()
    for batch in connector.load():
        out.documents += batch.documents
        out.failures += batch.failures
        out.skipped += batch.skipped
    return out


@pytest.fixture
def folders(tmp_path):
    docs, outside = tmp_path / "docs", tmp_path / "outside"
    (docs / "team").mkdir(parents=True)
    outside.mkdir()
    (docs / "vpn.md").write_text("# VPN\n\nConnect with Hoshi Connect.", encoding="utf-8")
    (docs / "team" / "badges.md").write_text("# Badges\n\nReturn your badge.", encoding="utf-8")
    (outside / "secret.md").write_text("# Secret\n\nThe root password is hunter2.", encoding="utf-8")
    (outside / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    return docs, outside


def test_links_out_of_the_folder_are_not_followed_and_are_reported(folders):
    docs, outside = folders
    (docs / "passwd.md").symlink_to(outside / "passwd")
    (docs / "secret.md").symlink_to(outside / "secret.md")
    (docs / "more").symlink_to(outside, target_is_directory=True)
    (docs / "up.md").symlink_to("../outside/secret.md")  # a relative `..` escape
    got = listing(FilesConnector(docs))
    texts = " ".join(d.text for d in got.documents)
    assert "hunter2" not in texts and "root:x" not in texts
    assert sorted(d.source_id for d in got.documents) == [f"{docs}/team/badges.md", f"{docs}/vpn.md"]
    skipped = {s.source_id: s.reason for s in got.skipped}
    assert set(skipped) == {f"{docs}/passwd.md", f"{docs}/secret.md", f"{docs}/more/", f"{docs}/up.md"}
    assert all("symbolic link" in reason for reason in skipped.values())
    assert not got.failures


def test_reading_a_link_by_name_is_refused_too(folders):
    """The walk reports links before reading; the open itself refuses one too (a link swapped in meanwhile)."""
    docs, outside = folders
    (docs / "swapped.md").symlink_to(outside / "secret.md")
    with pytest.raises(SkippedFile, match="symbolic link"):
        FilesConnector(docs).read(docs / "swapped.md")


def test_every_document_id_lies_in_the_folder_scope(folders):
    docs, _ = folders
    connector = FilesConnector(docs)
    got = listing(connector)
    assert got.documents and all(d.id.startswith(connector.scope) for d in got.documents)


def test_special_files_are_skipped_not_read(folders):
    docs, _ = folders
    os.mkfifo(docs / "pipe.md")  # reading a FIFO would block the crawl forever
    got = listing(FilesConnector(docs))
    assert [(s.source_id, "not a regular file" in s.reason) for s in got.skipped] == [(f"{docs}/pipe.md", True)]


def test_a_file_over_the_size_limit_fails_with_a_clear_message(folders):
    docs, _ = folders
    (docs / "big.txt").write_text("x" * 2_000, encoding="utf-8")
    got = listing(FilesConnector(docs, max_bytes=1_000))
    [failure] = got.failures
    assert failure.source_id == f"{docs}/big.txt"
    assert "over the per-document limit" in failure.reason and "KURA_MAX_DOCUMENT_MB" in failure.reason


def test_an_unreadable_subfolder_is_reported(tmp_path):
    """As root, permissions do not bind: the listing then runs in a child process as nobody."""
    base = Path(tempfile.mkdtemp(prefix="kura-files-"))
    os.chmod(base, 0o755)
    docs = base / "docs"
    (docs / "locked").mkdir(parents=True)
    (docs / "open.md").write_text("# Open\n\nreadable", encoding="utf-8")
    (docs / "locked" / "hidden.md").write_text("# Hidden\n\nunreadable", encoding="utf-8")
    for p in (docs, docs / "open.md", docs / "locked" / "hidden.md"):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    os.chmod(docs / "locked", 0o000)
    # Everything is imported before the privileges go: the interpreter's own files may not be readable to nobody.
    code = ("import json,os,sys\n"
            "from ingest.connectors.files import FilesConnector, SkippedFile\n"
            "if os.geteuid() == 0: os.setgid(65534); os.setuid(65534)\n"
            "out = {'documents': [], 'failures': []}\n"
            "for b in FilesConnector(sys.argv[1]).load():\n"
            "    out['documents'] += [d.source_id for d in b.documents]\n"
            "    out['failures'] += [[f.source_id, f.reason] for f in b.failures]\n"
            "print(json.dumps(out))\n")
    try:
        run = subprocess.run([sys.executable, "-c", code, str(docs)], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=base)
    finally:
        os.chmod(docs / "locked", 0o755)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["documents"] == [f"{docs}/open.md"]
    assert [f[0] for f in out["failures"]] == [f"{docs}/locked/"]
    assert "not readable" in out["failures"][0][1]


# --- with the pipeline: what leaves the folder leaves the index ---------------------------------

@pytest.fixture
def index(tmp_path, embedder):
    store = EdgeStore(tmp_path / "idx")
    chunker = create_chunker("tokens", ChunkingConfig(chunk_tokens=60, overlap_tokens=10, min_tokens=20),
                             model_pieces=embedder.count_word_pieces)

    def run(connector=None, batches=None, full_scope=()):
        pipeline = IndexPipeline(store, chunker, embedder, BM25Encoder(), embed_batch=8)
        if batches is not None:
            return pipeline.index(batches, full_scope=full_scope)
        return pipeline.index(connector.load(), full_scope=connector.scope, scope_families=(connector.scope_family,))

    yield run, store
    store.close()


def test_what_an_older_version_indexed_through_a_link_is_removed(folders, index):
    docs, outside = folders
    run, store = index
    # An older version followed docs/passwd.md -> outside/passwd and indexed it under the target's path.
    legacy = Document("files", f"{outside}/passwd", "passwd", (Section("root:x:0:0:root:/root:/bin/bash"),))
    run(batches=[SyncBatch(documents=[legacy])])
    assert legacy.id in store.document_hashes()
    other = docs.parent / "other"
    other.mkdir()
    (other / "canteen.md").write_text("# Canteen\n\nOpens at 11:30.", encoding="utf-8")
    # The first folder ingested by this version records its scope; a files document outside every recorded
    # folder can only be such a leftover, and goes.
    stats = run(FilesConnector(other))
    assert legacy.id not in store.document_hashes() and stats.documents_deleted == 1
    # Another folder later: the first folder's documents are in a recorded scope and stay.
    stats = run(FilesConnector(docs))
    assert stats.documents_deleted == 0
    assert set(store.document_hashes()) == {f"files:{docs}/vpn.md", f"files:{docs}/team/badges.md",
                                            f"files:{other}/canteen.md"}


def test_removed_files_leave_the_index_and_unreadable_folders_keep_theirs(folders, index):
    docs, _ = folders
    run, store = index
    run(FilesConnector(docs))
    (docs / "vpn.md").unlink()
    # The team folder could not be listed this time (as the walk reports it): its document stays;
    # the removed file goes.
    connector = FilesConnector(docs)
    batches = [SyncBatch(documents=[d for b in connector.load() for d in b.documents if "team" not in d.source_id],
                         failures=[DocumentFailure("files", f"{docs}/team/", "folder not readable")])]
    stats = run(batches=batches, full_scope=connector.scope)
    assert set(store.document_hashes()) == {f"files:{docs}/team/badges.md"}
    assert stats.documents_deleted == 1 and stats.documents_failed == 1


def test_empty_files_are_skipped_not_added(folders, index):
    docs, _ = folders
    run, store = index
    (docs / "empty.md").write_text("", encoding="utf-8")
    (docs / "blank.txt").write_text("  \n\n ", encoding="utf-8")
    stats = run(FilesConnector(docs))
    assert stats.documents_added == 2 and stats.documents_skipped == 2
    assert {s.source_id for s in stats.skipped} == {f"{docs}/empty.md", f"{docs}/blank.txt"}
    assert all(s.reason == "no text to index" for s in stats.skipped)

