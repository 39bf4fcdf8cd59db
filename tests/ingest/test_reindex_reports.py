"""What the re-index job reports on runs that change nothing, and on a folder's documents after a link is removed."""

from __future__ import annotations

from ingest.chunking import ChunkingConfig, create_chunker
from ingest.connectors.files import FilesConnector
from ingest.generations import EdgeGenerations
from ingest.pipeline import IndexPipeline
from ingest.reindex import IndexSource, ReindexJob
from retrieval.bm25 import BM25Encoder


def test_a_no_change_run_reports_the_documents_it_checked(tmp_path, embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("vpn", "badges", "printers"):
        (docs / f"{name}.md").write_text(f"# {name}\n\nAll about {name} at Hoshi Robotics.", encoding="utf-8")

    def make_pipeline(*, strategy, store, on_progress=None):
        chunker = create_chunker(strategy, ChunkingConfig(), model_pieces=embedder.count_word_pieces)
        return IndexPipeline(store, chunker, embedder, BM25Encoder(), on_progress=on_progress)

    def job() -> ReindexJob:
        files = FilesConnector(docs)
        return ReindexJob(EdgeGenerations(tmp_path / "index"), [IndexSource(files, scope=files.scope)], make_pipeline,
                          state_file=tmp_path / "state.json", default_strategy="tokens")

    first = job().run()
    again = job().run()  # nothing changed: the serving index is compared, not copied or opened
    assert again.stats.documents_unchanged == 3 and not again.switched
    assert (again.documents, again.chunks) == (first.documents, first.chunks) == (3, first.chunks)
    assert again.to_dict()["documents"] == 3  # `kura reindex --json` said 0 here
