"""The re-index job in-process: generations, atomic switch, checks, resume after a crash, both store backends."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from core.errors import JobLockedError
from core.store import HybridQuery
from core.store_edge import EdgeStore
from ingest.chunking import ChunkingConfig, create_chunker
from ingest.connectors.files import FilesConnector
from ingest.generations import EdgeGenerations, ServerGenerations
from ingest.job_lock import JobLock
from ingest.pipeline import IndexPipeline
from ingest.reindex import IndexSource, ReindexJob
from retrieval.bm25 import BM25Encoder

TOPICS = {
    "vpn": "Connect to the VPN with Hoshi Connect before opening the intranet from a hotel.",
    "badges": "Return your badge to reception on the last day of your contract.",
    "printers": "Print to Hoshi-SecurePrint and release the job with your office badge.",
    "expenses": "Submit expense reports in Hoshi Expense within 30 days of the receipt date.",
    "keihi": "経費精算申請書は領収書の日付から30日以内に提出してください。",
    "parking": "Bicycle parking is in the basement; cars park at the station garage.",
}


class CountingEmbedder:
    """The real embedder, counting calls to embed_documents (re-embedding is what a no-change run must avoid)."""

    def __init__(self, inner):
        self.inner, self.calls, self.texts = inner, 0, 0

    @property
    def dimension(self):
        return self.inner.dimension

    def embed_documents(self, texts):
        self.calls += 1
        self.texts += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text):
        return self.inner.embed_query(text)


class Crash(BaseException):
    """The process dying mid-run."""


class DyingConnector:
    """Lists the first batch of a real connector, then dies."""

    def __init__(self, inner):
        self.inner, self.name = inner, inner.name

    def load(self):
        for i, batch in enumerate(self.inner.load()):
            if i == 1:
                raise Crash()
            yield batch

    poll = lambda self, since: self.load()  # noqa: E731


def write_docs(folder: Path, topics: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, sentence in topics.items():
        (folder / f"{name}.md").write_text(f"# {name.title()}\n\n{sentence} " * 2, encoding="utf-8")


@pytest.fixture
def env(tmp_path, embedder):
    docs = tmp_path / "docs"
    write_docs(docs, TOPICS)
    counting = CountingEmbedder(embedder)
    config = ChunkingConfig(chunk_tokens=60, overlap_tokens=10, min_tokens=20)

    def make_pipeline(*, strategy, store, on_progress=None):
        chunker = create_chunker(strategy, config, model_pieces=embedder.count_word_pieces)
        return IndexPipeline(store, chunker, counting, BM25Encoder(), embed_batch=2, on_progress=on_progress)

    def job(generations=None, connector=None, **kwargs) -> ReindexJob:
        files = FilesConnector(docs, batch_size=2)
        source = IndexSource(connector or files, scope=files.scope)
        return ReindexJob(generations or EdgeGenerations(tmp_path / "index"), [source], make_pipeline,
                          state_file=tmp_path / "state" / "reindex.json", default_strategy="tokens", **kwargs)

    return job, docs, counting, tmp_path


def serving_store(root: Path) -> EdgeStore:
    return EdgeStore(root / (root / "CURRENT").read_text().strip())


def test_first_run_builds_and_no_change_run_embeds_nothing(env):
    job, _, counting, tmp = env
    first = job().run()
    assert first.mode == "full" and first.switched and first.ok
    assert first.documents == len(TOPICS) and first.chunks >= len(TOPICS)
    generations = EdgeGenerations(tmp / "index")
    assert generations.names() == [first.index] == [generations.serving()]
    calls = counting.calls
    second = job().run()
    assert second.mode == "incremental" and not second.switched
    assert second.stats.documents_unchanged == len(TOPICS) and second.stats.chunks_embedded == 0
    assert counting.calls == calls  # not one embedding call
    assert generations.names() == [first.index]  # the working copy was thrown away


def test_changes_go_into_a_new_generation_and_the_old_one_goes(env):
    job, docs, _, tmp = env
    first = job().run()
    (docs / "vpn.md").write_text("# Vpn\n\nThe VPN was replaced by the zero-trust agent Hoshi Access.", encoding="utf-8")
    (docs / "parking.md").unlink()
    (docs / "canteen.md").write_text("# Canteen\n\nThe canteen opens at 11:30 on weekdays.", encoding="utf-8")
    result = job().run()
    s = result.stats
    assert (s.documents_added, s.documents_updated, s.documents_deleted) == (1, 1, 1)
    assert result.switched and result.index != first.index and result.documents == len(TOPICS)
    assert not (tmp / "index" / first.index).exists()
    store = serving_store(tmp / "index")
    hits = store.query(HybridQuery(dense=None, sparse=BM25Encoder().encode_query("zero-trust agent"),
                                   principals=("public",)))
    assert hits and hits[0].chunk.title == "Vpn"
    store.close()


def test_incremental_runs_work_while_a_reader_holds_the_serving_index(env):
    job, docs, counting, tmp = env
    first = job().run()
    reader = serving_store(tmp / "index")  # like the web app: the embedded engine lets one holder open it
    assert reader.count() == first.chunks
    generations = EdgeGenerations(tmp / "index")
    try:
        assert generations.manifest(first.index) is not None
        calls = counting.calls
        idle = job().run()  # compares against the manifest: no copy, nothing written
        assert not idle.switched and counting.calls == calls
        assert generations.names() == [first.index] and not (tmp / "state" / "reindex.json").exists()
        (docs / "canteen.md").write_text("# Canteen\n\nThe canteen opens at 11:30 on weekdays.", encoding="utf-8")
        changed = job().run()  # the first write copies the held index
        assert changed.switched and changed.stats.documents_added == 1
        assert reader.count() == first.chunks  # the old generation kept serving its reader meanwhile
    finally:
        reader.close()


def test_a_store_written_in_place_is_compared_in_full(env, embedder):
    job, _, _, tmp = env
    first = job().run()
    # `kura ingest` / `kura sync` write the serving index in place: the manifest no longer describes it.
    store = serving_store(tmp / "index")
    victim = next(iter(store.document_hashes()))
    from core.protocols import SyncBatch

    chunker = create_chunker("tokens", ChunkingConfig(chunk_tokens=60, overlap_tokens=10, min_tokens=20))
    IndexPipeline(store, chunker, embedder, BM25Encoder()).index([SyncBatch(deleted_ids=[victim])])
    store.close()
    assert EdgeGenerations(tmp / "index").manifest(first.index) is None
    repaired = job().run()
    assert repaired.stats.documents_added == 1 and repaired.switched and repaired.documents == len(TOPICS)


def test_full_rebuild_with_another_strategy_sticks(env):
    job, _, counting, tmp = env
    job().run()
    full = job().run(full=True, strategy="structure")
    assert full.mode == "full" and full.switched and full.stats.chunks_embedded > 0
    store = serving_store(tmp / "index")
    assert store.get_meta()["chunk_strategy"] == "structure"
    store.close()
    # Incremental runs keep the serving index's strategy instead of re-chunking with the default.
    calls = counting.calls
    assert job().run().stats.chunks_embedded == 0 and counting.calls == calls


def test_a_rebuild_much_smaller_than_the_serving_index_is_not_switched(env):
    job, docs, _, tmp = env
    first = job().run()
    for name in list(TOPICS)[:4]:
        (docs / f"{name}.md").unlink()
    refused = job(min_share=0.5).run()
    assert not refused.switched and "under 50%" in refused.problems[0]
    assert EdgeGenerations(tmp / "index").serving() == first.index
    forced = job(min_share=0.5).run(force=True)  # resumes the refused build and switches
    assert forced.switched and forced.resumed and forced.documents == 2


def test_a_crashed_rebuild_leaves_the_old_index_serving_and_resumes(env):
    job, docs, counting, tmp = env
    first = job().run()
    with pytest.raises(Crash):
        job(connector=DyingConnector(FilesConnector(docs, batch_size=2))).run(full=True, strategy="structure")
    generations = EdgeGenerations(tmp / "index")
    assert generations.serving() == first.index and len(generations.names()) == 2  # old + the interrupted build
    texts = counting.texts
    resumed = job().run(full=True, strategy="structure")
    assert resumed.resumed and resumed.switched and resumed.documents == len(TOPICS)
    assert resumed.stats.documents_unchanged >= 2  # what the killed run had written is not redone
    assert counting.texts - texts < resumed.chunks
    assert generations.names() == [resumed.index]
    # A different strategy would discard the interrupted build and start clean instead.


def test_clean_discards_an_interrupted_build(env):
    job, docs, _, tmp = env
    job().run()
    with pytest.raises(Crash):
        job(connector=DyingConnector(FilesConnector(docs, batch_size=2))).run(full=True)
    clean = job().run(full=True, clean=True)
    assert not clean.resumed and clean.switched and clean.stats.documents_added == len(TOPICS)


def test_one_job_at_a_time(tmp_path):
    lock = tmp_path / "reindex.lock"
    with JobLock(lock, "kura reindex"):
        with pytest.raises(JobLockedError, match=r"another kura reindex is running \(pid \d+"):
            with JobLock(lock, "kura reindex"):
                pass
    with JobLock(lock, "kura reindex"):  # released on exit
        pass


def test_server_backend_switches_the_alias_while_queries_keep_working(env):
    job, docs, _, _ = env
    client = QdrantClient(location=":memory:")
    generations = ServerGenerations(client, "kura")
    first = job(generations).run()
    assert first.switched and generations.serving() == first.index
    query = HybridQuery(dense=None, sparse=BM25Encoder().encode_query("badge reception contract"),
                        principals=("public",))
    alias = generations.open("kura")
    seen: list[tuple[str, int]] = []
    failures: list[BaseException] = []  # an assertion in the reader thread must fail the test, not just warn
    stop = threading.Event()

    def reader():
        try:
            while not stop.wait(0.01):  # pauses let the rebuild run: local mode is pure Python, sharing the GIL
                hits = alias.query(query)
                assert hits and hits[0].chunk.title == "Badges", f"a query during the rebuild saw {hits!r}"
                seen.append((hits[0].chunk.strategy, alias.count()))
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread below
            failures.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        second = job(generations).run(full=True, strategy="structure")
    finally:
        stop.set()
        thread.join()
    if failures:
        raise failures[0]
    assert second.switched and generations.serving() == second.index != first.index
    # Every query saw a complete index: the old one or the new one, never one being built.
    assert set(seen) <= {("tokens", first.chunks), ("structure", second.chunks)}
    assert ("tokens", first.chunks) in seen  # the reader did run while the new collection was being built
    assert not client.collection_exists(first.index)
    assert alias.get_meta()["chunk_strategy"] == "structure"
    # Incremental runs update the serving collection in place.
    (docs / "canteen.md").write_text("# Canteen\n\nThe canteen opens at 11:30.", encoding="utf-8")
    third = job(generations).run()
    assert third.stats.documents_added == 1 and not third.switched and generations.serving() == second.index


def test_server_backend_takes_over_a_plain_collection(env, embedder):
    job, _, _, _ = env
    client = QdrantClient(location=":memory:")
    generations = ServerGenerations(client, "kura")
    # An index made by `kura ingest` before any re-index: a collection named like the alias.
    plain = generations.open("kura")
    plain.ensure_collection(embedder.dimension)
    assert generations.serving() == "kura"
    result = job(generations).run(full=True)
    assert result.switched and generations.serving() == result.index
    assert [a.alias_name for a in client.get_aliases().aliases] == ["kura"]
