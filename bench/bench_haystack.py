"""Side by side with a Haystack 2.x hybrid pipeline: index time, query latency, retrieval recall@5.

Usage:
    python bench/make_squad_heldout.py /tmp/squad_heldout --limit 300
    python bench/bench_haystack.py \\
        --set squad-heldout /tmp/squad_heldout/corpus /tmp/squad_heldout/questions.jsonl \\
        --set seeds seeds ../shared/eval/dev_questions.jsonl [--rounds 3] [--json out.json]

Needs ``pip install "haystack-ai>=2.31,<3"`` (the 3.x line moved the sentence-transformers
embedders into a separate integration package).

Both systems get the same chunks: the documents are cut by our chunker, and each chunk's
passage text (title + passage, as ``qa index`` embeds it) becomes one Haystack ``Document``.
Haystack's pipeline is the textbook hybrid one: ``InMemoryBM25Retriever`` and
``InMemoryEmbeddingRetriever`` (each ``--candidates`` results, like ours) joined by
``DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=5)``, with
``SentenceTransformersDocumentEmbedder``/``SentenceTransformersTextEmbedder`` loading the same
packaged MiniLM folder as ours, offline. Haystack's BM25 keeps its defaults (BM25L, a regex
tokenizer without stemming or stop words); ours is bm25s (Lucene BM25, English stemmer, stop words).

Index time: ours is ``qa index`` end to end (spaCy analysis and chunking, embedding, FAISS, BM25,
the files written); Haystack's is our chunking (timed alone, since it is shared) plus embedding and
writing to its in-memory store. Latency: one warm-up pass, then ``--rounds`` passes, alternating the
two systems question by question in this one process so load on the machine hits both alike.
Recall@5: share of answerable questions for which one of the 5 retrieved chunks contains a gold
answer after SQuAD normalisation (``qa.evaluation.normalize_answer``), on whole words. The same
measure is given for each system's dense-only and BM25-only top 5, to show where differences come from.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Nothing in this benchmark may reach the network: local model folder, no telemetry.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

from bench_latency import percentiles  # noqa: E402

TOP_K = 5


@dataclass(frozen=True)
class Question:
    question: str
    answers: list[str]


def contains_answer(passage: str, golds: list[str]) -> bool:
    """Whether ``passage`` contains one of ``golds`` as whole words, after SQuAD normalisation."""
    from qa.evaluation import normalize_answer

    text = normalize_answer(passage)
    for gold in golds:
        norm = normalize_answer(gold)
        if norm and re.search(rf"(^| ){re.escape(norm)}( |$)", text):
            return True
    return False


def recall_at_k(retrieved: list[list[int]], passages: list[str], questions: list[Question]) -> float | None:
    """Share of answerable questions whose retrieved chunk ids include one containing a gold answer."""
    hits = [any(contains_answer(passages[i], q.answers) for i in ids)
            for ids, q in zip(retrieved, questions) if q.answers]
    return sum(hits) / len(hits) if hits else None


def load_questions(path: str) -> list[Question]:
    """Single questions of an eval file; chat follow-ups are left out (they need the conversation)."""
    from qa.evaluation import load_eval_file

    return [Question(item.question, item.answers) for item in load_eval_file(path)
            if item.conversation is None or item.turn == 0]


class HaystackHybrid:
    """The Haystack 2.x hybrid retrieval pipeline, over chunks given as ``(chunk id, passage text)``."""

    def __init__(self, model_path: str, candidates: int, top_k: int = TOP_K) -> None:
        from haystack import Pipeline
        from haystack.components.embedders import SentenceTransformersDocumentEmbedder, SentenceTransformersTextEmbedder
        from haystack.components.joiners import DocumentJoiner
        from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
        from haystack.document_stores.in_memory import InMemoryDocumentStore
        from haystack.utils import ComponentDevice

        device = ComponentDevice.from_str("cpu")
        self.store = InMemoryDocumentStore(embedding_similarity_function="dot_product")
        self.doc_embedder = SentenceTransformersDocumentEmbedder(
            model=model_path, device=device, normalize_embeddings=True, progress_bar=False, local_files_only=True)
        self.text_embedder = SentenceTransformersTextEmbedder(
            model=model_path, device=device, normalize_embeddings=True, progress_bar=False, local_files_only=True)
        self.bm25 = InMemoryBM25Retriever(self.store, top_k=candidates)
        self.dense = InMemoryEmbeddingRetriever(self.store, top_k=candidates)
        pipeline = Pipeline()
        pipeline.add_component("text_embedder", self.text_embedder)
        pipeline.add_component("embedding_retriever", self.dense)
        pipeline.add_component("bm25_retriever", self.bm25)
        pipeline.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=top_k))
        pipeline.connect("text_embedder.embedding", "embedding_retriever.query_embedding")
        pipeline.connect("embedding_retriever", "joiner")
        pipeline.connect("bm25_retriever", "joiner")
        self.pipeline = pipeline

    def warm_up(self) -> None:
        self.doc_embedder.warm_up()
        self.pipeline.warm_up()

    def index(self, passages: list[str]) -> None:
        from haystack import Document

        documents = [Document(content=text, meta={"chunk": i}) for i, text in enumerate(passages)]
        embedded = self.doc_embedder.run(documents=documents)["documents"]
        self.store.write_documents(embedded)

    def retrieve(self, question: str) -> list[int]:
        out = self.pipeline.run({"text_embedder": {"text": question}, "bm25_retriever": {"query": question}})
        return [d.meta["chunk"] for d in out["joiner"]["documents"]]

    def retrieve_parts(self, question: str) -> dict[str, list[int]]:
        """Fused, dense-only and BM25-only top-5 chunk ids."""
        embedding = self.text_embedder.run(text=question)["embedding"]
        dense = [d.meta["chunk"] for d in self.dense.run(query_embedding=embedding)["documents"]]
        sparse = [d.meta["chunk"] for d in self.bm25.run(query=question)["documents"]]
        return {"hybrid": self.retrieve(question), "dense": dense[:TOP_K], "bm25": sparse[:TOP_K]}


def our_parts(retriever, question: str) -> dict[str, list[int]]:
    from index.bm25 import bm25_query_tokens
    from qa.retrieval import dense_search, sparse_search

    query = retriever.embedder.embed([question])[0]
    dense = dense_search(retriever.index.dense, query, TOP_K)
    sparse = sparse_search(retriever.index.bm25, bm25_query_tokens(question), TOP_K)
    return {"hybrid": [p.chunk_index for p in retriever.retrieve(question, TOP_K)],
            "dense": [i for i, _ in dense], "bm25": [i for i, _ in sparse]}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def bench_set(name: str, corpus: str, questions_path: str, rounds: int, candidates: int, embedder, analyzer) -> dict:
    from index.build import build_index
    from index.chunking import ChunkerSettings
    from index.documents import load_corpus
    from index.embedding import resolve_model
    from index.load import load_index
    from index.prepare import analyse_documents, passage_text
    from qa.retrieval import HybridRetriever

    documents, _ = load_corpus([corpus])
    questions = load_questions(questions_path)
    settings = ChunkerSettings()
    result: dict = {"name": name, "corpus": corpus, "questions_file": questions_path, "documents": len(documents),
                    "questions": len(questions), "answerable": sum(bool(q.answers) for q in questions),
                    "load_average_before": load_average()}

    started = time.perf_counter()
    analysed = list(analyse_documents(documents, analyzer, settings))
    chunking_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        build_index(documents, Path(scratch) / "ix", embedder, analyzer, settings)
        ours_index_s = time.perf_counter() - started
        index = load_index(Path(scratch) / "ix")
    retriever = HybridRetriever(index, embedder, candidates=candidates)
    # The passages Haystack indexes are exactly ours: same chunks, same title prefix.
    passages = [passage_text(index.document(c.doc_id), c, index.manifest.embed_title) for c in index.chunks]
    fresh = [passage_text(a.document, c, index.manifest.embed_title) for a in analysed for c in a.chunks]
    if fresh != passages:
        raise RuntimeError("the chunker gave other chunks than the index holds")

    haystack = HaystackHybrid(resolve_model(embedder.name), candidates)
    haystack.warm_up()
    started = time.perf_counter()
    haystack.index(passages)
    haystack_embed_write_s = time.perf_counter() - started
    chunk_texts = [c.text for c in index.chunks]

    ours_parts = [our_parts(retriever, q.question) for q in questions]
    theirs_parts = [haystack.retrieve_parts(q.question) for q in questions]
    recall = {system: {part: recall_at_k([p[part] for p in parts], chunk_texts, questions)
                       for part in ("hybrid", "dense", "bm25")}
              for system, parts in (("ours", ours_parts), ("haystack", theirs_parts))}
    overlap = [len(set(a["hybrid"]) & set(b["hybrid"])) / TOP_K for a, b in zip(ours_parts, theirs_parts)]

    ours_ms, theirs_ms = [], []
    for round_number in range(rounds):
        for i, q in enumerate(questions):
            runs = [("ours", lambda: retriever.retrieve(q.question, TOP_K)), ("haystack", lambda: haystack.retrieve(q.question))]
            if (i + round_number) % 2:
                runs.reverse()
            for system, call in runs:
                t0 = time.perf_counter()
                call()
                elapsed = (time.perf_counter() - t0) * 1000
                (ours_ms if system == "ours" else theirs_ms).append(elapsed)
    ours_lat, theirs_lat = percentiles(ours_ms), percentiles(theirs_ms)
    haystack_index_s = chunking_s + haystack_embed_write_s
    result.update({
        "chunks": len(passages),
        "chunking_s": chunking_s,
        "ours": {"index_s": ours_index_s, "latency_ms": ours_lat, "recall_at_5": recall["ours"]},
        "haystack": {"index_s": haystack_index_s, "embed_write_s": haystack_embed_write_s,
                     "latency_ms": theirs_lat, "recall_at_5": recall["haystack"]},
        "ratio_ours_over_haystack": {
            "index_s": ours_index_s / haystack_index_s,
            "latency_p50": ours_lat["p50"] / theirs_lat["p50"],
            "latency_p90": ours_lat["p90"] / theirs_lat["p90"],
            "recall_at_5": (recall["ours"]["hybrid"] / recall["haystack"]["hybrid"]
                            if recall["haystack"]["hybrid"] else None),
        },
        "mean_top5_overlap": sum(overlap) / len(overlap) if overlap else None,
        "rounds": rounds,
        "candidates": candidates,
        "load_average_after": load_average(),
    })
    return result


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(result: dict) -> None:
    o, h, r = result["ours"], result["haystack"], result["ratio_ours_over_haystack"]
    print(f"\n{result['name']}: {result['documents']} documents, {result['chunks']} chunks, "
          f"{result['questions']} questions ({result['answerable']} answerable), {result['rounds']} rounds; "
          f"load average {result['load_average_before']} -> {result['load_average_after']}")
    print(f"{'':<24}{'ours':>10}{'haystack':>10}{'ours/hay':>10}")
    print(f"{'index s':<24}{o['index_s']:>10.2f}{h['index_s']:>10.2f}{r['index_s']:>10.2f}")
    print(f"{'  (shared chunking s)':<24}{result['chunking_s']:>10.2f}{result['chunking_s']:>10.2f}")
    for q in ("p50", "p90"):
        print(f"{'query ms ' + q:<24}{o['latency_ms'][q]:>10.1f}{h['latency_ms'][q]:>10.1f}{r['latency_' + q]:>10.2f}")
    for part in ("hybrid", "dense", "bm25"):
        ours, theirs = o["recall_at_5"][part], h["recall_at_5"][part]
        ratio = ours / theirs if ours is not None and theirs else None
        print(f"{'recall@5 ' + part:<24}{_fmt(ours, '.3f'):>10}{_fmt(theirs, '.3f'):>10}{_fmt(ratio, '.2f'):>10}")
    print(f"{'mean top-5 overlap':<24}{_fmt(result['mean_top5_overlap'], '.2f'):>10}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", dest="sets", nargs=3, action="append", metavar=("NAME", "CORPUS", "QUESTIONS"),
                        required=True, help="a corpus folder and its questions file; repeatable")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=50, help="results per retriever before fusion (ours: 50)")
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args(argv)

    import haystack

    from index.analysis import SpacyAnalyzer
    from index.embedding import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    embedder.warm_up()
    analyzer = SpacyAnalyzer()
    analyzer.nlp  # load before timing
    embedder.embed(["warm the kernels"] * 64)
    import torch

    results = {"haystack_version": haystack.__version__, "torch_threads": torch.get_num_threads(),
               "cpus": os.cpu_count(), "sets": []}
    for name, corpus, questions in args.sets:
        result = bench_set(name, corpus, questions, args.rounds, args.candidates, embedder, analyzer)
        results["sets"].append(result)
        print_table(result)
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
