"""CLI tests: exit codes and messages, with a fake embedder, a blank spaCy pipeline and a fake answerer."""

import json

import pytest
from click.testing import CliRunner

import qa.pipeline
from index.analysis import SpacyAnalyzer
from api.cli import main
from qa.models import Answer, Citation, citation_url
from tests.conftest import FakeEmbedder


class FirstSentenceAnswerer:
    """Answers with the first word of the top passage's first sentence; abstains on 'unicorn'."""

    def __init__(self, analyzer, embedder, settings=None):
        pass

    def answer(self, question, passages, index):
        if "unicorn" in question.lower() or not passages:
            return Answer.not_found(question, 0.1)
        chunk = passages[0].chunk
        word = chunk.text.split()[0]
        title = index.document(chunk.doc_id).title
        cite = Citation(chunk.doc_id, title, chunk.start, chunk.start + len(word), chunk.start, chunk.end,
                        citation_url(chunk.doc_id, chunk.start, chunk.start + len(word)))
        return Answer(question, word, True, 0.75, chunk.text, [cite])


@pytest.fixture
def fakes(monkeypatch, tmp_path):
    monkeypatch.setattr(qa.pipeline, "SentenceTransformerEmbedder", lambda name, **options: FakeEmbedder(name))
    monkeypatch.setattr(qa.pipeline, "SpacyAnalyzer", lambda model: SpacyAnalyzer("blank"))
    monkeypatch.setattr(qa.pipeline, "default_answerer", FirstSentenceAnswerer)
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "ix"))
    # qa index remembers the index it built per working folder: a record of this test's own
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_index_then_search_and_ask(fakes, corpus_dir):
    result = run("index", str(corpus_dir))
    assert result.exit_code == 0, result.output
    assert result.stdout == "indexed 2 documents (1 .md, 1 .txt); skipped 0\n"

    result = run("search", "oldest apple tree planted", "--top-k", "1")
    assert result.exit_code == 0
    assert result.stdout.startswith("[1] orchard.md chars ")

    result = run("ask", "oldest apple tree?", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["found"] is True
    citation = data["citations"][0]
    text = (corpus_dir / citation["doc_id"]).read_text(encoding="utf-8")
    assert text[citation["start"] : citation["end"]] == data["answer"]
    assert citation["url"] == f"/documents/{citation['doc_id']}?start={citation['start']}&end={citation['end']}"

    result = run("ask", "Where do unicorns live?")
    assert result.exit_code == 0
    assert result.stdout.strip() == "Not found in the documents (confidence 0.10)."


def test_ask_builds_the_default_index_from_the_default_corpus_first(fakes, monkeypatch, corpus_dir):
    monkeypatch.setenv("QA_CORPUS", str(corpus_dir))
    monkeypatch.delenv("QA_INDEX_DIR")
    monkeypatch.chdir(fakes)
    result = run("ask", "harbour board chair")
    assert result.exit_code == 0
    assert f"no index at .qa-index: building one from {corpus_dir} first" in result.stderr
    assert result.stdout.startswith("Answer: ")
    assert "[1] Harbour News" in result.stdout or "[1] Orchard Report" in result.stdout
    assert (fakes / ".qa-index" / "CURRENT").exists()


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_an_index_folder_asked_for_must_exist(fakes, monkeypatch, corpus_dir, how):
    missing = fakes / "nonexistent" / "deeper" / "ix"
    monkeypatch.setenv("QA_CORPUS", str(corpus_dir))
    if how == "flag":
        result = run("ask", "harbour board chair", "--index-dir", str(missing))
    else:
        monkeypatch.setenv("QA_INDEX_DIR", str(missing))
        result = run("ask", "harbour board chair")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: no index in {missing}; build one with `qa index PATH --index-dir {missing}`"
    assert not (fakes / "nonexistent").exists()


def test_serve_refuses_a_missing_index_or_a_busy_port_before_loading(fakes, corpus_dir):
    import socket

    missing = fakes / "none"
    result = run("serve", "--index-dir", str(missing), "--port", "0")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: no index in {missing}; build one with `qa index PATH --index-dir {missing}`"
    assert run("index", str(corpus_dir)).exit_code == 0
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("serve", "--port", str(port))
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: cannot listen on 127.0.0.1:{port}: Address already in use"


@pytest.mark.parametrize("question,message", [
    ("", "error: the question is empty"),
    ("   \t ", "error: the question is empty"),
    ("?!?", "error: the question has no words in it"),
    ("x" * 5000, "error: the question is too long (5000 characters; the limit is 2000)"),
])
def test_bad_questions_exit_1_with_a_message(fakes, corpus_dir, question, message):
    assert run("index", str(corpus_dir)).exit_code == 0
    result = run("ask", question)
    assert result.exit_code == 1
    assert result.stderr.strip() == message


def test_index_nothing_readable(fakes, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "zero.txt").write_text("")
    result = run("index", str(empty))
    assert result.exit_code == 1
    assert "skipped" in result.stderr and "zero.txt: empty file" in result.stderr
    assert f"error: nothing to index in {empty}" in result.stderr


def test_ray_workers_without_ray_is_a_usage_error(fakes, corpus_dir):
    result = run("index", str(corpus_dir), "--ray-workers", "2")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == "Error: --ray-workers needs --ray"


def test_index_missing_path(fakes, tmp_path):
    result = run("index", str(tmp_path / "nope"))
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: corpus path does not exist: {tmp_path / 'nope'}"


def test_model_mismatch_message(fakes, corpus_dir):
    assert run("index", str(corpus_dir)).exit_code == 0
    result = run("ask", "harbour", "--model", "another-model")
    assert result.exit_code == 1
    assert "was built with model 'all-MiniLM-L6-v2', not 'another-model'" in result.stderr


def test_eval_reports_categories(fakes, corpus_dir, tmp_path):
    assert run("index", str(corpus_dir)).exit_code == 0
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"id": "d1", "question": "apple orchard varieties", "answers": ["Orchard"]}) + "\n"
        + json.dumps({"id": "n1", "question": "unicorn habitat", "answers": []}) + "\n",
        encoding="utf-8",
    )
    result = run("eval", str(questions), "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["categories"]["d"]["hit_rate"] == 100.0
    assert report["categories"]["n"]["abstention_accuracy"] == 100.0
    text = run("eval", str(questions)).stdout
    assert text.splitlines()[0].split()[:3] == ["category", "n", "ans"]


def test_eval_warns_when_the_answers_are_not_in_the_indexed_documents(fakes, corpus_dir, tmp_path):
    assert run("index", str(corpus_dir)).exit_code == 0
    questions = tmp_path / "q.jsonl"
    elsewhere = [("Who painted the ceiling?", "Michelangelo"), ("When did the bridge open?", "1932"),
                 ("Which river?", "the Danube"), ("Who wrote the anthem?", "Joseph Haydn"),
                 ("How tall is the tower?", "324 metres"), ("Who chairs the harbour board?", "Maria Lindqvist")]
    questions.write_text("".join(json.dumps({"question": q, "answers": [a]}) + "\n" for q, a in elsewhere))
    result = run("eval", str(questions))
    assert result.exit_code == 0
    assert (f"warning: for 5 of 6 answerable questions no gold answer occurs in the documents of {fakes / 'ix'}; "
            "are they about another corpus? (--corpus FOLDER indexes it first)") in result.stderr
    questions.write_text("".join(json.dumps({"question": q, "answers": [a]}) + "\n" for q, a in elsewhere[4:] * 3))
    assert "warning" not in run("eval", str(questions)).stderr  # half of them are there


def test_eval_missing_file(fakes):
    result = run("eval", "/nonexistent/q.jsonl")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot read /nonexistent/q.jsonl")


def test_train_ranker_without_data_says_where_it_looked(tmp_path):
    result = CliRunner().invoke(main, ["train-ranker", "--data", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert f"no SQuAD data at {tmp_path / 'nowhere'}" in result.output



@pytest.mark.parametrize("variable, value, message", [
    ("QA_TOP_K", "abc", "QA_TOP_K: Input should be a valid integer"),
    ("QA_QUERY_ENCODER", "fastest", "QA_QUERY_ENCODER: Input should be 'auto', 'torch', 'onnx' or 'onnx-int8'"),
])
@pytest.mark.parametrize("command", [["ask", "Who rowed?"], ["search", "rowing"], ["serve"]])
def test_a_setting_that_cannot_be_taken_exits_2_naming_the_variable(monkeypatch, variable, value, message, command):
    monkeypatch.setenv(variable, value)
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 2, result.output
    assert f"error: {message}" in result.output and "Traceback" not in result.output


def test_verbose_shows_this_programs_steps_and_keeps_libraries_to_warnings(fakes, corpus_dir):
    import logging

    result = run("-v", "index", str(corpus_dir))
    assert result.exit_code == 0
    assert logging.getLogger("index.build").getEffectiveLevel() == logging.INFO
    for library in ("faiss.loader", "bm25s", "sentence_transformers"):
        assert logging.getLogger(library).getEffectiveLevel() == logging.WARNING, library
    assert run("index", str(corpus_dir)).exit_code == 0
    assert logging.getLogger("index.build").getEffectiveLevel() == logging.WARNING


def test_ask_says_when_it_answers_from_another_index_than_the_last_built_here(fakes, monkeypatch, corpus_dir):
    monkeypatch.chdir(fakes)
    other = fakes / "other-ix"
    assert run("index", str(corpus_dir)).exit_code == 0  # into QA_INDEX_DIR
    assert "note:" not in run("ask", "oldest apple tree?").stderr
    assert run("index", str(corpus_dir), "--index-dir", str(other)).exit_code == 0
    result = run("ask", "oldest apple tree?")
    assert result.exit_code == 0 and result.stdout.startswith("Answer: ")
    assert result.stderr.strip() == (f"note: answered from the index in {fakes / 'ix'} (2 document(s)), not from "
                                     f"{other}, the index last built in this folder (--index-dir {other})")
    assert "note:" not in run("ask", "oldest apple tree?", "--index-dir", str(other)).stderr
