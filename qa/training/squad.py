"""SQuAD in its official nested JSON format, and the fixed held-out split by article.

Each question's paragraph and answer offset come from the file itself, so nothing has to be
aligned. ``../shared/data/squad-train/`` holds SQuAD 1.1 train (``train-v1.1.json``) and the
SQuAD 2.0 train articles of the old sample (``train-v2.0-sample.json``); :func:`load_squad_dir`
reads the first whole and adds the second's unanswerable questions to the same paragraphs.

The held-out split (:func:`heldout_articles`) is a seeded shuffle of the sorted titles, so it is
the same on every machine and for every run; ``docs/heldout-split.md`` lists it.
"""
from __future__ import annotations

import json
import os
import random
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from .data import Paragraph, Question

V11_FILE = "train-v1.1.json"
V20_FILE = "train-v2.0-sample.json"

#: The held-out split: this many articles, drawn by a shuffle with this seed.
HELDOUT_COUNT = 40
HELDOUT_SEED = 20261206


class SquadFormatError(ValueError):
    """A file that is not SQuAD's official JSON."""


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise SquadFormatError(f"{path} is not JSON: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise SquadFormatError(f"{path} is not SQuAD's official format (no top-level 'data' list)")
    return data


def parse_squad(data: dict, source: str = "") -> Tuple[List[Paragraph], List[Question]]:
    """Paragraphs and questions of one SQuAD v1.1 or v2.0 file (already parsed JSON).

    A question keeps its first answer's offset as ``answer_start``; an unanswerable one
    (``is_impossible``) has no answers and ``answer_start == -1``. Answers whose offset does not
    point at their text are refused: the offsets are what training trusts.

    Raises:
        SquadFormatError: when a field is missing or an offset is wrong.
    """
    paragraphs: List[Paragraph] = []
    questions: List[Question] = []
    try:
        for article in data["data"]:
            title = article["title"]
            for k, para in enumerate(article["paragraphs"]):
                context = para["context"]
                pid = len(paragraphs)
                paragraphs.append(Paragraph(pid, title, f"{k:04d}", title.replace("_", " "), context))
                for qa in para["qas"]:
                    answers = [] if qa.get("is_impossible") else list(qa.get("answers") or [])
                    texts = [a["text"] for a in answers]
                    start = int(answers[0]["answer_start"]) if answers else -1
                    if answers and context[start:start + len(texts[0])] != texts[0]:
                        raise SquadFormatError(
                            f"{source}: question {qa['id']}: answer_start {start} does not point at {texts[0]!r}")
                    questions.append(Question(qa["id"], qa["question"], texts, line=len(questions), pid=pid,
                                              answer_start=start))
    except (KeyError, TypeError) as e:
        raise SquadFormatError(f"{source}: not SQuAD's official format (missing or wrong field {e})") from None
    return paragraphs, questions


def load_squad(path: str) -> Tuple[List[Paragraph], List[Question]]:
    """:func:`parse_squad` of one file."""
    return parse_squad(_read_json(path), path)


def merge_unanswerable(paragraphs: List[Paragraph], questions: List[Question],
                       extra_paragraphs: Sequence[Paragraph], extra_questions: Sequence[Question]) -> int:
    """Add the unanswerable ones of ``extra_questions`` (another file's) to ``questions``, on the
    paragraph of ``paragraphs`` with the same article and text (a new paragraph where there is
    none). Returns how many were added."""
    where: Dict[Tuple[str, str], int] = {(p.article, p.text): p.pid for p in paragraphs}
    added = 0
    for q in extra_questions:
        if q.answers:
            continue
        src = extra_paragraphs[q.pid]
        pid = where.get((src.article, src.text))
        if pid is None:
            pid = len(paragraphs)
            paragraphs.append(Paragraph(pid, src.article, f"v2-{src.name}", src.title, src.text))
            where[(src.article, src.text)] = pid
        questions.append(Question(q.qid, q.question, [], line=len(questions), pid=pid, answer_start=-1))
        added += 1
    return added


def load_squad_dir(path: str) -> Tuple[List[Paragraph], List[Question]]:
    """SQuAD 1.1 train with the SQuAD 2.0 sample's unanswerable questions, from a folder holding
    ``train-v1.1.json`` (and optionally ``train-v2.0-sample.json``), or one official file."""
    if os.path.isfile(path):
        return load_squad(path)
    paragraphs, questions = load_squad(os.path.join(path, V11_FILE))
    v2 = os.path.join(path, V20_FILE)
    if os.path.isfile(v2):
        merge_unanswerable(paragraphs, questions, *load_squad(v2))
    return paragraphs, questions


def is_squad_json(path: str) -> bool:
    """Whether ``path`` is an official SQuAD file or a folder with ``train-v1.1.json``."""
    if os.path.isdir(path):
        return os.path.isfile(os.path.join(path, V11_FILE))
    return os.path.isfile(path) and path.endswith(".json")


def heldout_articles(titles: Iterable[str], count: int = HELDOUT_COUNT, seed: int = HELDOUT_SEED,
                     unanswerable: Iterable[str] = ()) -> List[str]:
    """The held-out articles: the first ``count`` of the sorted titles shuffled with ``seed``.

    ``unanswerable`` names the articles with real unanswerable questions: abstention is learned
    from some and its thresholds are chosen on others, so the first of them in the shuffled order
    is held out and the rest are trained on, whatever the shuffle drew.
    """
    order = sorted(set(titles))
    random.Random(seed).shuffle(order)
    with_none = [t for t in order if t in set(unanswerable)]
    keep = set(with_none[:1])
    drop = set(with_none[1:])
    chosen = [t for t in order if t not in drop and t not in keep][: max(0, count - len(keep))]
    chosen_set = set(chosen) | keep
    return [t for t in order if t in chosen_set]


def split_heldout(paragraphs: Sequence[Paragraph], questions: Sequence[Question],
                  count: int = HELDOUT_COUNT, seed: int = HELDOUT_SEED) -> List[str]:
    """:func:`heldout_articles` of this data (its articles with unanswerable questions known)."""
    titles = [p.article for p in paragraphs]
    unanswerable = sorted({paragraphs[q.pid].article for q in questions if not q.answers})
    return heldout_articles(titles, count, seed, unanswerable)


def _safe_name(title: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in title) or "article"


def write_corpus(paragraphs: Sequence[Paragraph], articles: Iterable[str], folder: str) -> Dict[int, str]:
    """Write the paragraphs of ``articles`` as a corpus folder (one ``.txt`` file a paragraph, its
    article's title on the first line), for ``qa index`` / ``qa eval --corpus``.

    Returns:
        The document id (``qa index``'s: the path under ``folder``) of each written paragraph's pid.
    """
    wanted = set(articles)
    ids: Dict[int, str] = {}
    for p in paragraphs:
        if p.article not in wanted:
            continue
        name = p.name if p.name.endswith(".txt") else f"{p.name}.txt"
        doc_id = f"{_safe_name(p.article)}/{name}"
        path = os.path.join(folder, doc_id)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"{p.title}\n\n{p.text}\n")
        ids[p.pid] = doc_id
    return ids


def load_training_data(data_dir: str, heldout: Optional[Sequence[str]] = None):
    """Paragraphs, questions, statistics and held-out articles of either data format: official
    SQuAD JSON (the held-out articles default to :func:`split_heldout`), or the old sample's folder
    (questions aligned to paragraphs; the held-out articles default to its five)."""
    from . import data as D

    if is_squad_json(data_dir):
        paragraphs, questions = load_squad_dir(data_dir)
        stats = {"format": "squad-json", "paragraphs": len(paragraphs), "questions": len(questions),
                 "unanswerable": sum(1 for q in questions if not q.answers)}
        chosen = list(heldout) if heldout is not None else split_heldout(paragraphs, questions)
    else:
        paragraphs = D.load_corpus(data_dir)
        questions = D.load_questions(data_dir)
        stats = D.align_questions(paragraphs, questions)
        chosen = list(heldout) if heldout is not None else list(D.DEFAULT_HELDOUT)
    return paragraphs, questions, stats, chosen
