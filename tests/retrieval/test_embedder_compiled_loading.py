"""How the compiled embedder loads: the tokenizer before (and without) the model, the runtime without OpenVINO's
conversion tools, and ``unknown_share`` remembered per text."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from core.settings import Settings
from retrieval import embedder_compiled
from retrieval.embedder import resolve_model_path
from retrieval.embedder_compiled import CompiledEmbedder
from retrieval.model_tokenizer import ModelTokenizer

REPO = Path(__file__).resolve().parents[2]
MODEL = resolve_model_path("all-MiniLM-L6-v2")


def fresh_embedder() -> CompiledEmbedder:
    settings = Settings()  # the per-user cache `make install` fills: nothing is exported here
    return CompiledEmbedder(settings.embedding_model, backend=settings.embedding_backend,
                            cache_dir=settings.embedder_cache_dir)


def test_counting_and_unknown_share_need_only_the_tokenizer():
    embedder = fresh_embedder()
    assert embedder.count_word_pieces("How do I set up the VPN?") == 11  # with [CLS] and [SEP]
    assert embedder.unknown_share("経費精算の期限") > 0.5 and embedder.unknown_share("expense report") == 0.0
    assert embedder.max_seq_length == 256
    assert embedder.model_file is None  # the model was neither looked up nor compiled
    embedder.load()
    assert embedder.model_file is not None and embedder.model_file.exists()


def test_a_query_waits_for_a_model_another_thread_is_loading():
    embedder = fresh_embedder()
    loader = threading.Thread(target=embedder.load)
    loader.start()
    vector = embedder.embed_query("How do I set up the VPN?")  # waits for the other thread's load, or loads
    loader.join()
    assert vector.shape == (384,)
    assert embedder.embed_query("How do I set up the VPN?").tolist() == vector.tolist()


def test_unknown_share_is_computed_once_per_text(monkeypatch):
    computed: list[str] = []
    real = embedder_compiled.unreadable_share

    def counting(tokenizer, text):
        computed.append(text)
        return real(tokenizer, text)

    monkeypatch.setattr(embedder_compiled, "unreadable_share", counting)
    monkeypatch.setattr(embedder_compiled, "_SHARES_KEPT", 2)
    embedder = fresh_embedder()
    texts = ["経費精算の期限", "expense report", "経費精算の期限", "expense report"]
    shares = [embedder.unknown_share(t) for t in texts]
    assert shares[0] == shares[2] == real(ModelTokenizer(MODEL, 256), texts[0]) and shares[1] == shares[3] == 0.0
    assert computed == texts[:2]
    embedder.unknown_share("a third text")  # beyond the bound the least recently used is forgotten
    embedder.unknown_share("経費精算の期限")
    assert computed == [*texts[:2], "a third text", "経費精算の期限"]


def test_the_runtime_is_imported_without_openvinos_conversion_tools_and_their_telemetry():
    script = """
import json, sys, threading
from retrieval.embedder_compiled import openvino_runtime
ov = openvino_runtime()
core_ok = "CPU" in ov.Core().available_devices
report = {"tools": "openvino.tools.ovc" in sys.modules, "telemetry": "openvino_telemetry" in sys.modules,
          "threads": [t.name for t in threading.enumerate()], "core": core_ok}
from openvino.tools.ovc import convert_model  # the export still finds the tools when it needs them
report["convert_model"] = callable(convert_model)
print(json.dumps(report))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(Path.home())})
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"tools": False, "telemetry": False, "threads": ["MainThread"], "core": True,
                      "convert_model": True}


def test_a_started_query_gives_exactly_the_vector_embed_query_gives():
    embedder = fresh_embedder()
    before_load = embedder.start_query("How do I set up the VPN?")  # never waits for a load: computed when asked
    assert embedder.model_file is None
    assert before_load().tolist() == embedder.embed_query("How do I set up the VPN?").tolist()
    texts = ["How do I set up the VPN?", "Who has to approve an expense report over 50,000 yen?", "経費精算の期限", "x"]
    for text in texts:
        pending = embedder.start_query(text)
        assert pending().tolist() == embedder.embed_query(text).tolist(), text
        assert pending() is pending()  # collected once, kept
    # While one started query runs, a second is computed when asked for: the same vectors, nothing blocks.
    first, second = embedder.start_query(texts[0]), embedder.start_query(texts[1])
    assert second().tolist() == embedder.embed_query(texts[1]).tolist()
    assert first().tolist() == embedder.embed_query(texts[0]).tolist()
    again = embedder.start_query(texts[2])  # the first one's inference request is free again
    assert again().tolist() == embedder.embed_query(texts[2]).tolist()
