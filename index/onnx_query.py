"""Question vectors through ONNX Runtime: the fast path for one short text.

A question's vector is one forward pass over a dozen tokens, where the Python and dispatch
overhead of torch and sentence-transformers costs more than the arithmetic. The same encoder
exported to ONNX gives the same vectors (``fp32``) in about half the time. With its matrix
multiplies also quantised to int8 per output channel (``int8``; the other operations stay
float32) it reads a quarter of the weights and takes about a quarter of the time, but its
vectors are no longer the float32 ones (cosine about 0.995 to them for questions). Only
questions go through it: the index is always built with the encoder itself.

The export runs once per model, in its own process (exporting in the process that later runs
torch inference made torch's outputs non-repeatable here), into a cache folder
(``$QA_CACHE_DIR``, else ``$XDG_CACHE_HOME/qa-bot``, else ``~/.cache/qa-bot``), written
atomically. Only sentence-transformers folders whose pooling is the mean of the token vectors
are supported; others keep the torch encoder.

    python -m index.onnx_query export MODEL_DIR OUT_FILE [--int8]
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from index.cache import cache_root
from index.threads import process_cpus

#: Bumped when the exported graph or its quantisation changes, so old cache entries are not reused.
FORMAT_VERSION = 1
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
#: ``fp32``: the encoder as it is; ``int8``: its matrix multiplies quantised per output channel.
PRECISIONS = ("fp32", "int8")


class OnnxUnavailable(RuntimeError):
    """The ONNX path cannot serve this model here (missing package, unsupported model, failed export)."""


def model_layout(model_dir: Path) -> dict:
    """What the encoder needs to know of a sentence-transformers folder: the transformer's
    subfolder, the maximum sequence length and whether vectors are normalised. Raises
    :class:`OnnxUnavailable` for a folder it cannot reproduce (pooling other than the mean)."""
    modules_file = model_dir / "modules.json"
    if not modules_file.is_file():
        raise OnnxUnavailable(f"{model_dir} is not a sentence-transformers folder (no modules.json)")
    modules = json.loads(modules_file.read_text())
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k not in ("Transformer", "Pooling", "Normalize") for k in kinds):
        raise OnnxUnavailable(f"{model_dir}: modules {kinds} (only Transformer, Pooling[, Normalize])")
    transformer_dir = model_dir / (modules[0].get("path") or "")
    pooling = json.loads((model_dir / modules[1]["path"] / "config.json").read_text())
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if modes != ["pooling_mode_mean_tokens"]:
        raise OnnxUnavailable(f"{model_dir}: pooling {modes} (only the mean of the tokens)")
    config_file = transformer_dir / "sentence_bert_config.json"
    if not config_file.is_file():
        config_file = model_dir / "sentence_bert_config.json"
    max_length = json.loads(config_file.read_text()).get("max_seq_length", 256) if config_file.is_file() else 256
    return {"transformer_dir": transformer_dir, "max_length": int(max_length), "normalize": "Normalize" in kinds}


def cache_file(model_dir: Path, precision: str = "fp32") -> Path:
    """Where the export of ``model_dir`` at ``precision`` lives: keyed by the folder, its weight
    files' sizes and times, and the versions of the libraries that wrote it."""
    import onnxruntime
    import torch

    weights = sorted(p for p in model_dir.rglob("*") if p.suffix in (".safetensors", ".bin") and p.is_file())
    key = [str(model_dir.resolve()), FORMAT_VERSION, onnxruntime.__version__, torch.__version__]
    key += [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in weights]
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]
    return cache_root() / "onnx" / f"{model_dir.parent.name}-{model_dir.name}-{digest}" / f"encoder.{precision}.onnx"


def export(model_dir: Path, out_file: Path, int8: bool = False) -> None:
    """Export the transformer of ``model_dir`` to ONNX (with ``int8``, its matrix multiplies
    quantised to int8 per channel), writing ``out_file`` atomically. Run it in a process of its
    own (:func:`ensure_exported`)."""
    import tempfile

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    layout = model_layout(model_dir)
    model = AutoModel.from_pretrained(str(layout["transformer_dir"])).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(layout["transformer_dir"]))

    class LastHidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    sample = tokenizer(["an example question for the export"], return_tensors="pt")
    if "token_type_ids" not in sample:
        raise OnnxUnavailable(f"{model_dir}: the tokenizer gives no token_type_ids")
    out_file.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_file.parent) as tmp:
        plain = Path(tmp) / "encoder.onnx"
        axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")}
        with torch.no_grad():
            torch.onnx.export(LastHidden(model), tuple(sample[k] for k in _INPUTS), str(plain),
                              input_names=list(_INPUTS), output_names=["last_hidden_state"],
                              dynamic_axes=axes, opset_version=17, dynamo=False)
        if int8:
            quantised = Path(tmp) / out_file.name
            quantize_dynamic(str(plain), str(quantised), per_channel=True, op_types_to_quantize=["MatMul"],
                             weight_type=QuantType.QInt8)
            plain = quantised
        os.replace(plain, out_file)


def ensure_exported(model_dir: Path, precision: str = "fp32") -> Path:
    """The export of ``model_dir`` at ``precision``, made now (in a child process) if the cache lacks it."""
    target = cache_file(model_dir, precision)
    if target.is_file():
        return target
    print(f"qa: preparing the ONNX question encoder ({precision}) for {model_dir} (once, 10 to 30 s)...",
          file=sys.stderr, flush=True)
    command = [sys.executable, "-m", "index.onnx_query", "export", str(model_dir), str(target)]
    done = subprocess.run(command + (["--int8"] if precision == "int8" else []),
                          capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if done.returncode != 0 or not target.is_file():
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise OnnxUnavailable(f"export of {model_dir} failed: {reason}")
    return target


class OnnxQueryEncoder:
    """Unit vectors for single texts from the ONNX export (``precision`` ``fp32`` or ``int8``)
    of a sentence-transformers folder. Loads (and exports, the first time) on first use; raises
    :class:`OnnxUnavailable` when it cannot serve this model."""

    def __init__(self, model_dir: str | os.PathLike, precision: str = "fp32") -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.model_dir = Path(model_dir)
        self.precision = precision
        self._session = None
        self._tokenizer = None
        self._layout: dict | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            try:
                import onnxruntime as ort
            except ImportError as e:
                raise OnnxUnavailable("onnxruntime is not installed") from e
            from transformers import AutoTokenizer

            layout = model_layout(self.model_dir)
            path = ensure_exported(self.model_dir, self.precision)
            options = ort.SessionOptions()
            # one short text: two threads at most (more only wait), and no workers spinning
            # between calls beside torch's threads. Beside busy neighbours two threads cost
            # about 3 ms more than one, far less than torch's team loses, so they stay.
            options.intra_op_num_threads = min(2, process_cpus())
            options.inter_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self._tokenizer = AutoTokenizer.from_pretrained(str(layout["transformer_dir"]))
            self._layout = layout
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def encode(self, text: str) -> np.ndarray:
        """The vector of one text (float32, unit length when the model normalises)."""
        self.load()
        assert self._layout is not None and self._tokenizer is not None and self._session is not None
        tokens = self._tokenizer([text], return_tensors="np", truncation=True, max_length=self._layout["max_length"])
        feeds = {name: tokens[name].astype(np.int64) for name in _INPUTS}
        hidden = self._session.run(None, feeds)[0][0]
        mask = tokens["attention_mask"][0].astype(np.float32)[:, None]
        vector = (hidden * mask).sum(axis=0) / max(float(mask.sum()), 1e-9)
        if self._layout["normalize"]:
            norm = float(np.linalg.norm(vector))
            vector = vector / norm if norm > 0 else vector
        return vector.astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    int8 = "--int8" in args
    args = [a for a in args if a != "--int8"]
    if len(args) != 3 or args[0] != "export":
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    try:
        export(Path(args[1]), Path(args[2]), int8=int8)
    except OnnxUnavailable as e:
        print(f"qa: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
