"""Evaluation on JSONL question files: SQuAD EM/F1, hit rate, abstention, retrieval recall, latency."""

from __future__ import annotations

import collections
import json
import re
import statistics
import string
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from index.errors import QAError

#: A longer answer still counts as a hit when it contains a gold answer and adds at most this many words.
HIT_EXTRA_WORDS = 4
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation) | {"\u2018", "\u2019", "\u201c", "\u201d", "\u2014", "\u2013"}
_NO_PUNCTUATION = str.maketrans("", "", "".join(sorted(_PUNCTUATION)))


class EvalFileError(QAError):
    """The evaluation file is missing or malformed."""


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower().translate(_NO_PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str | None, golds: list[str]) -> float:
    if prediction is None or not golds:
        return 0.0
    norm = normalize_answer(prediction)
    return float(any(norm == normalize_answer(g) for g in golds))


def bag_f1(prediction: collections.Counter, gold: collections.Counter) -> float:
    """SQuAD token F1 of two bags of normalised tokens: 2 x shared / (|prediction| + |gold|),
    which is the harmonic mean of precision and recall."""
    same = sum(min(count, gold[word]) for word, count in prediction.items() if word in gold)
    return 2 * same / (sum(prediction.values()) + sum(gold.values())) if same else 0.0


def _f1(prediction: str, gold: str) -> float:
    return bag_f1(collections.Counter(normalize_answer(prediction).split()),
                  collections.Counter(normalize_answer(gold).split()))


def token_f1(prediction: str | None, golds: list[str]) -> float:
    """Best SQuAD token F1 of ``prediction`` over the gold answers."""
    if prediction is None or not golds:
        return 0.0
    return max(_f1(prediction, g) for g in golds)


def is_hit(prediction: str | None, golds: list[str], extra_words: int = HIT_EXTRA_WORDS) -> bool:
    """Equal to a gold answer, or containing one while at most ``extra_words`` words longer."""
    if prediction is None:
        return False
    pred = normalize_answer(prediction)
    for gold in golds:
        norm = normalize_answer(gold)
        if not norm:
            continue
        if pred == norm:
            return True
        if re.search(rf"(^| ){re.escape(norm)}( |$)", pred) and len(pred.split()) - len(norm.split()) <= extra_words:
            return True
    return False


@dataclass
class EvalItem:
    """One question to ask (a chat turn is one item, with its conversation and position)."""

    id: str
    question: str
    answers: list[str]
    category: str
    conversation: str | None = None
    turn: int = 0
    rewrite: str | None = None  # a chat turn's expected rewritten question, when the file gives one


def answers_absent(items: Sequence[EvalItem], occurs: Callable[[str], bool], sample: int = 200) -> tuple[int, int]:
    """How many of the first ``sample`` answerable items have no gold answer that ``occurs`` in
    the corpus, and how many were checked: many such items mean the questions are about other
    documents than the index holds.

    Returns:
        ``(absent, checked)``.
    """
    checked = [item for item in items if item.answers][:sample]
    absent = sum(1 for item in checked if not any(occurs(answer) for answer in item.answers))
    return absent, len(checked)


def _category(raw_id: str, answers: list[str], explicit: str | None) -> str:
    if explicit:
        return explicit
    match = re.fullmatch(r"([a-z]{1,3})\d+", raw_id)
    if match:
        return match.group(1)
    return "answerable" if answers else "unanswerable"


def load_eval_file(path: str | Path) -> list[EvalItem]:
    """Read single questions (``question``, ``answers``) and chats (``turns`` of ``q``/``answers``).

    Raises:
        EvalFileError: the file is missing or a line is not a valid item.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"cannot read {path}: {exc}") from None
    items: list[EvalItem] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            raw_id = str(record.get("id", f"line{number}"))
            if "turns" in record:
                for turn_number, turn in enumerate(record["turns"]):
                    answers = [str(a) for a in turn["answers"]]
                    rewrite = turn.get("rewrite")
                    items.append(EvalItem(f"{raw_id}.{turn_number + 1}", str(turn["q"]), answers,
                                          record.get("category") or "chat", raw_id, turn_number,
                                          None if rewrite is None else str(rewrite)))
            else:
                answers = [str(a) for a in record["answers"]]
                items.append(EvalItem(raw_id, str(record["question"]), answers,
                                      _category(raw_id, answers, record.get("category"))))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise EvalFileError(f"{path}:{number}: not a question or chat record ({exc})") from None
    if not items:
        raise EvalFileError(f"{path} holds no questions")
    return items


@dataclass
class ItemResult:
    id: str
    category: str
    question: str
    golds: list[str]
    prediction: str | None
    found: bool
    confidence: float
    em: float
    f1: float
    hit: bool
    abstain_correct: bool | None
    retrieval_hit: bool | None
    latency_ms: float
    asked: str | None = None  # the question as answered, when follow-up resolution rewrote it
    rewrite_correct: bool | None = None  # whether it was rewritten as the file expected (chats)


@dataclass
class Summary:
    count: int
    answerable: int
    unanswerable: int
    em: float | None = None
    f1: float | None = None
    hit_rate: float | None = None
    abstention_accuracy: float | None = None
    false_abstentions: int = 0
    retrieval_recall: float | None = None
    latency_p50_ms: float | None = None
    latency_p90_ms: float | None = None
    rewrites: int = 0  # chat turns with an expected rewrite
    rewrites_correct: int = 0


@dataclass
class EvalReport:
    overall: Summary
    categories: dict[str, Summary]
    items: list[ItemResult] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0..1) with linear interpolation between ranks; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(results: list[ItemResult]) -> Summary:
    answerable = [r for r in results if r.golds]
    unanswerable = [r for r in results if not r.golds]
    summary = Summary(count=len(results), answerable=len(answerable), unanswerable=len(unanswerable))
    if answerable:
        summary.em = 100 * statistics.fmean(r.em for r in answerable)
        summary.f1 = 100 * statistics.fmean(r.f1 for r in answerable)
        summary.hit_rate = 100 * statistics.fmean(r.hit for r in answerable)
        summary.false_abstentions = sum(not r.found for r in answerable)
        recalls = [r.retrieval_hit for r in answerable if r.retrieval_hit is not None]
        if recalls:
            summary.retrieval_recall = 100 * statistics.fmean(recalls)
    if unanswerable:
        summary.abstention_accuracy = 100 * statistics.fmean(bool(r.abstain_correct) for r in unanswerable)
    checked = [r.rewrite_correct for r in results if r.rewrite_correct is not None]
    summary.rewrites, summary.rewrites_correct = len(checked), sum(checked)
    if results:
        latencies = [r.latency_ms for r in results]
        summary.latency_p50_ms = percentile(latencies, 0.5)
        summary.latency_p90_ms = percentile(latencies, 0.9)
    return summary


def evaluate(
    items: Iterable[EvalItem],
    answer: Callable[[EvalItem], tuple[object, list[str]]],
) -> EvalReport:
    """Ask every item and score it.

    Args:
        items: the questions.
        answer: returns the :class:`~qa.models.Answer` for an item and the texts of the passages
            that were retrieved for it (for retrieval recall).
    """
    results: list[ItemResult] = []
    for item in items:
        started = time.perf_counter()
        result, passages = answer(item)
        latency = (time.perf_counter() - started) * 1000
        prediction = result.answer if result.found else None
        asked = getattr(result, "question", None)
        retrieval_hit = None
        if item.answers and passages:
            normalized = [normalize_answer(p) for p in passages]
            retrieval_hit = any(normalize_answer(g) and normalize_answer(g) in p for g in item.answers for p in normalized)
        results.append(
            ItemResult(
                id=item.id, category=item.category, question=item.question, golds=item.answers,
                prediction=prediction, found=bool(result.found), confidence=float(result.confidence),
                em=exact_match(prediction, item.answers), f1=token_f1(prediction, item.answers),
                hit=is_hit(prediction, item.answers),
                abstain_correct=None if item.answers else not result.found,
                retrieval_hit=retrieval_hit, latency_ms=latency,
                asked=asked if asked and asked != item.question else None,
                rewrite_correct=None if item.rewrite is None else (asked or item.question) == item.rewrite,
            )
        )
    categories = {}
    for name in sorted({r.category for r in results}):
        categories[name] = summarize([r for r in results if r.category == name])
    return EvalReport(overall=summarize(results), categories=categories, items=results)


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_report(report: EvalReport, *, show_errors: bool = True) -> str:
    """A plain-text table of the report, one row per category and one overall."""
    header = f"{'category':<14}{'n':>5}{'ans':>5}{'EM':>7}{'F1':>7}{'hit%':>7}{'abst%':>7}{'R@k%':>7}{'p50ms':>8}{'p90ms':>8}"
    lines = [header, "-" * len(header)]
    rows = list(report.categories.items()) + [("ALL", report.overall)]
    for name, s in rows:
        lines.append(
            f"{name:<14}{s.count:>5}{s.answerable:>5}{_fmt(s.em):>7}{_fmt(s.f1):>7}{_fmt(s.hit_rate):>7}"
            f"{_fmt(s.abstention_accuracy):>7}{_fmt(s.retrieval_recall):>7}{_fmt(s.latency_p50_ms):>8}{_fmt(s.latency_p90_ms):>8}"
        )
    overall = report.overall
    lines.append("")
    lines.append(
        f"answerable: {overall.answerable}, answered wrongly or abstained: "
        f"{sum(1 for r in report.items if r.golds and not r.hit)} (abstained: {overall.false_abstentions}); "
        f"unanswerable: {overall.unanswerable}, abstained: {sum(1 for r in report.items if r.abstain_correct)}"
    )
    if overall.rewrites:
        lines.append(f"follow-ups rewritten as expected: {overall.rewrites_correct} of {overall.rewrites}")
    if show_errors:
        misses = [r for r in report.items if (r.golds and not r.hit) or (not r.golds and not r.abstain_correct)]
        if misses:
            lines.append("")
            lines.append("misses:")
            for r in misses:
                gold = r.golds[0] if r.golds else "(not in the documents)"
                asked = f" [asked as {r.asked!r}]" if r.asked else ""
                lines.append(f"  {r.id}: {r.question!r}{asked} -> {r.prediction!r} (gold: {gold!r})")
        wrong = [r for r in report.items if r.rewrite_correct is False]
        if wrong:
            lines.append("")
            lines.append("rewritten otherwise than expected:")
            for r in wrong:
                lines.append(f"  {r.id}: {r.question!r} -> {(r.asked or r.question)!r}")
    return "\n".join(lines)
