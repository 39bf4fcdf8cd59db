"""Embedded backend: the Qdrant engine in-process through Qdrant Edge (``qdrant-edge-py``).

Layout of a store directory::

    <path>/shard/      the Edge shard (segments, WAL)
    <path>/meta.json   index metadata (embedder, dimension, BM25 average length, ...)

One process owns a shard directory at a time (an Edge limitation).

Creating a store is crash-safe: the shard is built under ``<path>/.shard-new``,
moved to ``shard`` by one rename once complete, and ``meta.json`` is written
last. A directory holding one without the other is an *unfinished* store (a
run died while creating it; it holds no data), reported as such
(``unfinished()``) and cleared by the next ``ensure_collection``, so a crash at
any step never blocks the next run.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe

from core.errors import StoreError, StoreNotFoundError
from core.index_layout import IndexLayout
from core.memory_budget import fill_budget_bytes
from core.store import (
    BM25,
    DENSE,
    INDEXED_FIELDS,
    STAGED,
    STAGED_YES,
    ChunkStore,
    HybridQuery,
    SparseVector,
    chunk_to_payload,
    is_staged,
    payload_to_chunk,
    publish_payload,
)
from core.types import Chunk, ScoredChunk

logger = logging.getLogger(__name__)

_SCROLL_PAGE = 2048
# The write-ahead log keeps every update until a flush persists the segments: unflushed, it grew to
# 2.7 GB while writing 1M chunks; flushing every 20k points held it at 96 MB (three 32 MB WAL files).
_FLUSH_EVERY_POINTS = 20_000
# Without an optimize the engine keeps every new point in one growing appendable segment and builds one
# HNSW graph over all of them at the end (1M chunks: 28 min, 12.7 GB peak). Optimizing every
# ``IndexLayout.segment_points`` points (500k at 384 dims) turns each batch into one indexed segment while it
# is written, so the peak stays that of one batch and 1M chunks end in 2 segments, searched on 2 threads.


class EdgeStore(ChunkStore):
    """Chunk store in a local directory, served by the embedded Qdrant engine."""

    def __init__(self, path: Path | str, layout: IndexLayout | None = None) -> None:
        self.path = Path(path)
        self.layout = layout or IndexLayout()
        self._search_params: qe.SearchParams | None = None
        self._shard: qe.EdgeShard | None = None
        self._dirty = False  # written since the last flush: closing a store only read needs no flush
        self._unflushed_points = 0
        self._unoptimized_points = 0
        # count()'s total, kept with the number of writes it saw: an unchanged index is not counted again on every
        # answer (the idf of a question's rare terms reads it: ~8 ms of CPU per ask at 100k chunks). This object
        # is the index's only writer (one process holds an embedded index), and each write bumps _writes after
        # the engine applied it, so a total counted before a write is never served after it.
        self._writes = 0
        self._total: tuple[int, int] | None = None
        self.optimize_seconds = 0.0  # time spent optimizing, for benchmarks
        self._warming: threading.Thread | None = None
        self._stop_warming = threading.Event()

    # --- lifecycle -----------------------------------------------------------------
    @property
    def _shard_dir(self) -> Path:
        return self.path / "shard"

    @property
    def _meta_file(self) -> Path:
        return self.path / "meta.json"

    def exists(self) -> bool:
        return self._meta_file.exists() and self._shard_dir.exists()

    def unfinished(self) -> bool:
        """The directory was left by a run that died while creating the store: no usable index, no data."""
        return self.path.is_dir() and not self.exists() and any(
            (self.path / part).exists() for part in ("shard", ".shard-new", "meta.json"))

    def ensure_collection(self, dense_dim: int) -> None:
        if self.exists():
            self._open()
            known = self.get_meta().get("dense_dim")
            if known is not None and known != dense_dim:
                raise StoreError(
                    f"the index at {self.path} holds {known}-dim vectors but the embedder makes {dense_dim}-dim ones; "
                    "run `kura reindex --full` after changing KURA_EMBEDDING_MODEL"
                )
            return
        if self.unfinished():
            logger.warning("clearing the unfinished index at %s (a run died while creating it)", self.path)
            shutil.rmtree(self.path)
        self._create(dense_dim)

    def _create(self, dense_dim: int) -> None:
        """shard in ``.shard-new`` -> rename to ``shard`` -> ``meta.json``: complete only after the last step."""
        staging = self.path / ".shard-new"
        shutil.rmtree(staging, ignore_errors=True)
        self.path.mkdir(parents=True, exist_ok=True)
        config = self.layout.edge_config(DENSE, BM25, dense_dim)
        try:
            shard = qe.EdgeShard.create(str(staging), config)
            for name in INDEXED_FIELDS:
                shard.update(qe.UpdateOperation.create_field_index(name, qe.PayloadSchemaType.Keyword))
            shard.update(qe.UpdateOperation.create_field_index(STAGED, qe.PayloadSchemaType.Keyword))
            shard.flush()
            shard.close()
        except Exception as exc:  # the engine raises plain exceptions
            raise StoreError(f"could not create the embedded index at {self.path}: {exc}") from exc
        _fsync_dir(staging)
        os.replace(staging, self._shard_dir)
        _fsync_dir(self.path)
        self._write_meta({"dense_dim": dense_dim})
        self._open()

    def _open(self) -> qe.EdgeShard:
        if self._shard is None:
            if not self.exists():
                if self.unfinished():
                    raise StoreNotFoundError(
                        "the index is unfinished: a run died while creating it; run `kura ingest` "
                        "(or `kura reindex`) again to build it")
                raise StoreNotFoundError(f"no index at {self.path}: run `kura ingest` first")
            try:
                rest = self._read_ahead()
                self._set_search_threads()
                self._shard = qe.EdgeShard.load(str(self._shard_dir))
                self._add_missing_field_indexes(self._shard)
            except Exception as exc:
                raise StoreError(f"could not open the embedded index at {self.path}: {exc}") from exc
            if rest and self.layout.warm_in_background:
                self._stop_warming.clear()
                self._warming = threading.Thread(
                    target=_ask_kernel_to_cache, args=(rest, self._stop_warming), name="kura-index-warm", daemon=True)
                self._warming.start()
        return self._shard

    def _set_search_threads(self) -> None:
        """Size the engine's search pool for this index: 1 thread when it holds one indexed segment, else the default.

        The pool searches segments in parallel; with one graph (up to 500k chunks) there is nothing to spread,
        and handing each search to a pool thread cost CPU for nothing: at 100k chunks (one segment beside the
        empty one new writes go to) 3.7 -> 2.3 ms of CPU and p50 2.8 -> 2.2 ms per hybrid query with 1 thread,
        the system time of the thread hand-offs gone (5% readable; load 2.3). The pool size is a documented
        key of the shard's saved config (``EdgeConfig.max_search_threads``; absent: the engine's default,
        4 x CPUs), which the engine reads when it opens the shard; set before each open, it always matches the
        segments opened. (Giving an ``EdgeConfig`` to ``EdgeShard.load`` would need the vector config too, and
        would rewrite the creation-time layout of an index built with other settings.)
        """
        segments = self._shard_dir / "segments"
        config_file = self._shard_dir / "edge_config.json"
        try:
            indexed = sum(1 for d in segments.iterdir() if (d / f"vector_index-{DENSE}").is_dir())
            config = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # no segments yet, or a config this code does not know: leave it
            return
        wanted = 1 if indexed <= 1 else None
        if config.get("max_search_threads") == wanted:
            return
        if wanted is None:
            config.pop("max_search_threads", None)
        else:
            config["max_search_threads"] = wanted
        fd, tmp = tempfile.mkstemp(dir=self._shard_dir, prefix=".edge_config-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(config, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, config_file)

    def _read_ahead(self) -> list[Path]:
        """Read the index's files into the page cache before the engine maps them; return the cold ones left.

        The engine drops its files from the page cache when it closes a shard, so every open starts cold, and
        it then faults its memory-mapped files in one 4 KB page at a time: at 1M chunks ~107k page faults,
        15 s. One sequential pass over the same ~600 MB first took 1.5 s and the open then 5.6 s.
        Always read: the files the engine loads whole. The cold parts (``IndexLayout.edge_cold_paths``) are
        read per query, a few pages each, each page a disk read the first time: they are read ahead too when
        they total at most ``read_ahead_cold_mb`` (100k chunks: ~300 MB, and the first thousand queries after an
        open ran 1-2 ms faster). Else (1M: ~3 GB) they are returned, in that order, and ``_open`` has the kernel
        cache them in the background (``warm_in_background``) while the index already serves: the reopen
        stays what the engine needs (1M: reading the 259 MB of postings first added ~0.4 s to a ~4.6 s reopen).
        Only page cache is filled (reclaimable by the kernel), no process memory.
        """
        segments = self._shard_dir / "segments"
        if not segments.is_dir():
            return []
        cold_parts = self.layout.edge_cold_paths()
        hot: list[Path] = []
        cold: dict[str, list[Path]] = {part: [] for part in cold_parts}
        for f in segments.rglob("*"):
            if f.is_file():
                rel = f.relative_to(segments).as_posix()
                part = next((p for p in cold_parts if p in rel), None)
                (hot if part is None else cold[part]).append(f)
        in_order = [f for part in cold_parts for f in cold[part]]
        try:
            fits = sum(f.stat().st_size for f in in_order) <= self.layout.read_ahead_cold_mb * 2**20
            wanted, rest = (hot + in_order, []) if fits else (hot, in_order)
            for f in wanted:
                with open(f, "rb", buffering=0) as fh:
                    while fh.read(1 << 20):
                        pass
        except OSError:  # a read-ahead is only a hint: the engine reports real trouble itself
            return []
        return rest

    def _add_missing_field_indexes(self, shard: qe.EdgeShard) -> None:
        """Index the filtered payload fields an older index lacks (built before ``staged`` existed).

        Unindexed, every ``count()`` (it filters on ``staged``) reads all payloads: at 1M chunks that is
        ~800 MB of pages pulled into the serving process and tens of seconds. Indexing once costs one pass.
        """
        have = set(shard.info().payload_schema)
        missing = [name for name in (*INDEXED_FIELDS, STAGED) if name not in have]
        for name in missing:
            logger.warning("indexing the payload field %r the index at %s lacks (once)", name, self.path)
            shard.update(qe.UpdateOperation.create_field_index(name, qe.PayloadSchemaType.Keyword))
        if missing:
            shard.flush()

    def flush(self) -> None:
        if self._shard is not None:
            self._shard.flush()
            self._dirty = False
            self._unflushed_points = 0

    def optimize(self) -> None:
        self._dirty = True
        started = time.perf_counter()
        self._open().optimize()
        self.optimize_seconds += time.perf_counter() - started
        self._unoptimized_points = 0

    def close(self) -> None:
        if self._warming is not None:  # the engine drops its files from the page cache on close: stop filling it
            self._stop_warming.set()
            self._warming.join()
            self._warming = None
        if self._shard is not None:
            if self._dirty:
                self._shard.flush()
            self._shard.close()
            self._shard = None
            self._dirty = False

    # --- metadata --------------------------------------------------------------------
    def get_meta(self) -> dict[str, Any]:
        if not self._meta_file.exists():
            return {}
        return json.loads(self._meta_file.read_text(encoding="utf-8"))

    def set_meta(self, meta: dict[str, Any]) -> None:
        merged = {**self.get_meta(), **meta}
        self._write_meta(merged)

    def _write_meta(self, meta: dict[str, Any]) -> None:
        # Write-then-rename so a crash never leaves a half-written meta file.
        self.path.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".meta-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(meta, fh, ensure_ascii=False, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._meta_file)

    # --- writes ------------------------------------------------------------------------
    def upsert(self, chunks: Sequence[Chunk], dense: np.ndarray, sparse: Sequence[SparseVector], *,
               staged: bool = False) -> None:
        self._check_upsert(chunks, dense, sparse)
        if not chunks:
            return
        points = []
        for chunk, vec, sp in zip(chunks, dense, sparse):
            vector: dict[str, Any] = {DENSE: np.asarray(vec, dtype=np.float32).tolist()}
            if sp:
                vector[BM25] = qe.SparseVector(indices=list(sp.indices), values=list(sp.values))
            points.append(qe.Point(id=chunk.id, vector=vector, payload=chunk_to_payload(chunk, staged=staged)))
        self._dirty = True
        self._open().update(qe.UpdateOperation.upsert_points(points))
        self._writes += 1
        self._unflushed_points += len(points)
        self._unoptimized_points += len(points)
        if self._unoptimized_points >= self.layout.segment_points(len(dense[0])):
            self.optimize()
        if self._unflushed_points >= _FLUSH_EVERY_POINTS:
            self.flush()

    def publish(self, document_ids: Sequence[str], principals: Sequence[str]) -> None:
        ids = list(document_ids)
        if not ids:
            return
        flt = qe.Filter(must=[qe.FieldCondition(key="document_id", match=qe.MatchAny(any=ids))])
        self._dirty = True
        self._open().update(qe.UpdateOperation.set_payload_by_filter(flt, publish_payload(principals)))
        self._writes += 1

    def delete_documents(self, document_ids: Iterable[str]) -> None:
        ids = list(document_ids)
        if not ids:
            return
        flt = qe.Filter(must=[qe.FieldCondition(key="document_id", match=qe.MatchAny(any=ids))])
        self._dirty = True
        self._open().update(qe.UpdateOperation.delete_points_by_filter(flt))
        self._writes += 1

    # --- reads ---------------------------------------------------------------------------
    def count(self, document_id: str | None = None) -> int:
        writes, total = self._writes, self._total
        if document_id is None and total is not None and total[0] == writes:
            return total[1]
        must = []
        if document_id is not None:
            must.append(qe.FieldCondition(key="document_id", match=qe.MatchValue(value=document_id)))
        flt = qe.Filter(must=must or None, must_not=[qe.FieldCondition(key=STAGED, match=qe.MatchValue(STAGED_YES))])
        n = self._open().count(qe.CountRequest(exact=True, filter=flt))
        if document_id is None:
            self._total = (writes, n)
        return n

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        if not chunk_ids:
            return []
        records = self._open().retrieve(list(chunk_ids), with_payload=True, with_vector=False)
        by_id = {str(r.id): payload_to_chunk(r.payload) for r in records if not is_staged(r.payload)}
        return [by_id[i] for i in chunk_ids if i in by_id]

    def document_hashes(self) -> dict[str, str]:
        shard = self._open()
        hashes: dict[str, str] = {}
        offset = None
        while True:
            records, offset = shard.scroll(
                qe.ScrollRequest(offset=offset, limit=_SCROLL_PAGE,
                                 with_payload=["document_id", "document_hash", STAGED])
            )
            for r in records:
                doc_id = r.payload["document_id"]
                if is_staged(r.payload) or hashes.get(doc_id) == "":
                    hashes[doc_id] = ""  # unfinished: some chunk was never published
                else:
                    hashes[doc_id] = r.payload.get("document_hash", "")
            if offset is None:
                return hashes

    def query(self, query: HybridQuery) -> list[ScoredChunk]:
        flt = _edge_filter(query)
        dense_query = (
            qe.Query.Nearest(np.asarray(query.dense, dtype=np.float32).tolist(), using=DENSE) if query.use_dense else None
        )
        sparse_query = (
            qe.Query.Nearest(qe.SparseVector(indices=list(query.sparse.indices), values=list(query.sparse.values)), using=BM25)
            if query.use_sparse
            else None
        )
        parts = [q for q in (dense_query, sparse_query) if q is not None]
        if not parts:
            return []
        if self._search_params is None:
            self._search_params = self.layout.edge_search_params()
        params = self._search_params
        if len(parts) == 1:
            request = qe.QueryRequest(limit=query.limit, query=parts[0], filter=flt, params=params, with_payload=True)
        else:
            # The engine runs the two prefetches one after the other (each over the segments in parallel). Two
            # queries on two Python threads, fused here, would not overlap either: qdrant-edge-py 0.9.0 holds the
            # GIL for a whole query (a spinning thread stalled for each 25-30 ms exact query), so more segments,
            # not more threads, are what spreads a query over the cores (IndexLayout.segment_points).
            # The permission filter goes on the prefetches only: the fusion sees nothing else. Repeated on the
            # fused query the engine adds it to each prefetch a second time and checks it twice per visited point
            # (1M chunks: 3-5 ms of CPU a query, results unchanged).
            prefetches = [qe.Prefetch(limit=query.prefetch_limit, query=q, filter=flt, params=params) for q in parts]
            request = qe.QueryRequest(
                limit=query.limit,
                prefetches=prefetches,
                query=qe.Fusion.Rrf(k=query.rrf_k, weights=list(query.weights)),
                with_payload=True,
            )
        points = self._open().query(request)
        return [
            ScoredChunk(
                chunk=payload_to_chunk(p.payload),
                score=p.score,
                dense_score=p.score if sparse_query is None else None,
                sparse_score=p.score if dense_query is None else None,
            )
            for p in points
        ]


_WARM_WINDOW = 4 << 20  # one POSIX_FADV_WILLNEED call caches at most a few MB: ask window by window


def _ask_kernel_to_cache(files: list[Path], stop: threading.Event, budget: int | None = None) -> int:
    """Have the kernel read these files into the page cache (``POSIX_FADV_WILLNEED``), in order, until ``stop``
    or ``budget`` bytes (default: what this process may still fill, ``core.memory_budget``); returns the bytes asked.

    At 1M chunks the float32 originals, payloads and BM25 vectors (~3 GB) are too big to read before the first
    query, and until cached each query faulted ~8 of their pages from disk (payloads, originals for rescoring):
    1M hybrid CPU 14.0-16.1 ms a query with them on disk, 11.8-13.1 ms cached (load 4-8). The kernel reads
    asynchronously; the calls cost ~10 ms of CPU per 32 MB, none of it with the GIL held. The budget matters in a
    container: the page cache is charged to its memory limit, and warming past it evicts the pages queries use.
    """
    if budget is None:
        budget = fill_budget_bytes()
    asked = 0
    for f in files:
        try:
            fd = os.open(f, os.O_RDONLY)
        except OSError:  # an optimize replaced the segment meanwhile: nothing to warm there
            continue
        try:
            size = os.fstat(fd).st_size
            for offset in range(0, size, _WARM_WINDOW):
                if stop.is_set() or (budget is not None and asked >= budget):
                    return asked
                os.posix_fadvise(fd, offset, _WARM_WINDOW, os.POSIX_FADV_WILLNEED)
                asked += min(_WARM_WINDOW, size - offset)
        except OSError:
            pass
        finally:
            os.close(fd)
    return asked


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _edge_filter(query: HybridQuery) -> qe.Filter:
    must = [qe.FieldCondition(key="principals", match=qe.MatchAny(any=list(query.principals)))]
    if query.sources:
        must.append(qe.FieldCondition(key="source", match=qe.MatchAny(any=list(query.sources))))
    return qe.Filter(must=must)
