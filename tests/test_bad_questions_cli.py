"""`qa ask` with odd questions: a clear one-line error (exit 1) or a normal answer (exit 0)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from qa.cli import main
from tests.test_cli import fakes  # noqa: F401  (fixture)


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.parametrize("question, message", [
    ("x" * 100_000, "error: the question is too long (100000 characters; the limit is 2000)"),
    ("\x00\x01\x1b", "error: the question is empty"),
    ("\u2026\u00bf?!", "error: the question has no words in it"),
])
def test_bad_questions_exit_1_with_one_line(fakes, corpus_dir, question, message):  # noqa: F811
    assert run("index", str(corpus_dir)).exit_code == 0
    result = run("ask", question)
    assert (result.exit_code, result.stderr.strip(), result.stdout) == (1, message, "")


@pytest.mark.parametrize("question", [
    "Who chairs the harbour board?\x00\x07",
    "\u0421\u043a\u043e\u043b\u044c\u043a\u043e \u0441\u043e\u0440\u0442\u043e\u0432?",
    "'; DROP TABLE turns; --",
    "<script>alert(1)</script>",
    '{"question": null}',
])
def test_odd_questions_are_answered(fakes, corpus_dir, question):  # noqa: F811
    assert run("index", str(corpus_dir)).exit_code == 0
    result = run("ask", question, "--json")
    assert result.exit_code == 0 and result.stderr == ""
    assert '"found": ' in result.stdout
