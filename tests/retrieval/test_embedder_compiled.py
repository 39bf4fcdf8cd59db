"""The embedding model exported to onnxruntime: same vectors as PyTorch (fp32), close ones (int8), exported once."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.embedder_compiled import CompiledEmbedder
from retrieval.embedder_export import ensure_exported, export_dir

TEXTS = [
    "Submit expense reports in Hoshi Expense within 30 days of the receipt date.",
    "Connect with Hoshi Connect before you open the intranet from a hotel.",
    "経費精算申請書は領収書の日付から30日以内に提出してください。",
    "short",
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("embedders")


def test_onnx_matches_pytorch_and_is_exported_once(embedder, cache):
    onnx = CompiledEmbedder(backend="onnx", cache_dir=cache, threads=2, batch_size=2)
    vectors = onnx.embed_documents(TEXTS)
    reference = embedder.embed_documents(TEXTS)
    assert vectors.shape == reference.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float((vectors * reference).sum(axis=1).min()) > 0.9999
    assert np.allclose(onnx.embed_query(TEXTS[0]), embedder.embed_query(TEXTS[0]), atol=1e-4)
    assert onnx.count_word_pieces(TEXTS[2]) == embedder.count_word_pieces(TEXTS[2])
    long_text = " ".join(TEXTS) * 30  # counted in full, although embedding truncates at 256 pieces
    assert onnx.count_word_pieces(long_text) == embedder.count_word_pieces(long_text) > 1000
    assert onnx.unknown_share(TEXTS[2]) == pytest.approx(embedder.unknown_share(TEXTS[2]))
    assert onnx.max_seq_length == embedder.max_seq_length and onnx.calls == 1
    model_file = next(export_dir(cache, "x", "onnx").parent.glob("*-onnx-v*/model.onnx"))
    stamp = model_file.stat().st_mtime_ns
    CompiledEmbedder(backend="onnx", cache_dir=cache, threads=2).embed_query("again")
    assert model_file.stat().st_mtime_ns == stamp  # reused, not exported again
    assert not list(model_file.parent.parent.glob(".export-*"))  # no staging folder left behind


def test_int8_stays_close_to_fp32(embedder, cache):
    int8 = CompiledEmbedder(backend="onnx-int8", cache_dir=cache, threads=2)
    cosine = (int8.embed_documents(TEXTS[:2]) * embedder.embed_documents(TEXTS[:2])).sum(axis=1)
    assert cosine.min() > 0.97


def test_unknown_backend_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown embedding backend 'tensorrt'"):
        ensure_exported(tmp_path, "/nowhere", "tensorrt")
