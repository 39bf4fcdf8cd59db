"""The configured embedder, built from settings: one place, so that `KuraApp` and the CLI's load-ahead agree.

Cheap: nothing is loaded until the first embedding (or ``load()``). Imports only what the chosen
backend needs: the compiled backends never import torch or sentence-transformers.
"""

from __future__ import annotations

from core.settings import Settings


def embedder_from_settings(settings: Settings):
    """The configured embedder (compiled int8 by default, torch as fallback), behind a content-hash cache."""
    from retrieval.embedding_cache import CachedEmbedder

    s = settings
    shared = {"batch_size": s.embedding_batch_size, "query_prefix": s.embedding_query_prefix,
              "passage_prefix": s.embedding_passage_prefix}
    if s.embedding_backend != "torch":
        from retrieval.calibration import kura_texts
        from retrieval.embedder_compiled import CompiledEmbedder

        inner = CompiledEmbedder(s.embedding_model, backend=s.embedding_backend, cache_dir=s.embedder_cache_dir,
                                 threads=s.embedding_threads, calibration_texts=kura_texts, **shared)
    else:
        from retrieval.embedder import SentenceTransformerEmbedder

        inner = SentenceTransformerEmbedder(s.embedding_model, device=s.embedding_device, **shared)
    return CachedEmbedder(inner)
