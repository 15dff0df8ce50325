"""The ``qa serve`` and ``qa chat`` commands (registered on the ``qa`` group in ``qa/cli.py``).

``qa.cli`` imports this module at its end, so this module imports ``qa.cli`` only inside the
commands: importing it at the top would make ``python -m qa.cli`` import itself twice.
"""

from __future__ import annotations

import logging
import sys

import click

_INDEX_DIR_HELP = "Index folder [env QA_INDEX_DIR; default .qa-index]."
_MODEL_HELP = "sentence-transformers model name or path [env QA_MODEL]."


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="TCP port.")
@click.option("--index-dir", default=None, type=click.Path(file_okay=False), help=_INDEX_DIR_HELP)
@click.option("--model", default=None, help=_MODEL_HELP)
def serve(host: str, port: int, index_dir: str | None, model: str | None) -> None:
    """Serve the HTTP API and the chat page (http://HOST:PORT/, API docs at /docs).

    The index and the models are loaded once at start-up; without --index-dir (or QA_INDEX_DIR)
    and with no index yet, one is built from the default corpus first.

    \b
    Examples:
      qa serve
      qa serve --host 0.0.0.0 --port 8080 --index-dir /srv/qa-index
    """
    import uvicorn

    from api.app import create_app
    from qa.cli import _settings

    settings = _settings(index_dir, model)
    problem = port_problem(host, port) or missing_index_problem(settings)
    if problem:
        click.echo(f"error: {problem}", err=True)
        sys.exit(1)
    # Say what start-up does (loading, building an index) even without -v.
    for name in ("api", "qa", "index"):
        logging.getLogger(name).setLevel(logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def port_problem(host: str, port: int) -> str | None:
    """Why ``qa serve`` could not listen on ``host:port``, found before the index loads, or ``None``."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot listen on {host}:{port}: {exc.strerror}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as exc:
            return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return None


def missing_index_problem(settings) -> str | None:
    """Why an index folder asked for cannot be served (it holds no index), or ``None``; only the
    default index is built from the default corpus on first use."""
    from index.manifest import current_version

    if settings.uses_default_index or current_version(settings.index_dir) is not None:
        return None
    return f"no index in {settings.index_dir}; build one with `qa index PATH --index-dir {settings.index_dir}`"


@click.command()
@click.option("--top-k", type=click.IntRange(1, 100), default=None, help="Passages the answerer reads [default 5].")
@click.option("--index-dir", default=None, type=click.Path(file_okay=False), help=_INDEX_DIR_HELP)
@click.option("--model", default=None, help=_MODEL_HELP)
def chat(top_k: int | None, index_dir: str | None, model: str | None) -> None:
    """Chat in the terminal; follow-up questions ("Where will she speak?") refer to earlier turns.

    Reads one message per line; an empty line or Ctrl-D ends the chat. When stdin is not a
    terminal the lines are read from it, so a conversation can be scripted.

    \b
    Examples:
      qa chat
      printf 'Who chairs the harbour board?\\nWhere will she speak next month?\\n' | qa chat
    """
    from qa.cli import handle_errors

    handle_errors(_chat)(top_k, index_dir, model)


def _chat(top_k: int | None, index_dir: str | None, model: str | None) -> None:
    from index.errors import QAError
    from qa.cli import _open_pipeline, _settings, format_answer
    from qa.conversation import ConversationEngine

    settings = _settings(index_dir, model)
    pipeline = _open_pipeline(settings)
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
