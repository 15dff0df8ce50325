"""The ``qa chat`` command: a conversation in the terminal, through the same resolver as the API."""

from __future__ import annotations

import sys

import click

from qa import cli_support
from qa.cli_support import format_answer, handle_errors, index_options, settings_from_options
from qa.errors import QAError


@click.command()
@click.option("--top-k", type=click.IntRange(1, 100), default=None, help="Passages the answerer reads [default 5].")
@index_options
@handle_errors
def chat(top_k: int | None, index_dir: str | None, model: str | None) -> None:
    """Chat in the terminal; follow-up questions ("Where will she speak?") refer to earlier turns.

    Reads one message per line; an empty line or Ctrl-D ends the chat. When stdin is not a
    terminal the lines are read from it, so a conversation can be scripted.

    \b
    Examples:
      qa chat
      printf 'Who chairs the harbour board?\\nWhere will she speak next month?\\n' | qa chat
    """
    from qa.conversation import ConversationEngine

    settings = settings_from_options(index_dir, model)
    pipeline = cli_support.open_pipeline(settings)
    engine = ConversationEngine(pipeline, pipeline.analyzer.nlp)
    interactive = sys.stdin.isatty()
    if interactive:
        click.echo("Ask a question about the documents (an empty line ends the chat).")
    history = []
    while True:
        if interactive:
            try:
                line = click.prompt("you", default="", show_default=False, prompt_suffix="> ")
            except click.Abort:
                click.echo()
                break
            if not line.strip():
                break
        else:
            line = sys.stdin.readline()
            if not line:
                break
            if not line.strip():
                continue
            click.echo(f"> {line.strip()}")
        try:
            _, answer, turn, _ = engine.answer(history[-settings.chat_history_turns:], line, top_k)
        except QAError as exc:
            click.echo(f"error: {exc}", err=True)
            continue
        history.append(turn)
        if turn.note:
            click.echo(turn.note)
        click.echo(format_answer(answer))
        click.echo()
