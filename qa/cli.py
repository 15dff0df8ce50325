"""The ``qa`` command line of the question-answering stage: index, search, ask, eval, chat and
the trainers (``qa serve`` is added by ``api.cli``, the program's entry point)."""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from pathlib import Path

import click

from qa import cli_support
from qa.chat_cli import chat
from qa.cli_support import OWN_LOGGERS, format_answer, handle_errors, index_options, info, settings_from_options
from qa.recent_index import other_index_note, remember_index

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log what happens.")
def main(verbose: bool) -> None:
    """Answer questions from your documents with exact quotes and citations.

    \b
    Examples:
      qa index ./my-docs
      qa ask "Who chairs the harbour board?"
      qa search "harbour board" --top-k 3
      qa eval questions.jsonl
    """
    # -v is about this program: its own loggers say what happens; libraries keep to warnings (faiss,
    # for one, logs every CPU-specific build it could not load, with the exception, at INFO).
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # the repairs it makes in damaged files
    logging.getLogger("ray").setLevel(logging.WARNING)  # ray sets its own logger's level
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)
    if not verbose:
        # Libraries that draw progress bars on their own: keep the CLI's output clean.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
            pass


@main.command("index")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--dense-index", type=click.Choice(["auto", "flat", "hnsw"]), default=None,
              help="FAISS index: exact, HNSW, or auto (HNSW above 50,000 chunks) [env QA_DENSE_INDEX].")
@click.option("--ray", "ray_address", default=None, metavar="auto|ADDRESS",
              help="Analyse and embed on a Ray cluster: 'auto' starts one on this machine; or a running "
                   "cluster's address (ray://HOST:10001). Needs pip install 'qa-bot[ray]'.")
@click.option("--ray-workers", type=click.IntRange(1), default=None,
              help="Ray actors analysing and embedding, one CPU each [default: one per CPU of the cluster].")
@index_options
@handle_errors
def index_command(paths: tuple[str, ...], dense_index: str | None, ray_address: str | None, ray_workers: int | None,
                  index_dir: str | None, model: str | None) -> None:
    """Index the documents under PATHS (default: the seeds/ corpus): .txt, .md, .html, .pdf, .docx.

    Every other file is reported as skipped, with its reason, as is a file that cannot be read.

    \b
    Examples:
      qa index ./docs ./notes --index-dir /tmp/my-index
      QA_MODEL=/models/my-st-model qa index ./docs
      qa index ./docs --ray auto --ray-workers 2
      qa index /shared/wiki --ray ray://head-node:10001
    """
    from qa.pipeline import index_corpus

    settings = settings_from_options(index_dir, model, dense_index=dense_index)
    targets = list(paths) or [str(settings.corpus)]
    processor = None
    if ray_address is not None:
        from index.ray_index import RayProcessor

        processor = RayProcessor(ray_address, workers=ray_workers, embed_batch=settings.embed_batch_chunks,
                                 on_step=info, show_progress=sys.stderr.isatty())
    elif ray_workers is not None:
        raise click.UsageError("--ray-workers needs --ray")
    report = index_corpus(targets, settings, show_progress=sys.stderr.isatty(), on_step=info, processor=processor)
    remember_index(Path.cwd(), settings.index_dir)
    info(f"{report.manifest.num_chunks} chunk(s) written to {settings.index_dir} in {report.seconds:.1f}s")
    click.echo(report.summary())


@main.command()
@click.argument("question")
@click.option("--top-k", type=click.IntRange(1, 100), default=None, help="Passages to show [default 5].")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@index_options
@handle_errors
def search(question: str, top_k: int | None, as_json: bool, index_dir: str | None, model: str | None) -> None:
    """Show the passages retrieved for QUESTION, with their scores.

    \b
    Example:
      qa search "when was the terminal approved" --top-k 3
    """
    pipeline = cli_support.open_pipeline(settings_from_options(index_dir, model))
    passages = pipeline.search(question, top_k)
    if as_json:
        click.echo(json.dumps([
            {"rank": n, "doc_id": p.chunk.doc_id, "start": p.chunk.start, "end": p.chunk.end, "score": p.score,
             "dense_score": p.dense_score, "sparse_score": p.sparse_score, "dense_rank": p.dense_rank,
             "sparse_rank": p.sparse_rank, "text": p.chunk.text}
            for n, p in enumerate(passages, start=1)
        ], indent=2, ensure_ascii=False))
        return
    if not passages:
        click.echo("no passages found")
    for n, p in enumerate(passages, start=1):
        click.echo(f"[{n}] {p.chunk.doc_id} chars {p.chunk.start}-{p.chunk.end}  fused={p.score:.4f} "
                   f"dense={p.dense_score:.3f} (#{p.dense_rank or '-'}) bm25={p.sparse_score:.2f} (#{p.sparse_rank or '-'})")
        click.echo("    " + " ".join(p.chunk.text.split()))


@main.command()
@click.argument("question")
@click.option("--top-k", type=click.IntRange(1, 100), default=None, help="Passages the answerer reads [default 5].")
@click.option("--json", "as_json", is_flag=True, help="Print the answer object as JSON.")
@index_options
@handle_errors
def ask(question: str, top_k: int | None, as_json: bool, index_dir: str | None, model: str | None) -> None:
    """Answer QUESTION with a verbatim span, its quote and citations.

    \b
    Examples:
      qa ask "Who chairs the harbour board?"
      qa ask "When was she elected?" --json
    """
    settings = settings_from_options(index_dir, model)
    pipeline = cli_support.open_pipeline(settings)
    answer = pipeline.ask(question, top_k)
    note = other_index_note(Path.cwd(), settings.index_dir, len(pipeline.index.documents))
    if note:
        info(note)
    if as_json:
        click.echo(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(format_answer(answer))


@main.command("eval")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--corpus", type=click.Path(exists=True), default=None,
              help="Index this folder first (into a temporary index unless --index-dir is given).")
@click.option("--top-k", type=click.IntRange(1, 100), default=None, help="Passages the answerer reads [default 5].")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Evaluate only the first N questions.")
@index_options
@handle_errors
def eval_command(file: str, corpus: str | None, top_k: int | None, as_json: bool, limit: int | None,
                 index_dir: str | None, model: str | None) -> None:
    """Evaluate on a JSONL file of questions ({"question", "answers"}) and chats ({"turns"}).

    Chat turns are asked in order as one conversation, so follow-ups ("he", "it", "there")
    are resolved against the earlier turns. Prints exact match, token F1, hit rate, abstention accuracy, retrieval recall and latency
    per category.

    \b
    Examples:
      qa eval ../shared/eval/dev_questions.jsonl
      qa eval squad/questions.jsonl --corpus squad/corpus --json > report.json
    """
    from qa.conversation import ConversationEngine
    from qa.evaluation import answers_absent, evaluate, format_report, load_eval_file
    from qa.pipeline import QAPipeline, index_corpus

    items = load_eval_file(file)[:limit]
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as scratch:
        settings = settings_from_options(index_dir, model)
        if corpus is not None:
            if index_dir is None:
                settings = settings_from_options(str(Path(scratch) / "index"), model)
            index_corpus([corpus], settings, on_step=info)
        pipeline = QAPipeline.open(settings, on_step=info)
        absent, checked = answers_absent(items, pipeline.index.phrase_occurs)
        if checked >= 5 and absent > checked / 2:
            info(f"warning: for {absent} of {checked} answerable questions no gold answer occurs in the documents "
                  f"of {settings.index_dir}; are they about another corpus? (--corpus FOLDER indexes it first)")
        pipeline.warm_up()

        histories: dict[str, list] = {}
        conversations = ConversationEngine(pipeline, pipeline.analyzer.nlp)

        def answer(item):
            if item.conversation is not None:  # chat turns are played as one conversation, in order
                history = histories.setdefault(item.conversation, [])
                step = conversations.answer(history[-settings.chat_history_turns:], item.question, top_k)
                history.append(step.turn)
                result, passages = step.answer, step.passages
            else:
                answered = pipeline.run(item.question, top_k)
                result, passages = answered.answer, answered.passages
            return result, [p.chunk.text for p in passages]

        report = evaluate(items, answer)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(format_report(report))


#: Trainer commands pass every option through to their own argument parser.
TRAINER_CONTEXT = {"ignore_unknown_options": True, "allow_extra_args": True}


def run_trainer(ctx: click.Context, trainer_main) -> None:
    """Hand the command's arguments to a trainer's ``main`` (``--help-trainer`` shows its help)."""
    sys.exit(trainer_main(["--help" if a == "--help-trainer" else a for a in ctx.args]))


@main.command("train-reader", context_settings=TRAINER_CONTEXT)
@click.pass_context
def train_reader_command(ctx: click.Context) -> None:
    """Train the span reader from the SQuAD sample (seeded, CPU by default).

    All options go to the trainer; see `qa train-reader --help-trainer`.

    \b
    Examples:
      qa train-reader                          # the shipped recipe, into qa/reader/weights
      qa train-reader --out /tmp/reader --epochs 1 --device cuda
      qa train-reader --eval-only              # re-measure the shipped weights
    """
    from qa.training.train_reader import main as train_main

    run_trainer(ctx, train_main)


@main.command("train-ranker", context_settings=TRAINER_CONTEXT)
@click.pass_context
def train_ranker_command(ctx: click.Context) -> None:
    """Fit the learned answer ranker and abstention model on the reader's held-out articles.

    All options go to the trainer; see `qa train-ranker --help-trainer`.

    \b
    Examples:
      qa train-ranker                          # the shipped recipe, into qa/reader/weights/ranker.json
      qa train-ranker --work /tmp/rk --out /tmp/rk/ranker.json
    """
    from qa.training.train_ranker import main as train_main

    run_trainer(ctx, train_main)


main.add_command(chat)


if __name__ == "__main__":  # pragma: no cover
    main()
