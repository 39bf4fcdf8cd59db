"""The hybrid retriever: language-aware fusion, permission filtering, and the three modes."""

from __future__ import annotations

import pytest

from core.protocols import SyncBatch
from core.store_edge import EdgeStore
from core.types import Document, Section
from ingest.chunking import ChunkingConfig, create_chunker
from ingest.pipeline import IndexPipeline
from retrieval.bm25 import BM25Encoder
from retrieval.hybrid import FusionConfig, HybridRetriever

DOCS = [
    ("vpn", "How to connect to the VPN", "Install Hoshi Connect and sign in with SSO to reach internal systems from home.", ("public",)),
    ("wifi", "Office wireless network", "Guests use the visitor wireless network; the password changes every month.", ("public",)),
    ("salary", "Salary bands FY2026", "Engineering level 4 salary band is 9.5 to 12 million yen (codename KESTREL).", ("group:finance",)),
    ("keihi", "経費精算の手順", "経費精算申請書は領収書の日付から30日以内に提出してください。", ("public",)),
    ("shucchou", "出張規定", "新幹線のグリーン車は利用できません。出張旅費は事前申請が必要です。", ("public",)),
]


@pytest.fixture(scope="module")
def retriever(tmp_path_factory, embedder):
    store = EdgeStore(tmp_path_factory.mktemp("hybrid") / "idx")
    chunker = create_chunker("tokens", ChunkingConfig(), model_pieces=embedder.count_word_pieces)
    docs = [Document("sample", i, t, (Section(x),), principals=p) for i, t, x, p in DOCS]
    IndexPipeline(store, chunker, embedder, BM25Encoder()).index([SyncBatch(documents=docs)])
    avg = store.get_meta()["bm25_avg_len"]
    yield HybridRetriever(store, embedder, BM25Encoder(avg_len=avg), FusionConfig(unk_threshold=0.10))
    store.close()


def ids(hits):
    return [h.chunk.document_id for h in hits]


def test_english_query_uses_both_parts_and_finds_paraphrase(retriever):
    # "work remotely" shares no word with the VPN doc: only the dense part can find it.
    hits = retriever.retrieve("reach internal systems while I work remotely", top_k=3, principals=["public"])
    assert ids(hits)[0] == "sample:vpn"
    assert retriever.last_trace.weights == (1.0, 1.0)


def test_japanese_query_leans_on_bm25_when_the_embedder_cannot_read_it(retriever):
    hits = retriever.retrieve("経費精算の申請書はいつまでに提出しますか", top_k=3, principals=["public"])
    assert ids(hits)[0] == "sample:keihi"
    assert retriever.last_trace.unknown_share >= 0.10
    assert retriever.last_trace.weights[0] == 0.0


def test_restricted_documents_only_for_their_principals(retriever):
    for mode in ("bm25", "dense", "hybrid"):
        hits = retriever.retrieve("salary band KESTREL", top_k=5, principals=["public"], mode=mode)
        assert "sample:salary" not in ids(hits), mode
    hits = retriever.retrieve("salary band KESTREL", top_k=1, principals=["public", "group:finance"])
    assert ids(hits) == ["sample:salary"]
    assert retriever.retrieve("salary", top_k=5, principals=[]) == []


def test_modes(retriever):
    assert retriever.retrieve("visitor wireless password", top_k=1, principals=["public"], mode="bm25")[0].sparse_score
    assert retriever.retrieve("guest wifi", top_k=1, principals=["public"], mode="dense")[0].dense_score
    with pytest.raises(Exception, match="unknown retriever mode"):
        retriever.retrieve("x", top_k=1, principals=["public"], mode="bogus")


QUERIES = ["reach internal systems while I work remotely",  # English: BM25 and an embedding
           "経費精算の申請書はいつまでに提出しますか",  # Japanese: the model cannot read it, BM25 alone
           "the the the",  # stop words only: the embedding alone
           "新幹線 グリーン車"]


def test_several_queries_at_once_rank_exactly_as_one_by_one(retriever):
    for mode in (None, "bm25", "dense", "hybrid"):
        one_by_one = [retriever.retrieve(q, top_k=4, principals=["public"], mode=mode) for q in QUERIES]
        together = retriever.retrieve_many(QUERIES, top_k=4, principals=["public"], mode=mode)
        assert [[(h.chunk.id, h.score) for h in r] for r in together] == \
            [[(h.chunk.id, h.score) for h in r] for r in one_by_one], mode
    retriever.retrieve_many(QUERIES[:2], top_k=4, principals=["public"])
    assert retriever.last_trace.weights[0] == 0.0  # the trace is the last query's (the Japanese one)
    assert retriever.retrieve_many(QUERIES, top_k=4, principals=[]) == [[], [], [], []]


class WatchedEmbedder:
    """The real embedder, watched: when a query's embedding is started and collected (``start_query``)."""

    def __init__(self, inner, events):
        self.inner, self.events = inner, events

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def embed_query(self, text):
        self.events.append(("embedded", text))
        return self.inner.embed_query(text)

    def start_query(self, text):
        self.events.append(("started", text))

        def result():
            self.events.append(("collected", text))
            return self.inner.embed_query(text)

        return result


class WatchedStore:
    def __init__(self, inner, events):
        self.inner, self.events = inner, events

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def query(self, query):
        self.events.append(("searched", "dense" if query.dense is not None else "bm25 only"))
        return self.inner.query(query)


def watched(retriever, events):
    return HybridRetriever(WatchedStore(retriever.store, events), WatchedEmbedder(retriever.embedder, events),
                           retriever.sparse_encoder, retriever.fusion)


def test_the_bm25_only_query_is_searched_while_the_others_embedding_runs(retriever):
    events: list = []
    english, japanese = QUERIES[0], QUERIES[1]
    together = watched(retriever, events).retrieve_many([english, japanese], top_k=3, principals=["public"])
    assert events == [("started", english), ("searched", "bm25 only"), ("collected", english), ("searched", "dense")]
    assert [h.chunk.id for h in together[0]] == [h.chunk.id for h in retriever.retrieve(english, top_k=3,
                                                                                          principals=["public"])]
    events.clear()  # one query alone: nothing to search meanwhile, the embedding is made when needed
    watched(retriever, events).retrieve_many([english], top_k=3, principals=["public"])
    assert events == [("embedded", english), ("searched", "dense")]


def test_a_started_embedding_is_collected_even_when_a_search_fails(retriever):
    events: list = []
    broken = watched(retriever, events)

    def failing(query):
        events.append(("searched", "failed"))
        raise RuntimeError("the index is gone")

    broken.store.query = failing
    with pytest.raises(RuntimeError, match="the index is gone"):
        broken.retrieve_many(QUERIES[:2], top_k=3, principals=["public"])
    assert events == [("started", QUERIES[0]), ("searched", "failed"), ("collected", QUERIES[0])]
