"""The on-disk sentence vectors: a new process reuses what an earlier one embedded, exactly, and never fails on them."""

from __future__ import annotations

import stat

import numpy as np

from chat.answerability import AnswerabilityModel
from chat.sentence_vectors import SentenceVectorStore
from tests.chat.conftest import make_hit


def test_vectors_come_back_exactly_and_only_for_their_model(tmp_path):
    path = tmp_path / "sv.sqlite"
    vector = np.random.default_rng(0).standard_normal(384).astype(np.float32)
    SentenceVectorStore(path, "minilm|openvino-int8").put_many({"A VPN session lasts 12 hours.": vector})
    again = SentenceVectorStore(path, "minilm|openvino-int8").get_many(["A VPN session lasts 12 hours.", "unseen"])
    assert list(again) == ["A VPN session lasts 12 hours."]
    assert np.array_equal(again["A VPN session lasts 12 hours."], vector)
    assert SentenceVectorStore(path, "minilm|torch").get_many(["A VPN session lasts 12 hours."]) == {}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"VPN" not in path.read_bytes()  # keys are hashes: the file holds no document text


def test_beyond_capacity_the_oldest_vectors_are_dropped(tmp_path):
    store = SentenceVectorStore(tmp_path / "sv.sqlite", "m", capacity=3)
    for i in range(5):
        store.put_many({f"sentence {i}": np.full(4, i, dtype=np.float32)})
    assert sorted(store.get_many([f"sentence {i}" for i in range(5)])) == ["sentence 2", "sentence 3", "sentence 4"]


def test_a_corrupt_file_is_never_fatal(tmp_path, caplog):
    path = tmp_path / "sv.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    store = SentenceVectorStore(path, "m")
    assert store.get_many(["anything"]) == {}
    store.put_many({"anything": np.ones(4, dtype=np.float32)})  # no exception either
    assert "not used" in caplog.text


def test_a_new_process_reuses_the_sentences_an_earlier_one_embedded(embedder, tmp_path):
    chunk = make_hit("vpn", "A VPN session lasts at most 12 hours. After that you must sign in again. "
                     "Use Hoshi Connect on every laptop.", title="VPN setup")
    path = tmp_path / "sv.sqlite"
    first = AnswerabilityModel(embedder, sentence_store=SentenceVectorStore(path, "m"))
    before = embedder.texts_embedded
    a = first.assess("How long does a VPN session last?", [chunk])
    embedded_first = embedder.texts_embedded - before
    # A new model, as a new process would build it: only the question is embedded, and the verdict is the same.
    second = AnswerabilityModel(embedder, sentence_store=SentenceVectorStore(path, "m"))
    before = embedder.texts_embedded
    b = second.assess("How long does a VPN session last?", [chunk])
    assert embedded_first == 4 and embedder.texts_embedded - before == 1
    # Equal up to float rounding: the first model embedded the question in one batch with the sentences (padding).
    assert np.allclose([c.features["dense"] for c in a.candidates], [c.features["dense"] for c in b.candidates], atol=1e-5)
    assert abs(a.probability - b.probability) < 1e-5


def test_the_app_keeps_sentence_vectors_in_its_data_dir_per_model(embedder, tmp_path):
    from bots.app import KuraApp
    from core.settings import Settings

    with KuraApp(Settings(data_dir=tmp_path / "data"), embedder=embedder) as kura:
        store = kura.answerability.sentence_store
        assert store.path == tmp_path / "data" / "sentence_vectors.sqlite"
        assert kura.settings.embedding_backend in store.model_key and kura.settings.embedding_model in store.model_key
