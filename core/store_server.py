"""Server backend: a Qdrant server or cluster through ``qdrant-client``.

The serving collection is reached through an alias (``<collection>``), so a full
re-index can build ``<collection>_<stamp>`` beside it and switch the alias in
one atomic call. ``location=":memory:"`` runs qdrant-client's local mode, which
speaks the same API; the contract tests use it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

from core.errors import StoreError, StoreNotFoundError
from core.index_layout import IndexLayout
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


class ServerStore(ChunkStore):
    """Chunk store in a Qdrant collection on a server (or qdrant-client's in-memory mode)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        api_key: str | None = None,
        collection: str = "kura",
        location: str | None = None,
        client: QdrantClient | None = None,
        layout: IndexLayout | None = None,
    ) -> None:
        if client is None and not url and not location:
            raise StoreError("ServerStore needs a URL (KURA_QDRANT_URL) or a location")
        self.collection = collection
        self.layout = layout or IndexLayout()
        self._client = client or QdrantClient(url=url, api_key=api_key, location=location, timeout=30)

    @property
    def client(self) -> QdrantClient:
        return self._client

    def exists(self) -> bool:
        try:
            return self._client.collection_exists(self.collection)
        except Exception as exc:
            raise StoreError(f"cannot reach Qdrant: {exc}") from exc

    def ensure_collection(self, dense_dim: int) -> None:
        if self.exists():
            known = self.get_meta().get("dense_dim")
            if known is not None and known != dense_dim:
                raise StoreError(
                    f"collection {self.collection!r} holds {known}-dim vectors but the embedder makes {dense_dim}-dim "
                    "ones; run `kura reindex --full` after changing KURA_EMBEDDING_MODEL"
                )
            return
        try:
            self._client.create_collection(
                self.collection,
                **self.layout.server_collection_args(DENSE, BM25, dense_dim),
                metadata={"dense_dim": dense_dim},
            )
            for name in INDEXED_FIELDS:
                self._client.create_payload_index(self.collection, name, models.PayloadSchemaType.KEYWORD)
            self._client.create_payload_index(self.collection, STAGED, models.PayloadSchemaType.KEYWORD)
        except Exception as exc:
            raise StoreError(f"could not create collection {self.collection!r}: {exc}") from exc

    def _require(self) -> None:
        if not self.exists():
            raise StoreNotFoundError(f"no collection {self.collection!r} in Qdrant: run `kura ingest` first")

    # --- metadata ----------------------------------------------------------------------
    def get_meta(self) -> dict[str, Any]:
        if not self._client.collection_exists(self.collection):
            return {}
        return dict(self._client.get_collection(self.collection).config.metadata or {})

    def set_meta(self, meta: dict[str, Any]) -> None:
        self._require()
        self._client.update_collection(self.collection, metadata=meta)

    # --- writes ---------------------------------------------------------------------------
    def upsert(self, chunks: Sequence[Chunk], dense: np.ndarray, sparse: Sequence[SparseVector], *,
               staged: bool = False) -> None:
        self._check_upsert(chunks, dense, sparse)
        if not chunks:
            return
        points = []
        for chunk, vec, sp in zip(chunks, dense, sparse):
            vector: dict[str, Any] = {DENSE: np.asarray(vec, dtype=np.float32).tolist()}
            if sp:
                vector[BM25] = models.SparseVector(indices=list(sp.indices), values=list(sp.values))
            payload = chunk_to_payload(chunk, staged=staged)
            points.append(models.PointStruct(id=chunk.id, vector=vector, payload=payload))
        try:
            self._client.upsert(self.collection, points=points, wait=True)
        except Exception as exc:
            raise StoreError(f"upsert into {self.collection!r} failed: {exc}") from exc

    def publish(self, document_ids: Sequence[str], principals: Sequence[str]) -> None:
        ids = list(document_ids)
        if not ids:
            return
        flt = models.Filter(must=[models.FieldCondition(key="document_id", match=models.MatchAny(any=ids))])
        try:
            self._client.set_payload(self.collection, payload=publish_payload(principals),
                                     points=models.FilterSelector(filter=flt), wait=True)
        except Exception as exc:
            raise StoreError(f"publishing documents in {self.collection!r} failed: {exc}") from exc

    def delete_documents(self, document_ids: Iterable[str]) -> None:
        ids = list(document_ids)
        if not ids:
            return
        flt = models.Filter(must=[models.FieldCondition(key="document_id", match=models.MatchAny(any=ids))])
        self._client.delete(self.collection, points_selector=models.FilterSelector(filter=flt), wait=True)

    # --- reads ------------------------------------------------------------------------------
    def count(self, document_id: str | None = None) -> int:
        self._require()
        must = []
        if document_id is not None:
            must.append(models.FieldCondition(key="document_id", match=models.MatchValue(value=document_id)))
        flt = models.Filter(must=must or None,
                            must_not=[models.FieldCondition(key=STAGED, match=models.MatchValue(value=STAGED_YES))])
        return self._client.count(self.collection, count_filter=flt, exact=True).count

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        if not chunk_ids:
            return []
        records = self._client.retrieve(self.collection, ids=list(chunk_ids), with_payload=True)
        by_id = {str(r.id): payload_to_chunk(r.payload) for r in records if not is_staged(r.payload)}
        return [by_id[i] for i in chunk_ids if i in by_id]

    def document_hashes(self) -> dict[str, str]:
        self._require()
        hashes: dict[str, str] = {}
        offset = None
        while True:
            records, offset = self._client.scroll(
                self.collection,
                limit=_SCROLL_PAGE,
                offset=offset,
                with_payload=["document_id", "document_hash", STAGED],
                with_vectors=False,
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
        self._require()
        must = [models.FieldCondition(key="principals", match=models.MatchAny(any=list(query.principals)))]
        if query.sources:
            must.append(models.FieldCondition(key="source", match=models.MatchAny(any=list(query.sources))))
        flt = models.Filter(must=must)
        parts: list[tuple[Any, str]] = []
        if query.use_dense:
            parts.append((np.asarray(query.dense, dtype=np.float32).tolist(), DENSE))
        if query.use_sparse:
            parts.append((models.SparseVector(indices=list(query.sparse.indices), values=list(query.sparse.values)), BM25))
        if not parts:
            return []
        if len(parts) == 1:
            vector, using = parts[0]
            response = self._client.query_points(
                self.collection,
                query=vector,
                using=using,
                query_filter=flt,
                search_params=self.layout.server_search_params(),
                limit=query.limit,
                with_payload=True,
            )
        else:
            response = self._client.query_points(
                self.collection,
                prefetch=[
                    models.Prefetch(
                        query=v, using=u, filter=flt, limit=query.prefetch_limit, params=self.layout.server_search_params()
                    )
                    for v, u in parts
                ],
                # The filter on the prefetches only, as in the embedded store: the server, too, adds a query's
                # filter to each prefetch, and then checks it twice per visited point.
                query=models.RrfQuery(rrf=models.Rrf(k=query.rrf_k, weights=list(query.weights))),
                limit=query.limit,
                with_payload=True,
            )
        only = parts[0][1] if len(parts) == 1 else None
        return [
            ScoredChunk(
                chunk=payload_to_chunk(p.payload),
                score=p.score,
                dense_score=p.score if only == DENSE else None,
                sparse_score=p.score if only == BM25 else None,
            )
            for p in response.points
        ]
