"""The index layout (core/index_layout.py) reaches both backends: int8 in RAM, originals and payloads on disk."""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

from core.index_layout import IndexLayout
from core.settings import Settings
from core.store import HybridQuery, SparseVector
from core.store_edge import EdgeStore
from core.store_factory import open_store
from core.store_server import ServerStore
from tests.core.test_store_contract import make_chunk


def _persisted_config(store: EdgeStore) -> dict:
    # The engine records the configuration it created the shard with; reading it back shows what it will do.
    return json.loads((store.path / "shard" / "edge_config.json").read_text())


def test_embedded_index_is_int8_in_ram_with_originals_and_payloads_on_disk(tmp_path):
    store = EdgeStore(tmp_path / "idx", layout=IndexLayout(max_segment_kb=123_000))
    store.ensure_collection(8)
    store.close()
    config = _persisted_config(store)
    dense = config["vectors"]["dense"]
    assert dense["quantization_config"]["scalar"]["type"] == "int8"
    assert dense["quantization_config"]["scalar"]["memory"] == "cached"
    assert dense["memory"] == "cold"
    assert config["payload_memory"] == "cold"
    assert config["sparse_vectors"]["bm25"]["memory"] == "cold"
    assert config["vectors"]["dense"]["datatype"] == "float16"  # the default: half the originals' bytes
    assert config["optimizers"]["max_segment_size"] == 61_500  # the cap counts float32 originals


def test_unquantized_layout_keeps_float_vectors_in_ram(tmp_path):
    store = EdgeStore(tmp_path / "idx", layout=IndexLayout(quantize=False))
    store.ensure_collection(8)
    store.close()
    dense = _persisted_config(store)["vectors"]["dense"]
    assert dense.get("quantization_config") is None
    assert dense["memory"] == "cached"


def test_settings_choose_the_layout_of_a_new_index(tmp_path):
    settings = Settings(data_dir=tmp_path, index_quantize=False, index_hnsw_m=32)
    store = open_store(settings)
    store.ensure_collection(8)
    store.close()
    config = _persisted_config(store)
    assert config["hnsw_config"]["m"] == 32
    assert config["vectors"]["dense"].get("quantization_config") is None


class _JsonReplies(BaseHTTPRequestHandler):
    """Replies the way Qdrant's REST API wraps every result."""

    def _reply(self, result) -> None:
        body = json.dumps({"result": result, "status": "ok", "time": 0}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class _RecordingQdrant(_JsonReplies):
    """Answers the few REST calls of creating a collection and records what the client asked for."""

    bodies: dict[str, dict] = {}

    def do_GET(self) -> None:  # noqa: N802
        self._reply({"exists": False} if self.path.endswith("/exists") else {})

    def do_PUT(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        self.bodies[self.path.split("?")[0]] = json.loads(self.rfile.read(length) or b"{}")
        self._reply(True if "/index" not in self.path else {"operation_id": 1, "status": "completed"})


def test_server_collection_gets_the_same_design():
    server = HTTPServer(("127.0.0.1", 0), _RecordingQdrant)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        store = ServerStore(
            f"http://127.0.0.1:{server.server_port}", collection="c", layout=IndexLayout(shards=3, replication=2)
        )
        store.ensure_collection(8)
    finally:
        server.shutdown()
    body = _RecordingQdrant.bodies["/collections/c"]
    dense = body["vectors"]["dense"]
    assert dense["on_disk"] is True
    assert dense["quantization_config"]["scalar"]["type"] == "int8"
    assert dense["quantization_config"]["scalar"]["always_ram"] is True
    assert body["on_disk_payload"] is True
    assert body["shard_number"] == 3
    assert body["replication_factor"] == 2
    # The segment cap the embedded store fills to 3/4 per batch: a server's optimizer keeps segments as large.
    assert body["optimizers_config"]["max_segment_size"] == IndexLayout().engine_segment_kb
    assert body["sparse_vectors"]["bm25"]["modifier"] == "idf"


def test_quantized_search_rescores_to_the_exact_order(tmp_path):
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((300, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = EdgeStore(tmp_path / "idx")
    store.ensure_collection(8)
    chunks = [make_chunk(f"doc:{i}", 0, f"text {i}") for i in range(300)]
    store.upsert(chunks, vectors, [SparseVector((), ())] * 300)
    store.optimize()
    query = vectors[17] + 0.05 * rng.standard_normal(8).astype(np.float32)
    hits = store.query(HybridQuery(dense=query, sparse=None, principals=("public",), limit=10))
    exact = np.argsort(-(vectors @ (query / np.linalg.norm(query))))[:10]
    assert [h.chunk.document_id for h in hits] == [f"doc:{i}" for i in exact]


@pytest.mark.parametrize("bad", [dict(hnsw_m=2), dict(oversampling=0.5), dict(shards=0), dict(read_ahead_cold_mb=-1)])
def test_layout_rejects_nonsense(bad):
    with pytest.raises(ValueError):
        IndexLayout(**bad)


def test_an_older_index_without_the_staged_field_index_gets_it_on_open(tmp_path):
    # Indexes built before ``staged`` existed lack its payload index; count() filters on it, and unindexed
    # it scans every payload (at 1M chunks ~800 MB read into the serving process on each call).
    import qdrant_edge as qe

    store = EdgeStore(tmp_path / "idx")
    store.ensure_collection(8)
    store.upsert([make_chunk("doc:a", 0, "text")], np.ones((1, 8), dtype=np.float32), [SparseVector((), ())])
    store._open().update(qe.UpdateOperation.delete_field_index("staged"))
    store.close()
    shard = qe.EdgeShard.load(str(tmp_path / "idx" / "shard"))
    assert "staged" not in shard.info().payload_schema
    shard.close()

    reopened = EdgeStore(tmp_path / "idx")
    assert reopened.count() == 1
    assert "staged" in reopened._open().info().payload_schema
    reopened.close()


def _bytes_read_by_this_process() -> int:
    for line in open("/proc/self/io"):
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def _index_with_cold_parts(tmp_path, layout, words: int = 0):
    store = EdgeStore(tmp_path / "idx", layout=layout)
    store.ensure_collection(8)
    rng = np.random.default_rng(5)
    # ``words`` random numbers a chunk: payloads that do not compress away
    chunks = [make_chunk(f"doc:{i}", 0, " ".join([f"text {i}", *map(str, rng.integers(0, 10**9, words))]))
              for i in range(300)]
    store.upsert(chunks, rng.standard_normal((300, 8)).astype(np.float32), [SparseVector((1, 2), (0.5, 0.5))] * 300)
    store.optimize()
    store.close()
    segments = tmp_path / "idx" / "shard" / "segments"
    files = [f for f in segments.rglob("*") if f.is_file()]
    cold = [f for f in files if any(p in f.relative_to(segments).as_posix() for p in layout.edge_cold_paths())]
    hot = [f for f in files if f not in cold]
    return files, hot, cold


@pytest.mark.parametrize("quantize", [True, False])
def test_open_reads_ahead_the_files_the_engine_loads_whole_and_skips_the_cold_ones_of_a_big_index(tmp_path, quantize):
    # read_ahead_cold_mb=0: every index is "big", its on-disk parts are left to the queries (1M: ~3 GB).
    layout = IndexLayout(quantize=quantize, indexing_threshold_kb=1, read_ahead_cold_mb=0)  # an indexed segment
    files, hot, cold = _index_with_cold_parts(tmp_path, layout)
    originals = [f for f in files if f.name == "matrix.dat"]
    assert originals and all((f in cold) == quantize for f in originals)  # float32 originals: cold only beside int8
    assert any(f.name == "payload_storage" or "payload_storage" in f.parts for f in cold)

    before = _bytes_read_by_this_process()
    reopened = EdgeStore(tmp_path / "idx", layout=layout)
    reopened._read_ahead()
    extra = _bytes_read_by_this_process() - before - sum(f.stat().st_size for f in hot)
    assert 0 <= extra < 4096  # every hot file whole, no cold byte (the slack is reading /proc/self/io itself)
    assert sum(f.stat().st_size for f in cold) > 4096
    # Opening does the read-ahead: the engine itself maps its files, which reads (rchar) do not count.
    before = _bytes_read_by_this_process()
    assert reopened.count() == 300
    assert _bytes_read_by_this_process() - before >= sum(f.stat().st_size for f in hot)
    reopened.close()


def test_open_reads_ahead_the_cold_parts_too_when_they_fit_the_budget_else_returns_them_in_order(tmp_path):
    # 100k chunks: all ~300 MB of postings, originals, payloads and BM25 vectors, each page otherwise a disk read
    # on its first touch; 1M (~3 GB): none before the open, all of them left to the background, postings first.
    layout = IndexLayout(indexing_threshold_kb=1)
    files, hot, cold = _index_with_cold_parts(tmp_path, layout)
    segments = tmp_path / "idx" / "shard" / "segments"
    everything = sum(f.stat().st_size for f in cold)
    assert everything <= layout.read_ahead_cold_mb * 2**20

    def read_ahead(budget_mb):
        before = _bytes_read_by_this_process()
        rest = EdgeStore(tmp_path / "idx", layout=IndexLayout(indexing_threshold_kb=1, read_ahead_cold_mb=budget_mb))._read_ahead()
        return _bytes_read_by_this_process() - before - sum(f.stat().st_size for f in hot), rest

    read, rest = read_ahead(layout.read_ahead_cold_mb)
    assert 0 <= read - everything < 4096 and rest == []  # all of it, once
    read, rest = read_ahead(everything // 2**20 - 1)  # 1 MB short
    assert read < 4096 and sorted(rest) == sorted(cold)
    parts = [next(p for p in layout.edge_cold_paths() if p in f.relative_to(segments).as_posix()) for f in rest]
    assert parts == sorted(parts, key=layout.edge_cold_paths().index)  # in the layout's order
    assert layout.edge_cold_paths()[:2] == ("vector_index-bm25/", "vector_storage-dense/matrix.dat")


def _storage_bytes_read_by_this_process() -> int:
    for line in open("/proc/self/io"):
        if line.startswith("read_bytes:"):
            return int(line.split()[1])
    raise AssertionError("no read_bytes in /proc/self/io")


def _evict(files) -> None:
    for f in files:
        fd = os.open(f, os.O_RDONLY)
        os.fsync(fd)  # dirty pages cannot be dropped
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)


def _read_all(files) -> None:
    for f in files:
        with open(f, "rb", buffering=0) as fh:
            while fh.read(1 << 20):
                pass


@pytest.mark.parametrize("warm", [True, False])
def test_the_cold_parts_the_read_ahead_leaves_are_cached_in_the_background_after_open(tmp_path, warm):
    # 1M chunks: ~3 GB of originals, payloads and BM25 vectors, too big to read before the first query; until
    # cached, each query faulted ~8 of their pages from disk.
    layout = IndexLayout(indexing_threshold_kb=1, read_ahead_cold_mb=0, warm_in_background=warm)
    _, _, cold = _index_with_cold_parts(tmp_path, layout, words=400)  # ~4 KB payloads: ~1.2 MB on disk
    on_disk = sum(f.stat().st_blocks * 512 for f in cold)  # the files are mostly preallocated holes
    assert on_disk > 2**20
    _evict(cold)
    before = _storage_bytes_read_by_this_process()
    _read_all(cold)
    if _storage_bytes_read_by_this_process() - before < on_disk // 2:
        pytest.skip("this filesystem does not account reads from storage in /proc/self/io")
    _evict(cold)
    store = EdgeStore(tmp_path / "idx", layout=layout)
    assert store.count() == 300
    assert (store._warming is not None) == warm
    if warm:
        store._warming.join(timeout=30)
        time.sleep(0.5)  # the kernel's reads were only started by the calls
    before = _storage_bytes_read_by_this_process()
    _read_all(cold)
    from_disk = _storage_bytes_read_by_this_process() - before
    if warm:
        assert from_disk < on_disk // 10, (from_disk, on_disk)
    else:
        assert from_disk > on_disk // 2, (from_disk, on_disk)
    store.close()
    assert store._warming is None


def test_the_embedded_store_writes_one_segment_per_batch_and_never_merges_two_full_ones(tmp_path):
    # 1M chunks of 384 dims at the default cap: 2 segments of 500k (searched on 2 threads), not 5 of 200k.
    assert IndexLayout().segment_points(384) == 500_000
    # float32 originals: at 8 dims the 60-point leftover stays above the 1 KB indexing threshold (float16: 0.96 KB).
    layout = IndexLayout(max_segment_kb=5, indexing_threshold_kb=1, vector_datatype="float32")  # 120 points a segment
    assert layout.segment_points(8) == 120
    store = EdgeStore(tmp_path / "idx", layout=layout)
    store.ensure_collection(8)
    rng = np.random.default_rng(1)
    for start in range(0, 300, 30):
        chunks = [make_chunk(f"doc:{i}", 0, f"text {i}") for i in range(start, start + 30)]
        store.upsert(chunks, rng.standard_normal((30, 8)).astype(np.float32), [SparseVector((1,), (1.0,))] * 30)
    store.optimize()
    assert store.count() == 300
    store.close()
    indexed = [d for d in (tmp_path / "idx" / "shard" / "segments").iterdir() if (d / "vector_index-dense").is_dir()]
    assert len(indexed) == 3  # 120 + 120 + 60: each batch its own graph, none merged with another


def test_the_search_pool_is_one_thread_for_one_segment_and_the_engines_default_for_more(tmp_path):
    # One graph: nothing to search in parallel, and the hand-offs to pool threads cost CPU (100k: 3.7 -> 2.3 ms).
    layout = IndexLayout(max_segment_kb=5, indexing_threshold_kb=1)  # 8 dims: 120 points a segment
    store = EdgeStore(tmp_path / "idx", layout=layout)
    store.ensure_collection(8)
    rng = np.random.default_rng(2)

    def write(start, n):
        chunks = [make_chunk(f"doc:{i}", 0, f"text {i}") for i in range(start, start + n)]
        store.upsert(chunks, rng.standard_normal((n, 8)).astype(np.float32), [SparseVector((1,), (1.0,))] * n)
        store.optimize()
        store.close()
        assert store.count() == start + n  # reopens
        return _persisted_config(store).get("max_search_threads")

    assert write(0, 100) == 1  # one segment
    assert write(100, 200) is None  # three: the engine's default pool (4 x CPUs)
    store.close()


class _ShardSpy:
    """Forwards to the real shard and keeps the requests it was given (the engine does not report its plan)."""

    def __init__(self, shard) -> None:
        self.shard, self.requests = shard, []

    def query(self, request):
        self.requests.append(request)
        return self.shard.query(request)

    def __getattr__(self, name):
        return getattr(self.shard, name)


def test_hybrid_query_carries_the_permission_filter_on_the_prefetches_only(tmp_path):
    # Also on the fused query, the engine adds it to each prefetch a second time: checked twice per visited point
    # (1M chunks: 3-5 ms of CPU a query). On the prefetches alone nothing outside the user's principals is fused.
    store = EdgeStore(tmp_path / "idx")
    store.ensure_collection(8)
    vectors = np.eye(8, dtype=np.float32)[:4]
    chunks = [make_chunk(f"doc:{i}", 0, f"shared words {i}", principals=("public",) if i % 2 else ("secret",))
              for i in range(4)]
    store.upsert(chunks, vectors, [SparseVector((7,), (1.0,))] * 4)
    spy = _ShardSpy(store._open())
    store._shard = spy
    hits = store.query(HybridQuery(dense=vectors[0], sparse=SparseVector((7,), (1.0,)), principals=("public",), limit=4))
    assert {h.chunk.document_id for h in hits} == {"doc:1", "doc:3"}
    request = spy.requests[-1]
    assert request.filter is None
    assert len(request.prefetches) == 2
    for prefetch in request.prefetches:
        assert prefetch.filter is not None and "principals" in repr(prefetch.filter)
        # The query shape of the layout (core/index_layout.py) reaches each prefetch.
        assert prefetch.params.hnsw_ef == store.layout.hnsw_ef
        assert prefetch.params.quantization.oversampling == store.layout.oversampling
        assert prefetch.params.quantization.rescore is True
    store._shard = spy.shard


class _QueryRecorder(_JsonReplies):
    """A Qdrant that has collection ``c`` and answers every query with no points, recording the query bodies."""

    queries: list[dict] = []

    def do_GET(self) -> None:  # noqa: N802
        self._reply({"exists": True})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        self.queries.append(json.loads(self.rfile.read(length) or b"{}"))
        self._reply({"points": []})


def test_server_hybrid_query_carries_the_permission_filter_on_the_prefetches_only():
    server = HTTPServer(("127.0.0.1", 0), _QueryRecorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        store = ServerStore(f"http://127.0.0.1:{server.server_port}", collection="c")
        store.query(HybridQuery(dense=np.ones(8, dtype=np.float32), sparse=SparseVector((7,), (1.0,)),
                                principals=("public",), limit=4))
    finally:
        server.shutdown()
    body = _QueryRecorder.queries[-1]
    assert body.get("filter") is None
    assert len(body["prefetch"]) == 2
    layout = IndexLayout()
    for prefetch in body["prefetch"]:
        assert prefetch["filter"]["must"][0]["key"] == "principals"
        # The same search shape as the embedded engine's.
        assert prefetch["params"]["hnsw_ef"] == layout.hnsw_ef
        assert prefetch["params"]["quantization"] == {"rescore": True, "oversampling": layout.oversampling}


def test_settings_defaults_are_the_layout_defaults():
    # KURA_INDEX_* unset must give the layout chosen by measurement (the module docstring's figures).
    assert IndexLayout.from_settings(Settings(_env_file=None)) == IndexLayout()


def test_float16_originals_take_two_bytes_a_dimension_and_half_the_engine_cap(tmp_path):
    layout = IndexLayout(vector_datatype="float16", max_segment_kb=100_000)
    assert layout.engine_segment_kb == 50_000
    assert IndexLayout(vector_datatype="float32", max_segment_kb=100_000).engine_segment_kb == 100_000
    assert layout.segment_points(384) == IndexLayout(max_segment_kb=100_000).segment_points(384)  # same points
    store = EdgeStore(tmp_path / "idx", layout=layout)
    store.ensure_collection(16)
    n = 300
    vecs = np.random.default_rng(0).standard_normal((n, 16)).astype(np.float32)
    store.upsert([make_chunk(f"doc:{i}", 0, f"text {i}") for i in range(n)], vecs, [SparseVector((1,), (1.0,))] * n)
    store.flush()
    hits = store.query(HybridQuery(dense=vecs[7], sparse=None, principals=("public",), limit=1))
    store.close()
    config = _persisted_config(store)
    assert config["vectors"]["dense"]["datatype"] == "float16"
    assert config["optimizers"]["max_segment_size"] == 50_000
    # The engine's vector file records its element size: two bytes a dimension, not four.
    (storage,) = [json.loads(f.read_text()) for f in (tmp_path / "idx").rglob("vector_storage-dense/vectors/config.json")]
    assert storage["chunk_size_bytes"] // storage["chunk_size_vectors"] == 16 * 2
    assert hits and hits[0].chunk.document_id == "doc:7"


def test_unknown_vector_datatype_is_refused():
    with pytest.raises(ValueError, match="float32 or float16"):
        IndexLayout(vector_datatype="int4")


def test_server_collection_gets_float16_originals_too():
    server = HTTPServer(("127.0.0.1", 0), _RecordingQdrant)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        ServerStore(f"http://127.0.0.1:{server.server_port}", collection="half",
                    layout=IndexLayout(vector_datatype="float16")).ensure_collection(8)
    finally:
        server.shutdown()
    body = _RecordingQdrant.bodies["/collections/half"]
    assert body["vectors"]["dense"]["datatype"] == "float16"
    assert body["optimizers_config"]["max_segment_size"] == IndexLayout().max_segment_kb // 2
