"""Data utilities for the span reader: corpus loading, question->paragraph
alignment, answer offsets, article splits and SQuAD EM/F1 metrics."""
from __future__ import annotations

import collections
import json
import math
import os
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Sequence, Tuple

import numpy as np



_TOKEN_RE = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an the of in on at to for from by with and or is are was were be been being "
    "what which who whom whose when where why how did do does that this these those "
    "it its as into than then there their they he she his her him i you we our "
    "not no can could would should will had has have about after before during "
    "s many much most more".split()
)


def tokenize_words(text: str) -> List[str]:
    return [t for t in _TOKEN_RE.findall(text.lower()) if t not in _STOP]


@dataclass
class Paragraph:
    pid: int
    article: str
    name: str  # file name inside the article folder
    title: str
    text: str


@dataclass
class Question:
    qid: str
    question: str
    answers: List[str]
    line: int = 0
    pid: int = -1            # aligned paragraph (index into paragraphs)
    answer_start: int = -1   # char offset of answers[0] in paragraph text, -1 if none

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_corpus(data_dir: str) -> List[Paragraph]:
    corpus_dir = os.path.join(data_dir, "corpus")
    paras: List[Paragraph] = []
    for art in sorted(os.listdir(corpus_dir)):
        adir = os.path.join(corpus_dir, art)
        if not os.path.isdir(adir):
            continue
        for fn in sorted(os.listdir(adir)):
            if not fn.endswith(".txt"):
                continue
            with open(os.path.join(adir, fn), encoding="utf-8") as f:
                raw = f.read()
            title, sep, body = raw.partition("\n\n")
            if not sep:
                title, body = "", raw
            paras.append(Paragraph(len(paras), art, fn, title.strip(), body.strip("\n")))
    return paras


def load_questions(data_dir: str) -> List[Question]:
    out = []
    with open(os.path.join(data_dir, "questions.jsonl"), encoding="utf-8") as f:
        for i, line in enumerate(f):
            line = line.strip()
            if not line:
                continue
            d = json.loads(line)
            out.append(Question(d["id"], d["question"], list(d.get("answers") or []), line=i))
    return out


# --------------------------------------------------------------------------- TF-IDF

class TfIdf:
    """Tiny TF-IDF / BM25-ish lexical scorer used for alignment and distractors."""

    def __init__(self, docs: Sequence[str]):
        self.docs_tok = [tokenize_words(d) for d in docs]
        df = collections.Counter()
        for toks in self.docs_tok:
            df.update(set(toks))
        n = len(docs)
        self.idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
        self.default_idf = math.log(n + 1)
        self.vocab = {t: i for i, t in enumerate(sorted(df))}
        self.tf = [collections.Counter(t) for t in self.docs_tok]
        self.lens = np.array([len(t) for t in self.docs_tok], dtype=np.float64)
        self.avg = float(self.lens.mean()) if n else 1.0
        self.inv: Dict[str, List[Tuple[int, int]]] = collections.defaultdict(list)
        for j, c in enumerate(self.tf):
            for t, k in c.items():
                self.inv[t].append((j, k))

    def bm25(self, query: str, k1: float = 1.2, b: float = 0.75) -> np.ndarray:
        scores = np.zeros(len(self.tf))
        for t in set(tokenize_words(query)):
            idf = self.idf.get(t)
            if idf is None:
                continue
            for j, k in self.inv[t]:
                scores[j] += idf * k * (k1 + 1) / (k + k1 * (1 - b + b * self.lens[j] / self.avg))
        return scores


# --------------------------------------------------------------------------- alignment

def find_answer_start(paragraph: str, answer: str, question: str = "") -> int:
    """Char offset of `answer` in `paragraph`. If it occurs several times, pick
    the occurrence whose surrounding window shares most words with the question
    (ties -> first occurrence). Falls back to a case-insensitive match; -1."""
    if not answer:
        return -1
    hay, needle = paragraph, answer
    starts = [m.start() for m in re.finditer(re.escape(needle), hay)]
    if not starts:
        starts = [m.start() for m in re.finditer(re.escape(needle.lower()), hay.lower())]
    if not starts:
        return -1
    if len(starts) == 1 or not question:
        return starts[0]
    qw = set(tokenize_words(question))
    best, best_s = starts[0], -1.0
    for s in starts:
        win = paragraph[max(0, s - 150): s + len(answer) + 150]
        ww = tokenize_words(win)
        # words close to the answer count more
        score = len(qw & set(ww)) + 0.01 * len(qw & set(tokenize_words(paragraph[max(0, s - 50): s + len(answer) + 50])))
        if score > best_s:
            best, best_s = s, score
    return best


def align_questions(
    paragraphs: Sequence[Paragraph],
    questions: Sequence[Question],
    stay_logp: float = math.log(0.85),
    same_article_logp: float = -3.0,
    other_article_logp: float = -9.0,
    lex_weight: float = 6.0,
) -> Dict[str, float]:
    """Assign each question to a paragraph (in place: q.pid, q.answer_start).

    Questions are listed grouped by paragraph, so we decode the whole file with
    a Viterbi pass: hidden state = paragraph; emissions = BM25 similarity of
    question and paragraph (normalised per question) plus a hard constraint that
    the paragraph contains an answer string for answerable questions;
    transitions favour staying on the same paragraph, then moving within the
    same article. Returns alignment statistics.
    """
    P, Q = len(paragraphs), len(questions)
    if Q == 0:
        return {}
    idx = TfIdf([p.title + " " + p.text for p in paragraphs])
    texts = [p.text for p in paragraphs]
    texts_l = [t.lower() for t in texts]
    art_names = sorted({p.article for p in paragraphs})
    art_of = np.array([art_names.index(p.article) for p in paragraphs])
    A = len(art_names)
    emis = np.zeros((Q, P))
    contains = np.zeros((Q, P), dtype=bool)
    lex_top = np.zeros(Q, dtype=int)
    for t, q in enumerate(questions):
        s = idx.bm25(q.question)
        lex_top[t] = int(s.argmax())
        m = s.max()
        e = lex_weight * (s / m if m > 0 else s)
        if q.answers:
            ok = np.zeros(P, dtype=bool)
            for a in q.answers:
                al = a.lower()
                ok |= np.array([al in tl for tl in texts_l])
            contains[t] = ok
            if ok.any():
                exact = np.array([any(a in tx for a in q.answers) for tx in texts])
                e = np.where(ok, e, -50.0) - np.where(ok & ~exact, 1.0, 0.0)
        emis[t] = e
    # Viterbi
    back = np.zeros((Q, P), dtype=np.int32)
    delta = emis[0] - math.log(P)
    for t in range(1, Q):
        best_all = int(delta.argmax())
        art_best = np.full(A, -1, dtype=int)
        art_val = np.full(A, -np.inf)
        for j in range(P):  # per-article max (P small)
            a = art_of[j]
            if delta[j] > art_val[a]:
                art_val[a], art_best[a] = delta[j], j
        cand_stay = delta + stay_logp
        cand_art = art_val[art_of] + same_article_logp
        cand_all = delta[best_all] + other_article_logp
        choice = np.stack([cand_stay, cand_art, np.full(P, cand_all)])
        k = choice.argmax(0)
        back[t] = np.where(k == 0, np.arange(P), np.where(k == 1, art_best[art_of], best_all))
        delta = choice.max(0) + emis[t]
    path = np.zeros(Q, dtype=int)
    path[-1] = int(delta.argmax())
    for t in range(Q - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    n_ans = n_contain = n_unique = n_ambig_ok = n_lex_agree_u = n_u = n_found = 0
    for t, q in enumerate(questions):
        q.pid = int(path[t])
        if q.answers:
            n_ans += 1
            c = contains[t]
            if c[q.pid]:
                n_contain += 1
            if c.sum() == 1:
                n_unique += 1
            elif c[q.pid]:
                n_ambig_ok += 1
            q.answer_start = find_answer_start(paragraphs[q.pid].text, q.answers[0], q.question)
            if q.answer_start < 0:
                for a in q.answers[1:]:
                    s = find_answer_start(paragraphs[q.pid].text, a, q.question)
                    if s >= 0:
                        q.answers = [a] + [x for x in q.answers if x != a]
                        q.answer_start = s
                        break
            n_found += q.answer_start >= 0
        else:
            n_u += 1
            n_lex_agree_u += int(lex_top[t] == q.pid)
    # run statistics: paragraph blocks should be contiguous
    blocks = 1 + int(sum(1 for t in range(1, Q) if path[t] != path[t - 1]))
    revisits = blocks - len(set(path.tolist()))
    # agreement of answerable questions with their lexical top-1 (sanity)
    lex_agree_a = float(np.mean([lex_top[t] == path[t] for t, q in enumerate(questions) if q.answers]))
    return {
        "questions": Q,
        "answerable": n_ans,
        "unanswerable": n_u,
        "answerable_aligned_paragraph_contains_answer": n_contain / max(n_ans, 1),
        "answerable_answer_offset_found": n_found / max(n_ans, 1),
        "answerable_answer_in_exactly_one_paragraph": n_unique / max(n_ans, 1),
        "answerable_lexical_top1_agrees": lex_agree_a,
        "unanswerable_lexical_top1_agrees": n_lex_agree_u / max(n_u, 1),
        "paragraph_blocks": blocks,
        "paragraphs_used": len(set(path.tolist())),
        "block_revisits": revisits,
    }


# --------------------------------------------------------------------------- splits

DEFAULT_HELDOUT = ["Antibiotics", "Genocide", "Montana", "The_Legend_of_Zelda_Twilight_Princess", "To_Kill_a_Mockingbird"]


def split_by_article(questions: Sequence[Question], paragraphs: Sequence[Paragraph], heldout: Iterable[str]):
    held = set(heldout)
    tr = [q for q in questions if q.pid >= 0 and paragraphs[q.pid].article not in held]
    te = [q for q in questions if q.pid >= 0 and paragraphs[q.pid].article in held]
    return tr, te
