"""Typing slips corrected against the index (retrieval/respell.py), through the real hybrid retriever."""

from __future__ import annotations

import pytest

from core.protocols import SyncBatch
from core.store_edge import EdgeStore
from core.types import Document, Section
from ingest.chunking import ChunkingConfig, create_chunker
from ingest.pipeline import IndexPipeline
from retrieval.bm25 import BM25Encoder
from retrieval.hybrid import HybridRetriever
from retrieval.respell import Respeller, default_respeller

DOCS = [
    ("pw", "Password rules", "A password needs a minimum length of 14 characters. Okta Verify asks for it.", ("public",)),
    ("vpn", "VPN", "Install Hoshi Connect to reach internal systems from home.", ("public",)),
    ("cafe", "Cafeteria", "The cafeteria serves okra soup on Fridays.", ("public",)),
    ("sec", "Security", "A critical vulnerability in a dependency is fixed within 7 days.", ("group:security",)),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory, embedder):
    store = EdgeStore(tmp_path_factory.mktemp("respell") / "idx")
    chunker = create_chunker("tokens", ChunkingConfig(), model_pieces=embedder.count_word_pieces)
    docs = [Document("sample", i, t, (Section(x),), principals=p) for i, t, x, p in DOCS]
    IndexPipeline(store, chunker, embedder, BM25Encoder()).index([SyncBatch(documents=docs)])
    yield store
    store.close()


def retriever(store, embedder, respeller):
    return HybridRetriever(store, embedder, BM25Encoder(avg_len=store.get_meta()["bm25_avg_len"]), respeller=respeller)


def test_dictionary_words_one_or_two_slips_away():
    speller = Respeller(["password", "length", "dependency", "replacement", "session", "lesson", "data", "beta"])
    assert speller.candidates("pasword") == ["password"]  # a letter left out
    assert speller.candidates("lenght") == ["length"]  # two letters swapped
    assert speller.candidates("replacment") == ["replacement"]
    assert speller.candidates("sesion") == ["session"]
    assert speller.candidates("deta") == ["data"]  # a slip keeps the first letter: not "beta"
    assert speller.candidates("sezzion") == []  # two slips: too many for a word under 8 letters
    assert speller.candidates("passwrdd") == ["password"]  # ... but not for a longer one
    assert speller.candidates("password") == []


def test_inflections_and_names_are_no_slips():
    speller = Respeller(["plane", "plant", "feature", "try", "stop", "hint"])
    assert speller.known("planes") and speller.known("featuring") and speller.known("tries") and speller.known("stopped")
    assert not speller.known("plnes")
    never = lambda term: 0  # noqa: E731 - no chunk holds anything: every unknown word would be a slip
    common = lambda term: 0 if term == "hinx" else 5  # noqa: E731 - only the slip is in no chunk
    assert speller.respell("where were the planes shot", never) == "where were the planes shot"
    assert speller.respell("who plays Mr. Hinx", common) == "who plays Mr. Hinx"  # a name inside the query
    assert speller.respell("Hinx rules", common) == "hint rules"  # the first word may be capitalised as typed


def test_a_slip_is_searched_as_the_word_the_documents_use(store, embedder):
    question = "pasword min lenght"
    plain = retriever(store, embedder, None).retrieve(question, top_k=1, principals=["public"], mode="bm25")
    fixed = retriever(store, embedder, default_respeller())
    hits = fixed.retrieve(question, top_k=1, principals=["public"], mode="bm25")
    assert not plain or plain[0].chunk.document_id != "sample:pw" or plain[0].score < hits[0].score
    assert hits[0].chunk.document_id == "sample:pw"
    assert fixed.respeller.respell(question, lambda t: fixed._chunks_with(t, ("public",))) == "password min length"


def test_words_of_the_documents_and_words_nobody_may_read_stay_as_typed(store, embedder):
    fixed = retriever(store, embedder, default_respeller())
    # "okta" is one slip from "okra", which the cafeteria page holds, but the index holds "okta" too: the
    # company's own word is meant as typed.
    assert fixed.respeller.respell("okta verify", lambda t: fixed._chunks_with(t, ("public",))) == "okta verify"
    # "critcal" becomes "critical" only for someone who may read a chunk holding it.
    assert fixed.respeller.respell("critcal fix", lambda t: fixed._chunks_with(t, ("public",))) == "critcal fix"
    assert fixed.respeller.respell("critcal fix", lambda t: fixed._chunks_with(t, ("group:security",))) == "critical fix"
