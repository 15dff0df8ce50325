"""Distillation from a larger reader: its span logits, computed once per training question
(:mod:`qa.training.teacher_logits`), teach the student where in the gold paragraph the answer
starts and ends, beside the gold span itself (Hinton et al., 2015).

The teacher may tokenise differently (MPNet and MiniLM share an uncased WordPiece vocabulary,
but not every boundary), so its logits are kept by character: the start logit of each token at
the character where the token starts, the end logit where it ends. A student token takes the
teacher's logit at its own first (last) character; tokens the teacher has no boundary for are
left out of the comparison, and both distributions are renormalised over what is left plus the
no-answer option.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, Optional

import numpy as np
import torch

SHARD_PREFIX = "teacher-"


@dataclass(frozen=True)
class TeacherSpans:
    """A teacher's logits for one question over its gold paragraph (paragraph character offsets)."""

    start_chars: np.ndarray  # int32, sorted: where tokens start
    start_logits: np.ndarray  # float32, one per start_chars
    end_chars: np.ndarray  # int32, sorted: where tokens end
    end_logits: np.ndarray
    null_start: float  # no-answer logits
    null_end: float


def at_chars(chars: np.ndarray, logits: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The logits at the character positions ``wanted`` (NaN where ``chars`` has none)."""
    out = np.full(len(wanted), np.nan, dtype=np.float32)
    if len(chars) == 0:
        return out
    pos = np.searchsorted(chars, wanted)
    pos_ok = np.minimum(pos, len(chars) - 1)
    hit = chars[pos_ok] == wanted
    out[hit] = logits[pos_ok[hit]]
    return out


def distill_kl(student: torch.Tensor, student_null: torch.Tensor, teacher: np.ndarray, teacher_null: float,
               temperature: float) -> Optional[torch.Tensor]:
    """``T^2 * KL(teacher || student)`` over the tokens the teacher has a logit for (not NaN)
    and the no-answer option, both softened by ``temperature``; ``None`` when there are none."""
    known = torch.from_numpy(~np.isnan(teacher)).to(student.device)
    if not bool(known.any()):
        return None
    t = torch.from_numpy(np.nan_to_num(teacher)).to(student.device)
    t = torch.cat([t[known], torch.tensor([teacher_null], device=student.device, dtype=t.dtype)]) / temperature
    s = torch.cat([student[known], student_null.reshape(1)]) / temperature
    p = torch.softmax(t.float(), 0)
    return (p * (torch.log_softmax(t.float(), 0) - torch.log_softmax(s.float(), 0))).sum() * temperature ** 2


def save_shard(path: str, entries: Dict[str, TeacherSpans]) -> None:
    """Write ``entries`` (question id -> spans) as one compressed shard, atomically."""
    qids = list(entries)
    spans = [entries[q] for q in qids]

    def joined(field: str, dtype) -> np.ndarray:
        return np.concatenate([getattr(s, field) for s in spans]).astype(dtype) if spans else np.zeros(0, dtype)

    arrays = {
        "qids": np.asarray(qids, dtype=str),
        "start_index": np.cumsum([0] + [len(s.start_chars) for s in spans]),
        "start_chars": joined("start_chars", np.int32),
        "start_logits": joined("start_logits", np.float16),
        "end_index": np.cumsum([0] + [len(s.end_chars) for s in spans]),
        "end_chars": joined("end_chars", np.int32),
        "end_logits": joined("end_logits", np.float16),
        "null": np.asarray([[s.null_start, s.null_end] for s in spans], dtype=np.float32).reshape(-1, 2),
    }
    tmp = path + ".tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def read_shard(path: str) -> Dict[str, TeacherSpans]:
    with np.load(path) as z:
        si, ei = z["start_index"], z["end_index"]
        sc, sl, ec, el, null = z["start_chars"], z["start_logits"].astype(np.float32), z["end_chars"], \
            z["end_logits"].astype(np.float32), z["null"]
        return {str(q): TeacherSpans(sc[si[i]:si[i + 1]], sl[si[i]:si[i + 1]], ec[ei[i]:ei[i + 1]],
                                     el[ei[i]:ei[i + 1]], float(null[i, 0]), float(null[i, 1]))
                for i, q in enumerate(z["qids"])}


def shard_paths(folder: str) -> list[str]:
    if not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, n) for n in os.listdir(folder)
                  if n.startswith(SHARD_PREFIX) and n.endswith(".npz") and ".tmp" not in n)


@lru_cache(maxsize=2)
def load_teacher(folder: str) -> Dict[str, TeacherSpans]:
    """All the teacher logits in ``folder`` (its shards), by question id; loaded once per process."""
    out: Dict[str, TeacherSpans] = {}
    for path in shard_paths(folder):
        out.update(read_shard(path))
    if not out:
        raise FileNotFoundError(f"no teacher logits in {folder} (make them with python -m qa.training.teacher_logits)")
    return out
