"""`qa chat` scripted through stdin, and `qa serve --help`."""

from __future__ import annotations

from click.testing import CliRunner

import qa.cli_support
from api.cli import main
from qa.config import Settings
from qa.pipeline import QAPipeline
from tests.api.conftest import api_docs, api_index_dir, spacy_analyzer  # noqa: F401
from tests.conftest import FakeEmbedder, SentenceAnswerer


def test_chat_reads_stdin_and_resolves_follow_ups(monkeypatch, api_index_dir, spacy_analyzer):
    pipeline = QAPipeline(Settings(index_dir=api_index_dir), embedder=FakeEmbedder(), analyzer=spacy_analyzer,
                          answerer=SentenceAnswerer())
    monkeypatch.setattr(qa.cli_support, "open_pipeline", lambda settings: pipeline)
    script = "Who chairs the harbour board?\n\nWhere will she speak next month?\n   \t\nZebra xylophone?\n"
    result = CliRunner().invoke(main, ["chat"], input=script)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "> Who chairs the harbour board?"
    assert lines[1] == "Answer: Maria Lindqvist chairs the harbour board of Eastport."
    assert "> Where will she speak next month?" in lines
    assert "Understood as: Where will Maria Lindqvist speak next month?" in lines
    assert "Answer: She will speak in Oslo next month." in lines
    assert any(line.startswith("[1] Harbour News \u2014 news/harbour.txt, characters ") for line in lines)
    assert "Not found in the documents (confidence 0.00)." in lines


def test_chat_reports_bad_lines_and_goes_on(monkeypatch, api_index_dir, spacy_analyzer):
    pipeline = QAPipeline(Settings(index_dir=api_index_dir), embedder=FakeEmbedder(), analyzer=spacy_analyzer,
                          answerer=SentenceAnswerer())
    monkeypatch.setattr(qa.cli_support, "open_pipeline", lambda settings: pipeline)
    result = CliRunner().invoke(main, ["chat"], input="?!\nWho chairs the harbour board?\n")
    assert result.exit_code == 0
    assert "error: the question has no words in it" in result.output
    assert "Answer: Maria Lindqvist chairs the harbour board of Eastport." in result.output


def test_serve_help_shows_defaults():
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--host TEXT" in result.output and "[default: 127.0.0.1]" in result.output
    assert "[default: 8000; 0<=x<=65535]" in result.output
