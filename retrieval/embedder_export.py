"""Exports the sentence-transformers model to faster CPU runtimes, offline, once, into the cache directory.

Backends (``KURA_EMBEDDING_BACKEND``):

- ``onnx``: the transformer as ONNX (fp32), run by onnxruntime;
- ``onnx-int8``: the same with weights quantized to int8 (dynamic quantization);
- ``openvino``: the ONNX model compiled by OpenVINO, kept at fp32 precision;
- ``openvino-int8``: OpenVINO with weights and activations quantized to int8
  (static quantization by NNCF), calibrated on ``calibration_texts``.

Exports live in a per-user cache (``~/.cache/kura/embedders`` unless
``KURA_EMBEDDING_CACHE_DIR`` or ``XDG_CACHE_HOME`` say otherwise), one folder
per model, backend and versions of the libraries that made and run it, so
every data dir on the machine shares one export and an upgrade of OpenVINO or
NNCF makes a new one instead of loading an incompatible file. ``make install``
builds the default one (``kura embedder prepare``); otherwise the first use
builds it, saying so on stderr.

The export runs from the local model folder (no hub) under a lock (a second
process waits instead of exporting again) and writes to a staging folder
renamed into place, so no process ever sees a half-written model. Pooling
(mean over tokens) and normalisation are done by the caller, as
sentence-transformers does.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

logger = logging.getLogger(__name__)

BACKENDS = ("onnx", "onnx-int8", "openvino", "openvino-int8")
# Bumped when the export changes, so caches of an older export are not reused.
EXPORT_VERSION = "2"
# Libraries whose version goes into the cache key: those that make the export and those that run it.
_KEY_LIBRARIES = {"onnx": ("torch", "onnxruntime"), "onnx-int8": ("torch", "onnxruntime"),
                  "openvino": ("torch", "openvino"), "openvino-int8": ("torch", "openvino", "nncf")}
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_dir(cache_dir: Path, model_path: str, backend: str) -> Path:
    """Where this model's export for ``backend`` lives: one folder per model, backend and library versions."""
    from core.types import content_hash

    versions = "-".join(f"{lib}{_version(lib)}" for lib in _KEY_LIBRARIES.get(backend, ()))
    key = content_hash(f"{Path(model_path).resolve()}|{_model_identity(Path(model_path))}|{versions}")
    return Path(cache_dir) / "embedders" / f"{Path(model_path).name}-{backend}-v{EXPORT_VERSION}-{key[:12]}"


def model_file_in(folder: Path, backend: str) -> Path:
    return folder / ("model.xml" if backend.startswith("openvino") else "model.onnx")


def ensure_exported(
    cache_dir: Path,
    model_path: str,
    backend: str,
    calibration_texts: Callable[[], Sequence[str]] | Sequence[str] | None = None,
    *,
    announce: Callable[[str], None] | None = None,
) -> Path:
    """The exported model file for ``backend`` (``model.onnx`` or ``model.xml``), exporting it on first use.

    ``calibration_texts`` (openvino-int8 only) is called only when an export is made.
    ``announce`` gets the one progress line a first use prints (default: stderr).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}; use torch or one of {', '.join(BACKENDS)}")
    target = export_dir(cache_dir, model_path, backend)
    model_file = model_file_in(target, backend)
    if model_file.exists():
        return model_file
    target.parent.mkdir(parents=True, exist_ok=True)
    with _export_lock(target):
        if model_file.exists():  # another process exported it while we waited for the lock
            return model_file
        (announce or _to_stderr)(
            f"kura: building the {backend} embedding model for {Path(model_path).name} (once per machine, "
            f"about a minute) into {target}"
        )
        started = time.perf_counter()
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".export-"))
        try:
            onnx_file = _export_onnx(model_path, staging)
            if backend == "onnx-int8":
                _quantize_onnx_dynamic(onnx_file, staging / "model.int8.onnx")
                os.replace(staging / "model.int8.onnx", onnx_file)
            elif backend.startswith("openvino"):
                texts = None
                if backend == "openvino-int8":
                    texts = calibration_texts() if callable(calibration_texts) else calibration_texts
                    if texts is None:
                        from retrieval.calibration import kura_texts

                        texts = kura_texts()
                _to_openvino(onnx_file, staging, model_path, texts)
            os.rename(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        logger.info("exported the embedding model to %s in %.0f s", backend, time.perf_counter() - started)
    return model_file


def _export_lock(target: Path):
    """An exclusive flock beside the export folder, released when the holder exits however it exits."""

    class _Lock:
        def __enter__(self):
            self.fd = os.open(f"{target}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            return self

        def __exit__(self, *exc):
            os.close(self.fd)

    return _Lock()


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _version(library: str) -> str:
    try:
        return metadata.version(library)
    except metadata.PackageNotFoundError:
        return "none"


def _model_identity(folder: Path) -> str:
    """Sizes and mtimes of the model's files: a model replaced in place gets a new export."""
    if not folder.is_dir():
        return ""
    return ",".join(f"{p.name}:{p.stat().st_size}:{int(p.stat().st_mtime)}" for p in sorted(folder.glob("*"))
                    if p.is_file())


def _export_onnx(model_path: str, folder: Path) -> Path:
    import torch
    from transformers import AutoModel, AutoTokenizer

    class HiddenStates(torch.nn.Module):
        """The transformer with named inputs in a fixed order and one output: what ONNX export needs."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = AutoModel.from_pretrained(model_path).eval()

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    model = HiddenStates().eval()
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    sample = tokenizer(["an example input", "another, longer example input text"], padding=True,
                       return_tensors="pt")
    path = folder / "model.onnx"
    with torch.no_grad():
        torch.onnx.export(
            model,
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(path),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "sequence"} for name in INPUTS}
            | {"last_hidden_state": {0: "batch", 1: "sequence"}},
            opset_version=17,
            dynamo=False,
        )
    return path


def _quantize_onnx_dynamic(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel weight scales: per-tensor ones cost this model ~0.06 of cosine to the fp32 vectors.
    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)


def _to_openvino(onnx_file: Path, folder: Path, model_path: str, calibration_texts: Sequence[str] | None) -> None:
    import openvino as ov
    from openvino.tools.ovc import convert_model  # not in ``ov`` when the runtime was imported without it

    model = convert_model(str(onnx_file))
    if calibration_texts is not None:
        model = _quantize_static(model, model_path, calibration_texts)
    ov.save_model(model, str(folder / "model.xml"), compress_to_fp16=False)
    onnx_file.unlink()


def _quantize_static(model, model_path: str, texts: Sequence[str] | None):
    """Int8 weights and activations, with activation ranges measured on ``texts`` (local text, no download)."""
    import nncf

    from retrieval.model_tokenizer import ModelTokenizer, pad_batch

    if not texts or len(texts) < 32:
        raise ValueError("static int8 quantization needs at least 32 calibration texts")
    tokenizer = ModelTokenizer(model_path, max_length=256)

    def encoded(text: str) -> dict:
        return pad_batch(tokenizer.encode([text]), tokenizer.pad_id)

    dataset = nncf.Dataset(list(texts), encoded)
    return nncf.quantize(model, dataset, model_type=nncf.ModelType.TRANSFORMER, subset_size=len(texts))
