"""How the index is laid out in memory and on disk: one design for the embedded engine and a Qdrant server.

The choices (measured with ``bench/retrieval.py --n N``; figures in the README's speed table):

* Dense vectors are scalar-quantized to int8 and the int8 copy stays in RAM; the originals are
  memory-mapped from disk and only read to rescore the few best candidates (``oversampling`` x limit).
  384 dims cost 384 bytes a chunk in RAM instead of 1,536, and recall@10 stays with exact search
  because the final order comes from the originals.
* The originals are float16 (``vector_datatype``): 768 MB at 1M chunks instead of 1.5 GB, so a serving process
  held to 2 GB (a memory cgroup) keeps nearly all of them cached. 1M served in 2 GB, load ~3: hybrid p50
  8.1 / 6.9 / 4.8 ms and p95 14.7 / 13.3 / 8.5 ms for 5/50/100% readable, 8-10 ms CPU a query, recall@10
  0.9855; float32 in the same 2 GB: p50 up to 19.6 ms, p95 up to 62.7 ms, 9.7-17.4 ms CPU (it faulted the
  originals back from disk), recall@10 0.9785-0.986. Build peak 5.6 GB instead of 7.1 GB.
* Payloads (chunk text and metadata) live on disk: a query reads only the 8-50 payloads it returns.
* Segments: the embedded store writes ``segment_points`` chunks (3/4 of the ``max_segment_kb`` cap counted in
  float32 originals: 500k at 384 dims; ``engine_segment_kb`` halves the engine's cap for float16), then optimizes them into one indexed segment, so 1M chunks end in 2
  segments, which the engine searches on its 2 threads at once. Each segment is searched separately, so fewer
  segments cost less CPU a query (1M: 5 segments of 200k 24.6-26.7 ms, one of 1M 12.8-14.1 ms on one thread,
  two (measured as 600k + 400k) 10-14.6 ms on two threads: hybrid p50 6.5-7.7 ms on a quiet machine);
  two full batches never fit under the cap together, so the optimizer never rebuilds them into one graph
  (that merge took ~34 CPU-minutes at 1M). A batch's optimize is one graph of 500k: its peak memory bounds
  the build's.
* Read-ahead at open (``read_ahead_cold_mb``, embedded only): the parts left on disk are read into the page
  cache too when they fit (100k: ~300 MB); when not (1M: ~3 GB), the kernel caches them in the background,
  in ``edge_cold_paths`` order, while the index serves (``warm_in_background``).
* HNSW m=16 / ef_construct=64 (was 100): the build beam sets most of the optimize's CPU. At 100k, 64 cut the
  optimize from 36.0 to 25.6 s with dense recall@10 1.000 -> 0.9985; at 1M the build took 610 s under load ~3
  (writes 198 + optimize 413 s; 687 s with 100 on a quiet, slower machine) with recall@10 0.986. Search: ``hnsw_ef`` 64 and ``oversampling`` 1.5 (each segment's graph
  is searched with a beam of max(hnsw_ef, limit x oversampling): 75 for the hybrid's 50-candidate prefetch).
  At 1M chunks this cut the hybrid query's CPU by ~30% against 128 / 2.0 (interleaved runs, same queries) with
  dense recall@10 1.000 at 100k, 300k and 1M and the hybrid top-10 agreeing 97-100% with the old shape;
  ``oversampling`` 1.0 lost recall at 100k (0.976) and a 30-candidate prefetch changed 7% of the top-10.

The same values go into a server collection (``server_collection_args``), plus shard number and
replication factor, so moving from the embedded engine to a cluster keeps the index design.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.settings import Settings


@dataclass(frozen=True)
class IndexLayout:
    """Index parameters shared by the embedded and the server store."""

    quantize: bool = True
    vector_datatype: str = "float16"
    hnsw_m: int = 16
    hnsw_ef_construct: int = 64
    hnsw_ef: int = 64
    oversampling: float = 1.5
    full_scan_kb: int = 10_000
    max_segment_kb: int = 1_000_000
    indexing_threshold_kb: int = 20_000
    read_ahead_cold_mb: int = 512
    warm_in_background: bool = True
    shards: int = 1
    replication: int = 1

    def __post_init__(self) -> None:
        if self.hnsw_m < 4 or self.hnsw_ef_construct < 4 or self.hnsw_ef < 1:
            raise ValueError("HNSW m and ef_construct must be >= 4 and hnsw_ef >= 1")
        if self.oversampling < 1:
            raise ValueError("oversampling must be >= 1")
        if self.shards < 1 or self.replication < 1:
            raise ValueError("shard number and replication factor must be >= 1")
        if self.vector_datatype not in ("float32", "float16"):
            raise ValueError(f"vector_datatype must be float32 or float16, not {self.vector_datatype!r}")
        if self.read_ahead_cold_mb < 0:
            raise ValueError("read_ahead_cold_mb must be >= 0")

    @classmethod
    def from_settings(cls, settings: Settings) -> IndexLayout:
        return cls(
            quantize=settings.index_quantize,
            vector_datatype=settings.index_vector_datatype,
            hnsw_m=settings.index_hnsw_m,
            hnsw_ef_construct=settings.index_hnsw_ef_construct,
            hnsw_ef=settings.index_hnsw_ef,
            oversampling=settings.index_oversampling,
            max_segment_kb=settings.index_max_segment_kb,
            read_ahead_cold_mb=settings.index_read_ahead_cold_mb,
            warm_in_background=settings.index_warm_in_background,
            shards=settings.index_shards,
            replication=settings.index_replication,
        )

    def segment_points(self, dim: int) -> int:
        """Points the embedded store writes before it optimizes them into one indexed segment.

        Three quarters of the segment cap in float32 originals (the engine sizes segments by them): one batch
        fits under the cap, two batches together do not, so the optimizer never merges two full segments
        (a rebuild of the whole graph) and a corpus gets about one segment per batch.
        384 dims at the default cap: 500,000 points.
        """
        return max(1, self.max_segment_kb * 1024 * 3 // 4 // (dim * 4))

    @property
    def engine_segment_kb(self) -> int:
        """The engine's segment cap. ``max_segment_kb`` counts float32 originals; the engine counts the stored
        datatype, so a float16 index gets half the cap and its segments keep the same number of points (two full
        ones still never fit together, so they are never merged into one graph)."""
        return self.max_segment_kb // 2 if self.vector_datatype == "float16" else self.max_segment_kb

    # --- the embedded engine (qdrant_edge) ------------------------------------------------
    def edge_config(self, dense_name: str, sparse_name: str, dim: int) -> Any:
        import qdrant_edge as qe

        quantization = (
            qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=0.99, memory=qe.Memory.Cached)
            if self.quantize
            else None
        )
        # Originals stay in RAM when nothing else can answer a query; on disk (mmap) when int8 does the search.
        vector_memory = qe.Memory.Cold if self.quantize else qe.Memory.Cached
        return qe.EdgeConfig(
            vectors={
                dense_name: qe.EdgeVectorParams(
                    size=dim, distance=qe.Distance.Cosine, quantization_config=quantization, memory=vector_memory,
                    datatype=qe.VectorStorageDatatype.Float16 if self.vector_datatype == "float16" else None,
                )
            },
            # The sparse (BM25) index defaults to pinned in RAM: ~0.6 GB of postings at 1M chunks. A query reads
            # only the posting lists of its few terms, so it is read from disk through the page cache.
            sparse_vectors={sparse_name: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf, memory=qe.Memory.Cold)},
            hnsw_config=qe.HnswIndexConfig(
                m=self.hnsw_m, ef_construct=self.hnsw_ef_construct, full_scan_threshold=self.full_scan_kb
            ),
            payload_memory=qe.Memory.Cold,
            optimizers=qe.EdgeOptimizersConfig(
                max_segment_size=self.engine_segment_kb, indexing_threshold=self.indexing_threshold_kb
            ),
        )

    def edge_cold_paths(self) -> tuple[str, ...]:
        """Parts of a segment directory this layout leaves on disk (``Memory.Cold``): read per query, never whole.

        Everything else in a segment (int8 vectors, HNSW links, id tracker, payload indexes) the engine reads
        completely when it opens the shard; ``EdgeStore`` reads those files ahead so the open does not fault
        them in one 4 KB page at a time. The cold parts come in the order ``EdgeStore`` has them cached in the
        background, most read per byte first: the BM25 postings (every query reads its terms' whole lists:
        ~250 MB at 1M chunks), the float32 originals (75 per segment a query), the payloads (8 a query), the
        BM25 vectors (only a filtered search over few points reads them).
        """
        cold = ["vector_index-bm25/"]
        if self.quantize:
            cold.append("vector_storage-dense/matrix.dat")
        cold += ["payload_storage/", "vector_storage-bm25/"]
        return tuple(cold)

    def edge_search_params(self) -> Any:
        import qdrant_edge as qe

        quantization = (
            qe.QuantizationSearchParams(rescore=True, oversampling=self.oversampling) if self.quantize else None
        )
        return qe.SearchParams(hnsw_ef=self.hnsw_ef, quantization=quantization)

    # --- a Qdrant server or cluster (qdrant_client) -------------------------------------------
    def server_collection_args(self, dense_name: str, sparse_name: str, dim: int) -> dict[str, Any]:
        from qdrant_client import models

        quantization = (
            models.ScalarQuantization(
                scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.99, always_ram=True)
            )
            if self.quantize
            else None
        )
        return {
            "vectors_config": {
                dense_name: models.VectorParams(
                    size=dim, distance=models.Distance.COSINE, on_disk=self.quantize, quantization_config=quantization,
                    datatype=models.Datatype.FLOAT16 if self.vector_datatype == "float16" else None,
                )
            },
            "sparse_vectors_config": {sparse_name: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            "hnsw_config": models.HnswConfigDiff(
                m=self.hnsw_m, ef_construct=self.hnsw_ef_construct, full_scan_threshold=self.full_scan_kb
            ),
            "optimizers_config": models.OptimizersConfigDiff(
                max_segment_size=self.engine_segment_kb, indexing_threshold=self.indexing_threshold_kb
            ),
            "on_disk_payload": True,
            "shard_number": self.shards,
            "replication_factor": self.replication,
        }

    def server_search_params(self) -> Any:
        from qdrant_client import models

        quantization = (
            models.QuantizationSearchParams(rescore=True, oversampling=self.oversampling) if self.quantize else None
        )
        return models.SearchParams(hnsw_ef=self.hnsw_ef, quantization=quantization)
