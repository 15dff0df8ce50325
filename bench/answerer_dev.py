"""Measure the rule answerer on a question file: hits, EM/F1, abstention and latency.

Examples::

    python bench/answerer_dev.py --corpus seeds --index-dir /tmp/answerer-idx \
        --questions /work/shared/eval/dev_questions.jsonl --chat /work/shared/eval/dev_chat.jsonl -v
    python bench/answerer_dev.py --corpus squad/Antibiotics --index-dir /tmp/squad-idx --questions q.jsonl

An answer is a *hit* when, after SQuAD normalisation, it equals a gold answer or contains one
while being at most ``--slack`` words longer. Chat turns are asked on their own.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import statistics
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.analysis import SpacyAnalyzer  # noqa: E402
from index.build import build_index  # noqa: E402
from index.documents import load_corpus  # noqa: E402
from index.embedding import SentenceTransformerEmbedder  # noqa: E402
from index.load import load_index  # noqa: E402
from qa.answerer.rules import RuleAnswerer  # noqa: E402
from qa.retrieval import HybridRetriever  # noqa: E402


def normalize(text: str) -> str:
    """SQuAD normalisation: lower-case, drop punctuation and articles, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation) | {"“", "”", "’", "—"})
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def is_hit(answer: str, golds: list[str], slack: int) -> bool:
    a = normalize(answer)
    for gold in golds:
        g = normalize(gold)
        if a == g or (g and re.search(rf"(^| ){re.escape(g)}( |$)", a) and len(a.split()) - len(g.split()) <= slack):
            return True
    return False


def f1(answer: str, gold: str) -> float:
    a, g = normalize(answer).split(), normalize(gold).split()
    common = collections.Counter(a) & collections.Counter(g)
    same = sum(common.values())
    if not same:
        return 0.0
    p, r = same / len(a), same / len(g)
    return 2 * p * r / (p + r)


def load_questions(path: str | None, chat: str | None) -> list[dict]:
    items = []
    if path:
        items += [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    if chat:
        for line in open(chat, encoding="utf-8"):
            if line.strip():
                conv = json.loads(line)
                for i, turn in enumerate(conv["turns"]):
                    items.append({"id": f"{conv['id']}.{i}", "question": turn["q"], "answers": turn["answers"]})
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", nargs="*", default=[], help="folders to index (skip to reuse --index-dir)")
    parser.add_argument("--index-dir", required=True)
    parser.add_argument("--questions")
    parser.add_argument("--chat")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--slack", type=int, default=4)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()

    embedder, analyzer = SentenceTransformerEmbedder(), SpacyAnalyzer()
    if args.corpus:
        documents, _ = load_corpus(args.corpus)
        build_index(documents, args.index_dir, embedder, analyzer)
    index = load_index(args.index_dir)
    retriever = HybridRetriever(index, embedder)
    answerer = RuleAnswerer(analyzer, embedder)
    items = load_questions(args.questions, args.chat)
    if args.limit:
        items = items[: args.limit]
    answerer.answer("warm up?", retriever.retrieve("warm up?", args.top_k), index)

    hits = em = answerable = abstained_right = unanswerable = wrong_found = 0
    f1_total = 0.0
    latencies = []
    for item in items:
        passages = retriever.retrieve(item["question"], args.top_k)
        started = time.perf_counter()
        result = answerer.answer(item["question"], passages, index)
        latencies.append(time.perf_counter() - started)
        golds = item["answers"]
        for c in result.citations:
            doc = index.document(c.doc_id)
            assert doc.text[c.start : c.end] == result.answer and doc.text[c.quote_start : c.quote_end] == result.quote
        if golds:
            answerable += 1
            hit = result.found and is_hit(result.answer, golds, args.slack)
            hits += hit
            if result.found:
                em += any(normalize(result.answer) == normalize(g) for g in golds)
                f1_total += max(f1(result.answer, g) for g in golds)
            mark = "HIT " if hit else ("MISS" if result.found else "ABST")
        else:
            unanswerable += 1
            abstained_right += not result.found
            mark = "OK  " if not result.found else "FP  "
            wrong_found += result.found
        if args.verbose and mark not in {"HIT ", "OK  "} or args.verbose and len(items) <= 60:
            print(f"{mark} {item['id']:<10} {result.confidence:.2f} {item['question']!r} -> {result.answer!r}  gold={golds[:2]}")
    print(f"answerable: {answerable}  hits: {hits} ({hits / max(answerable, 1):.1%})  "
          f"EM: {em / max(answerable, 1):.1%}  F1: {f1_total / max(answerable, 1):.1%}")
    print(f"unanswerable: {unanswerable}  abstained: {abstained_right}")
    print(f"latency median: {statistics.median(latencies) * 1000:.1f} ms  p90: "
          f"{sorted(latencies)[int(0.9 * (len(latencies) - 1))] * 1000:.1f} ms (answerer only, models loaded)")


if __name__ == "__main__":
    main()
