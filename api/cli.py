"""The ``qa`` program: the question-answering commands of ``qa.cli`` plus ``qa serve``, which
runs the HTTP API and so lives with it."""

from __future__ import annotations

import logging
import socket
import sys

import click

from qa.cli import main
from qa.cli_support import index_options, settings_from_options
from qa.pipeline import index_problem


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="TCP port.")
@index_options
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

    settings = settings_from_options(index_dir, model)
    problem = port_problem(host, port) or index_problem(settings)
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


if __name__ == "__main__":  # pragma: no cover
    main()
