"""OnnxEmbedder: a sentence-transformers model (all-MiniLM-L6-v2 by default) run by ONNX Runtime.

The same vectors as the torch path (SentenceTransformerEmbedder; a test holds them within 1e-5),
at less cost: a one-sentence query takes ~4 ms instead of ~10.5 ms on the 2-core dev machine,
and a batch of turns about a sixth less. The transformer is exported to ONNX once per model
file (torch's exporter, ~3 s) into `model_dir`, named by the weights' hash, so a changed model
is never served from a stale export. Tokenizing (the model's own tokenizer.json), mean pooling
and normalizing are done here, as the model's sentence-transformers modules say; a model whose
modules are anything else is refused with a clear error (use `embedding_runtime = "torch"`).

`quantized`: the export's weights quantized to int8 (dynamic, per channel), kept beside it under
its own name, run one text at a time (see `_batch_size`). A one-sentence query then takes
~2.6 ms instead of ~6 ms; the vectors are not the same (cosine 0.989-0.998 to the float ones),
so the embedder's model name gets an `-int8` suffix: cache keys and document versions never
mix the two.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import structlog

log = structlog.get_logger()

WEIGHTS = ("model.safetensors", "pytorch_model.bin")
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17


class UnsupportedModel(Exception):
    """The model's sentence-transformers pipeline is not one this adapter reproduces."""


def _check_pipeline(model_path: Path) -> int:
    """The max sequence length, after checking the modules are Transformer, mean Pooling and
    Normalize (what the pooling below reproduces)."""
    modules = json.loads((model_path / "modules.json").read_text())
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    if kinds != ["Transformer", "Pooling", "Normalize"]:
        raise UnsupportedModel(
            f"{model_path}: modules {kinds}, expected Transformer, Pooling, Normalize"
        )
    pooling_dir = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
    pooling = json.loads((model_path / pooling_dir / "config.json").read_text())
    modes = sorted(k for k, v in pooling.items() if k.startswith("pooling_mode") and v)
    if modes != ["pooling_mode_mean_tokens"]:
        raise UnsupportedModel(f"{model_path}: pooling {modes}, expected mean tokens only")
    config = model_path / "sentence_bert_config.json"
    if config.exists():
        return int(json.loads(config.read_text()).get("max_seq_length") or 512)
    return 512


def _weights(model_path: Path) -> Path:
    for name in WEIGHTS:
        if (model_path / name).exists():
            return model_path / name
    raise UnsupportedModel(f"{model_path}: no {' or '.join(WEIGHTS)}")


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def export_onnx(model_path: Path, target: Path) -> None:
    """Export the model's transformer (token ids -> last hidden state) to `target`, atomically:
    a concurrent start (API and worker processes) may export too; the last rename wins and
    both files are the same."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from service.adapters.sentence_embedder import quiet_loading

    class Hidden(torch.nn.Module):
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    quiet_loading()
    bert = AutoModel.from_pretrained(str(model_path)).eval()
    sample = AutoTokenizer.from_pretrained(str(model_path))(
        ["a sample", "a longer sample text"], padding=True, return_tensors="pt"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "hidden")}
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # tracer warnings about shapes: expected
            torch.onnx.export(
                Hidden(bert),
                tuple(sample[name] for name in INPUTS),
                str(partial),
                input_names=list(INPUTS),
                output_names=["hidden"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def quantize_onnx(source: Path, target: Path) -> None:
    """`source`'s weights quantized to int8 (per channel; activations quantized on the fly),
    written atomically to `target` like the export."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        quantize_dynamic(source, partial, per_channel=True, weight_type=QuantType.QInt8)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


INT8_SUFFIX = "-int8"


class OnnxEmbedder:
    """Implements Embedder with ONNX Runtime on the CPU; batches sorted by length, serialized."""

    def __init__(
        self,
        model_path: Path,
        model_name: str,
        model_dir: Path,
        batch_size: int = 16,
        threads: int = 2,
        quantized: bool = False,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        max_tokens = _check_pipeline(model_path)
        weights = _weights(model_path)
        onnx_path = model_dir / f"{model_name}-{_fingerprint(weights)}.onnx"
        if not onnx_path.exists():
            log.info("embedder.exporting", model=model_name, path=str(onnx_path))
            export_onnx(model_path, onnx_path)
            log.info("embedder.exported", model=model_name, path=str(onnx_path))
        if quantized:
            model_name += INT8_SUFFIX
            source, onnx_path = onnx_path, onnx_path.with_name(f"{onnx_path.stem}-int8.onnx")
            if not onnx_path.exists():
                quantize_onnx(source, onnx_path)
                log.info("embedder.quantized", model=model_name, path=str(onnx_path))
        options = ort.SessionOptions()
        # Every process on a 2-core box should use at most 2 threads (oversubscription is slower).
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        # Idle pool threads sleep instead of spinning: on 2 cores a spinning pool steals the CPU
        # from Valkey, the HTTP loop and the workers between runs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self._dim = int(self._session.get_outputs()[0].shape[-1])
        tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=max_tokens)
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self._name = model_name
        # int8 activations are quantized with one scale per run, from the whole batch: a text's
        # vector would depend on its batch mates. One text per run keeps it a function of the text.
        self._batch_size = 1 if quantized else batch_size
        # One run at a time: parallel runs on 2 cores only contend for them.
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        encoded = self._tokenizer.encode_batch(list(texts))
        # Similar lengths together: padding is compute spent on nothing.
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i].ids))
        out: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self._batch_size):
            chunk = order[start : start + self._batch_size]
            vectors = self._run([encoded[i] for i in chunk])
            for i, vector in zip(chunk, vectors, strict=True):
                out[i] = vector.tolist()
        return out

    def _run(self, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        feeds = {name: np.zeros((len(encodings), width), dtype=np.int64) for name in INPUTS}
        for row, e in enumerate(encodings):
            n = len(e.ids)
            feeds["input_ids"][row, :n] = e.ids
            feeds["attention_mask"][row, :n] = e.attention_mask
            feeds["token_type_ids"][row, :n] = e.type_ids
        with self._lock:
            [hidden] = self._session.run(None, feeds)
        # Mean over the real tokens, then unit length (sentence-transformers' Pooling, Normalize).
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        summed = (hidden * mask).sum(axis=1)
        mean = summed / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(mean, axis=1, keepdims=True)
        result: np.ndarray = mean / np.clip(norms, 1e-12, None)
        return result
