"""What a crash can leave in a store, on both backends: staged chunks stay invisible; unfinished stores are cleared."""

from __future__ import annotations

import json

import numpy as np
import pytest
import qdrant_edge as qe

from core.errors import StoreNotFoundError
from core.store import HybridQuery
from core.store_edge import EdgeStore
from core.store_server import ServerStore
from core.types import Chunk
from ingest.generations import EdgeGenerations
from ingest.reindex_records import PendingBuild
from retrieval.bm25 import BM25Encoder
from tests.core.test_store_contract import DIM, unit

def chunk(doc: str, ordinal: int, text: str, principals=("public",)) -> Chunk:
    return Chunk(document_id=doc, ordinal=ordinal, text=text, index_text=text, heading_path=(), token_count=3,
                 strategy="tokens", principals=principals, title=doc, url="", source="sample",
                 document_hash=f"h-{doc}")


@pytest.fixture(params=["edge", "server"])
def store(request, tmp_path):
    s = EdgeStore(tmp_path / "idx") if request.param == "edge" else ServerStore(location=":memory:", collection="c")
    s.ensure_collection(DIM)
    yield s
    s.close()


def write(store, chunks, *, staged):
    enc = BM25Encoder(avg_len=4)
    store.upsert(chunks, np.stack([unit(i) for i in range(len(chunks))]), [enc.encode_document(c.text) for c in chunks],
                 staged=staged)


def visible(store, principals=("public", "group:hr")) -> set[str]:
    hits = store.query(HybridQuery(dense=unit(0), sparse=None, principals=principals, limit=100))
    return {h.chunk.id for h in hits}


def test_staged_chunks_are_invisible_until_published_in_one_step(store):
    done = [chunk("doc:a", 0, "vpn setup guide")]
    half = [chunk("doc:b", i, f"payroll calendar part {i}", principals=("group:hr",)) for i in range(3)]
    write(store, done, staged=True)
    store.publish(["doc:a"], ("public",))
    write(store, half, staged=True)
    # Every read path leaves staged chunks out: search (whatever the principals), get, count.
    assert visible(store) == {done[0].id}
    assert store.get([c.id for c in half]) == [] and store.count() == 1 and store.count("doc:b") == 0
    assert store.document_hashes() == {"doc:a": "h-doc:a", "doc:b": ""}  # b: unfinished
    store.publish(["doc:b"], ("group:hr",))
    assert visible(store) == {c.id for c in done + half}
    assert visible(store, principals=("public",)) == {done[0].id}  # published with its own access
    assert [c.principals for c in store.get([half[0].id])] == [("group:hr",)]
    assert store.document_hashes()["doc:b"] == "h-doc:b" and store.count() == 4


def test_a_shard_without_metadata_is_an_unfinished_store_and_is_rebuilt(tmp_path):
    """The crash of issue 16: shard created, meta.json not yet written; later runs failed 'already contains'."""
    path = tmp_path / "idx"
    config = qe.EdgeConfig(vectors={"dense": qe.EdgeVectorParams(size=DIM, distance=qe.Distance.Cosine)})
    qe.EdgeShard.create(str(path / "shard"), config).close()
    store = EdgeStore(path)
    assert not store.exists() and store.unfinished()
    with pytest.raises(StoreNotFoundError, match="unfinished"):
        store.count()
    store.ensure_collection(DIM)  # clears it and creates a fresh store
    write(store, [chunk("doc:a", 0, "vpn")], staged=False)
    assert store.exists() and store.count() == 1
    store.close()


@pytest.mark.parametrize("leftover", [".shard-new", "meta.json"])
def test_other_half_created_states_are_cleared_too(tmp_path, leftover):
    path = tmp_path / "idx"
    path.mkdir()
    if leftover == "meta.json":
        (path / "meta.json").write_text(json.dumps({"dense_dim": DIM}))
    else:
        (path / leftover / "wal").mkdir(parents=True)
    store = EdgeStore(path)
    assert store.unfinished()
    store.ensure_collection(DIM)
    assert store.exists() and not (path / ".shard-new").exists() and store.count() == 0
    store.close()


def test_reindex_and_ingest_after_a_killed_first_ingest_and_a_killed_build(tmp_path, embedder):
    """Both crash states of issue 16 at once: `main` unfinished, and the pending build's directory unfinished.

    Before: `kura reindex` exited 1 ("path already contains segment data") until --clean.
    """
    from ingest.chunking import ChunkingConfig, create_chunker
    from ingest.connectors.files import FilesConnector
    from ingest.pipeline import IndexPipeline
    from ingest.reindex import IndexSource, ReindexJob

    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("vpn", "badges", "printers"):
        (docs / f"{name}.md").write_text(f"# {name}\n\nAll about {name} at Hoshi Robotics.", encoding="utf-8")
    root = tmp_path / "index"
    config = qe.EdgeConfig(vectors={"dense": qe.EdgeVectorParams(size=DIM, distance=qe.Distance.Cosine)})
    qe.EdgeShard.create(str(root / "main" / "shard"), config).close()  # killed first `kura ingest`
    gens = EdgeGenerations(root)
    assert gens.serving() is None and "main" in gens.names()
    name = gens.new_name()
    qe.EdgeShard.create(str(root / name / "shard"), config).close()  # killed `kura reindex --full`
    state = tmp_path / "state" / "reindex.json"
    PendingBuild(state).write({"name": name, "mode": "full", "strategy": "tokens", "base": None, "started": "now"})

    def make_pipeline(*, strategy, store, on_progress=None):
        chunker = create_chunker(strategy, ChunkingConfig(), model_pieces=embedder.count_word_pieces)
        return IndexPipeline(store, chunker, embedder, BM25Encoder(), on_progress=on_progress)

    files = FilesConnector(docs)
    job = ReindexJob(gens, [IndexSource(files, scope=files.scope)], make_pipeline, state_file=state,
                     default_strategy="tokens")
    result = job.run()
    assert result.ok and result.switched and result.resumed and result.documents == 3
    assert gens.serving() == name and gens.names() == [name]  # the unfinished `main` was cleared
