"""Merge a built index's segments into fewer, larger ones, and report the merge's time and peak memory.

A probe for the layout question "how many segments": the embedded store writes capped segments (200k chunks at
the default cap), and every query searches each of them. This reopens a shard (built by ``bench/retrieval.py
--keep``, or a copy of one: the merge rewrites it in place) with a raised segment cap and a target segment count,
runs the optimizer, and prints one JSON line. Serve the result with ``bench/retrieval.py --phase serve``.

    python bench/merge_segments.py DIR/nN/idx/shard [--max-segment-kb 2000000] [--segments 1] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import qdrant_edge as qe  # noqa: E402

from core.index_layout import IndexLayout  # noqa: E402
from core.store import BM25, DENSE  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("shard")
    ap.add_argument("--max-segment-kb", type=int, default=2_000_000)
    ap.add_argument("--segments", type=int, default=1, help="target segment count (the optimizer's default_segment_number)")
    ap.add_argument("--threads", type=int, default=2, help="HNSW indexing threads")
    ap.add_argument("--dim", type=int, default=384)
    a = ap.parse_args()
    layout = IndexLayout()
    base = layout.edge_config(DENSE, BM25, a.dim)
    # Given at load, these settings are saved into the shard's config: the merged index keeps them.
    config = qe.EdgeConfig(
        vectors=base.vectors,
        sparse_vectors=base.sparse_vectors,
        hnsw_config=qe.HnswIndexConfig(m=layout.hnsw_m, ef_construct=layout.hnsw_ef_construct,
                                       full_scan_threshold=layout.full_scan_kb, max_indexing_threads=a.threads),
        payload_memory=qe.Memory.Cold,
        optimizers=qe.EdgeOptimizersConfig(max_segment_size=a.max_segment_kb,
                                           indexing_threshold=layout.indexing_threshold_kb,
                                           default_segment_number=a.segments),
    )
    started = time.perf_counter()
    shard = qe.EdgeShard.load(a.shard, config)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    shard.optimize()
    shard.flush()
    merge_s = time.perf_counter() - started
    segments = sum(1 for p in (Path(a.shard) / "segments").iterdir() if p.is_dir())
    shard.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"load_s": round(load_s, 1), "merge_s": round(merge_s, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
                      "peak_rss_mb": usage.ru_maxrss // 1024, "segment_dirs": segments}))


if __name__ == "__main__":
    main()
