"""Exports the sentence-transformers model to faster CPU runtimes, offline, once, into the cache directory.

Backends (``KURA_EMBEDDING_BACKEND``):

- ``onnx``: the transformer as ONNX (fp32), run by onnxruntime;
- ``onnx-int8``: the same with weights quantized to int8 (dynamic quantization);
- ``openvino``: the ONNX model compiled by OpenVINO, kept at fp32 precision;
- ``openvino-int8``: OpenVINO with weights and activations quantized to int8
  (static quantization by NNCF), calibrated on ``calibration_texts``.

The export runs from the local model folder (no hub) and writes to a staging
folder renamed into place, so concurrent first uses by two processes cannot
leave a half-written model. Pooling (mean over tokens) and normalisation are
done by the caller, as sentence-transformers does.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

BACKENDS = ("onnx", "onnx-int8", "openvino", "openvino-int8")
# Bumped when the export changes, so caches of an older export are not reused.
EXPORT_VERSION = "1"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_dir(cache_dir: Path, model_path: str, backend: str) -> Path:
    from core.types import content_hash

    return Path(cache_dir) / "embedders" / f"{Path(model_path).name}-{content_hash(model_path)}-{backend}-v{EXPORT_VERSION}"


def ensure_exported(cache_dir: Path, model_path: str, backend: str, calibration_texts: Sequence[str] = ()) -> Path:
    """The exported model file for ``backend`` (``model.onnx`` or ``model.xml``), exporting it on first use."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}; use torch or one of {', '.join(BACKENDS)}")
    target = export_dir(cache_dir, model_path, backend)
    model_file = target / ("model.xml" if backend.startswith("openvino") else "model.onnx")
    if model_file.exists():
        return model_file
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".export-"))
    try:
        logger.info("exporting the embedding model to %s (once)", backend)
        onnx_file = _export_onnx(model_path, staging)
        if backend == "onnx-int8":
            _quantize_onnx_dynamic(onnx_file, staging / "model.int8.onnx")
            os.replace(staging / "model.int8.onnx", onnx_file)
        elif backend.startswith("openvino"):
            _to_openvino(onnx_file, staging, model_path, calibration_texts if backend == "openvino-int8" else None)
        try:
            os.rename(staging, target)
        except OSError:  # another process finished first: use its export
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return model_file


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

    model = ov.convert_model(str(onnx_file))
    if calibration_texts is not None:
        model = _quantize_static(model, model_path, calibration_texts)
    ov.save_model(model, str(folder / "model.xml"), compress_to_fp16=False)
    onnx_file.unlink()


def _quantize_static(model, model_path: str, texts: Sequence[str]):
    """Int8 weights and activations, with activation ranges measured on ``texts`` (local text, no download)."""
    import nncf
    from transformers import AutoTokenizer

    if len(texts) < 32:
        raise ValueError("static int8 quantization needs at least 32 calibration texts")
    tokenizer = AutoTokenizer.from_pretrained(model_path)

    def encoded(text: str) -> dict:
        out = tokenizer([text], truncation=True, max_length=256, return_tensors="np")
        return {name: out[name] for name in INPUTS}

    dataset = nncf.Dataset(list(texts), encoded)
    return nncf.quantize(model, dataset, model_type=nncf.ModelType.TRANSFORMER, subset_size=len(texts))
