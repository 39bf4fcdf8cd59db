"""The compiled embedders: same vectors as PyTorch (fp32), close ones (int8), exported once per machine, no torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from retrieval import embedder_export
from retrieval.embedder import resolve_model_path
from retrieval.embedder_compiled import CompiledEmbedder
from retrieval.embedder_export import ensure_exported, export_dir

REPO = Path(__file__).resolve().parents[2]
TEXTS = [
    "Submit expense reports in Hoshi Expense within 30 days of the receipt date.",
    "Connect with Hoshi Connect before you open the intranet from a hotel.",
    "経費精算申請書は領収書の日付から30日以内に提出してください。",
    "short",
]
HARD_TEXTS = [  # accents, emoji, control characters, CJK punctuation, long words, empty-ish
    "Café naïve résumé — Ünïcödé façade", "deploy 🚀 at 10:00 UTC\tthen\u200bcheck", "  ", "ｶﾀｶﾅ　全角スペース、句読点。",
    "supercalifragilisticexpialidocious" * 3, "x" * 600, "e-mail: aiko.tanaka@hoshi-robotics.example (v2.3.1)",
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("embedders")


def test_onnx_matches_pytorch_and_is_exported_once(embedder, cache):
    lines: list[str] = []
    onnx = CompiledEmbedder(backend="onnx", cache_dir=cache, threads=2, batch_size=2, announce=lines.append)
    vectors = onnx.embed_documents(TEXTS)
    reference = embedder.embed_documents(TEXTS)
    assert vectors.shape == reference.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float((vectors * reference).sum(axis=1).min()) > 0.9999
    assert np.allclose(onnx.embed_query(TEXTS[0]), embedder.embed_query(TEXTS[0]), atol=1e-4)
    assert onnx.max_seq_length == embedder.max_seq_length and onnx.calls == 1
    assert len(lines) == 1 and "building the onnx embedding model" in lines[0]  # the progress line, once
    model_file = onnx.model_file
    stamp = model_file.stat().st_mtime_ns
    again: list[str] = []
    CompiledEmbedder(backend="onnx", cache_dir=cache, threads=2, announce=again.append).embed_query("again")
    assert model_file.stat().st_mtime_ns == stamp and not again  # reused, not exported again
    assert not list(model_file.parent.parent.glob(".export-*"))  # no staging folder left behind


def test_tokenizer_without_transformers_matches_sentence_transformers(embedder, cache):
    onnx = CompiledEmbedder(backend="onnx", cache_dir=cache, threads=2)
    hf = embedder._load().tokenizer  # the reference: what sentence-transformers tokenizes with
    for text in TEXTS + HARD_TEXTS:
        assert onnx.count_word_pieces(text) == embedder.count_word_pieces(text), text
        assert onnx.unknown_share(text) == pytest.approx(embedder.unknown_share(text)), text
        assert onnx._tokenizer.tokenize(text) == hf.tokenize(text), text
    long_text = " ".join(TEXTS) * 30  # counted in full, although embedding truncates at 256 pieces
    assert onnx.count_word_pieces(long_text) == embedder.count_word_pieces(long_text) > 1000
    # Truncated and bucketed alike: a long text among short ones embeds as it does alone, and as PyTorch's.
    mixed = onnx.embed_documents(HARD_TEXTS + [long_text])
    alone = onnx.embed_documents([long_text])[0]
    assert float(mixed[-1] @ alone) > 0.99999
    assert float((mixed * embedder.embed_documents(HARD_TEXTS + [long_text])).sum(axis=1).min()) > 0.9999


def test_length_buckets_cut_padding(cache):
    onnx = CompiledEmbedder(backend="onnx", cache_dir=cache, threads=2, batch_size=2)
    texts = ["word " * 200, "hi", "word " * 190, "yo"]  # two long, two short: sorted, each batch pads little
    onnx.embed_documents(texts)
    assert onnx.padding_share < 0.05


def test_openvino_int8_is_close_and_uses_the_shared_export(embedder, compiled_embedder):
    cosine = (compiled_embedder.embed_documents(TEXTS) * embedder.embed_documents(TEXTS)).sum(axis=1)
    # English, which the model reads, stays within 0.98; the Japanese line is word-pieces the model cannot read
    # (retrieval uses BM25 for it), and its int8 vector moved to 0.979 with one calibration export: 0.95 there.
    assert min(cosine[0], cosine[1], cosine[3]) > 0.98
    assert cosine.min() > 0.95
    # The shared export lives in the per-user cache, not in any data dir, and is reused, not rebuilt.
    assert compiled_embedder.model_file.exists() and "openvino-int8" in compiled_embedder.model_file.parent.name
    called = []
    again = CompiledEmbedder(backend="openvino-int8", cache_dir=compiled_embedder.cache_dir,
                             calibration_texts=lambda: called.append(1) or [], announce=called.append)
    again.embed_query("reuse")
    assert not called  # neither calibrated nor announced: nothing was exported


def test_export_is_keyed_by_model_backend_and_library_versions(monkeypatch, tmp_path):
    model = resolve_model_path("all-MiniLM-L6-v2")
    first = export_dir(tmp_path, model, "openvino-int8")
    assert first == export_dir(tmp_path, model, "openvino-int8")  # stable
    assert first != export_dir(tmp_path, model, "onnx-int8")
    real = embedder_export.metadata.version
    monkeypatch.setattr(embedder_export.metadata, "version", lambda lib: "9.9" if lib == "openvino" else real(lib))
    assert export_dir(tmp_path, model, "openvino-int8") != first  # a runtime upgrade makes a new export


def test_unknown_backend_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown embedding backend 'tensorrt'"):
        ensure_exported(tmp_path, "/nowhere", "tensorrt")


def test_ask_on_the_compiled_backend_never_imports_torch(compiled_embedder, tmp_path):
    """Ingest and ask in a fresh process (the default backend): torch and sentence-transformers stay out."""
    script = """
import json, sys
from bots.app import KuraApp, sample_connector
from core.settings import Settings
with KuraApp(Settings(data_dir=sys.argv[1])) as kura:
    kura.ingest(sample_connector())
    answer = kura.ask("How do I set up the VPN?", principals=("public",))
print(json.dumps({"answered": not answer.abstained, "backend": kura.settings.embedding_backend,
                  "heavy": sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules)}))
"""
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "HOME": str(Path.home()),
           "KURA_EMBEDDING_CACHE_DIR": str(compiled_embedder.cache_dir)}
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "data")], capture_output=True, text=True,
                         env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"answered": True, "backend": "openvino-int8", "heavy": []}
