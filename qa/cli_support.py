"""What the ``qa`` commands share: settings from their options, error handling, the pipeline,
how an answer is printed."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from qa.config import Settings, load_settings
from qa.errors import QAError

#: The packages whose INFO messages ``-v`` shows.
OWN_LOGGERS = ("qa", "index", "api")


def settings_from_options(index_dir: str | None, model: str | None, **overrides) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if index_dir is not None:
        values["index_dir"] = Path(index_dir)
    if model is not None:
        values["model"] = model
    try:
        return load_settings(**values)
    except QAError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def info(message: str) -> None:
    click.echo(message, err=True)


def handle_errors(command):
    """Turn domain errors into a one-line message and exit status 1, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except QAError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


def index_options(command):
    command = click.option("--model", default=None, help="sentence-transformers model name or path [env QA_MODEL].")(command)
    command = click.option("--index-dir", default=None, type=click.Path(file_okay=False),
                           help="Index folder [env QA_INDEX_DIR; default .qa-index].")(command)
    return command


def open_pipeline(settings: Settings):
    from qa.pipeline import QAPipeline

    return QAPipeline.open(settings, on_step=info)


def format_answer(answer) -> str:
    """Human-readable answer: the span, the quote and numbered citations."""
    if not answer.found:
        return f"Not found in the documents (confidence {answer.confidence:.2f})."
    lines = [f"Answer: {answer.answer}", f"Confidence: {answer.confidence:.2f}"]
    if answer.quote:
        lines += ["", f"Quote: \u201c{' '.join(answer.quote.split())}\u201d"]
    if answer.citations:
        lines.append("")
        for n, c in enumerate(answer.citations, start=1):
            page = f"page {c.page}, " if c.page else ""
            lines.append(f"[{n}] {c.title} \u2014 {c.doc_id}, {page}characters {c.start}-{c.end}: {c.url}")
    return "\n".join(lines)
