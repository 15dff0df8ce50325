"""Unanswerable questions made from answerable ones, by a small change the paragraph contradicts.

A crowd-written question is changed so that its paragraph, which retrieval still finds, no
longer answers it:

- :func:`entity_swapped`: one of its named entities becomes another entity of the same type from
  the same article ("When did Sony reveal the console?" beside a paragraph about Nintendo);
- :func:`verb_swapped`: its main verb becomes another verb of the same form from the article's
  questions ("When did Nintendo discontinue the console?" beside "Nintendo revealed the console").

Crowd workers write unanswerable questions this way (Rajpurkar et al., 2018). The answer model
of the ranker (:mod:`qa.training.train_ranker`) learns from them what "the documents do not say"
looks like, and the reader (:mod:`qa.training.train_reader`) can read them with a no-answer target.
Every choice is keyed by the question id, so reruns agree.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence, TypeVar

from . import data as D

ENTITY_SUFFIX = "/entity-swapped"
VERB_SUFFIX = "/verb-swapped"


T = TypeVar("T")


def _pick(options: Sequence[T], key: str) -> T:
    """One of ``options``, chosen by ``key`` (a question id) so that reruns agree."""
    return options[zlib.crc32(key.encode("utf-8")) % len(options)]


def entity_swapped(question: str, entities: Sequence[tuple[int, int, str]], pool: dict[str, list[str]],
                   paragraph: str, key: str) -> Optional[str]:
    """The question with one of its named entities replaced by another entity of the same type
    from the same article, or ``None`` when no entity can be swapped.

    The entity swapped is the first one that the question's paragraph contains; its replacement is
    one the paragraph does not contain, picked by ``key`` (the question id).

    Args:
        entities: ``(start, end, label)`` character spans of the question's entities.
        pool: entity texts of the article by label.
    """
    text = paragraph.lower()
    for start, end, label in entities:
        original = question[start:end]
        if original.lower() not in text:
            continue
        options = sorted({e for e in pool.get(label, ()) if e.lower() != original.lower() and e.lower() not in text})
        if options:
            choice = _pick(options, key)
            if question[:start].lower().endswith("the ") and choice.lower().startswith("the "):
                choice = choice[4:]  # "the Guggenheim" -> "the Stonewall Inn", not "the the Stonewall Inn"
            return question[:start] + choice + question[end:]
    return None


def verb_swapped(question: str, verb: tuple[int, int, str, str], pool: dict[str, list[tuple[str, str]]],
                 paragraph: str, key: str) -> Optional[str]:
    """The question with its main verb replaced by another verb of the same form, taken from the
    article's other questions, that the paragraph never uses; ``None`` when there is none.

    Only a verb that the paragraph itself uses is swapped: a question that paraphrases its
    paragraph gives no clean contrast.

    Args:
        verb: ``(start, end, tag, lemma)`` of the question's main verb (character offsets).
        pool: ``(text, lemma)`` of the verbs of the article's questions, by fine-grained tag.
        key: the question id, which picks the replacement.
    """
    start, end, tag, lemma = verb
    text = paragraph.lower()
    if lemma.lower() not in text and question[start:end].lower() not in text:
        return None
    options = sorted({form for form, other in pool.get(tag, ())
                      if other.lower() != lemma.lower() and other.lower() not in text and form.lower() not in text})
    if not options:
        return None
    return question[:start] + _pick(options, key) + question[end:]


def main_verb(doc) -> Optional[tuple[int, int, str, str]]:
    """``(start, end, tag, lemma)`` of a parsed question's focus verb (:mod:`qa.question`)."""
    from qa.question import analyze_question

    focus = analyze_question(doc).focus_verb
    for token in doc:
        if token.pos_ == "VERB" and token.lemma_.lower() == focus:
            return token.idx, token.idx + len(token.text), token.tag_, token.lemma_.lower()
    return None


@dataclass
class QuestionParses:
    """What the swaps need of a set of questions: each one's entities and main verb, and per
    article the entities (by label) and verbs (by tag) its questions use."""

    entities: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)
    verbs: dict[str, Optional[tuple[int, int, str, str]]] = field(default_factory=dict)
    entity_pool: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    verb_pool: dict[str, dict[str, list[tuple[str, str]]]] = field(default_factory=dict)

    @classmethod
    def build(cls, nlp, questions: Iterable[D.Question], paragraphs: Sequence[D.Paragraph]) -> "QuestionParses":
        """Parse ``questions`` (those aligned to a paragraph) with the spaCy pipeline ``nlp``."""
        chosen = [q for q in questions if q.pid >= 0]
        out = cls()
        for q, doc in zip(chosen, nlp.pipe(q.question for q in chosen)):
            article = paragraphs[q.pid].article
            ents = out.entities[q.qid] = [(e.start_char, e.end_char, e.label_) for e in doc.ents]
            for start, end, label in ents:
                out.entity_pool.setdefault(article, {}).setdefault(label, []).append(q.question[start:end])
            verb = out.verbs[q.qid] = main_verb(doc)
            if verb is not None:
                out.verb_pool.setdefault(article, {}).setdefault(verb[2], []).append(
                    (q.question[verb[0]:verb[1]], verb[3]))
        return out

    def entity_swap(self, q: D.Question, paragraphs: Sequence[D.Paragraph]) -> Optional[str]:
        paragraph = paragraphs[q.pid]
        return entity_swapped(q.question, self.entities.get(q.qid, []), self.entity_pool.get(paragraph.article, {}),
                              paragraph.text, q.qid)

    def verb_swap(self, q: D.Question, paragraphs: Sequence[D.Paragraph]) -> Optional[str]:
        paragraph = paragraphs[q.pid]
        verb = self.verbs.get(q.qid)
        if verb is None:
            return None
        return verb_swapped(q.question, verb, self.verb_pool.get(paragraph.article, {}), paragraph.text, q.qid)


def contrast_questions(questions: Sequence[D.Question], paragraphs: Sequence[D.Paragraph], parses: QuestionParses,
                       rate: float, seed: int) -> list[D.Question]:
    """Unanswerable variants of a share ``rate`` of the answerable ``questions``, for training a
    reader: each drawn question gives one variant, entity- or verb-swapped (one of the two that
    exist, chosen by its id), asked beside its own paragraph with no answer.

    Args:
        parses: :meth:`QuestionParses.build` over (at least) these questions' articles.
        seed: seeds the draw, so that a recipe reproduces its questions.
    """
    rng = random.Random(seed)
    out = []
    for q in questions:
        if not q.answers or q.pid < 0 or rng.random() >= rate:
            continue
        made = [(text, suffix) for text, suffix in ((parses.entity_swap(q, paragraphs), ENTITY_SUFFIX),
                                                    (parses.verb_swap(q, paragraphs), VERB_SUFFIX)) if text]
        if not made:
            continue
        text, suffix = _pick(made, q.qid)
        out.append(D.Question(q.qid + suffix, text, [], line=q.line, pid=q.pid))
    return out
