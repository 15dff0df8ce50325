"""Synthetic reader questions: verbatim answers at their offsets, deterministic, held-out articles
never used (the real small spaCy pipeline, on paragraphs written for the test)."""
import pytest

spacy = pytest.importorskip("spacy")

from qa.training import data as D  # noqa: E402
from qa.training import synthetic as S  # noqa: E402
from qa.training import train_reader as T  # noqa: E402

CORPUS = {
    "Harbor": [
        "Marta Lindqvist founded the Harbor Rowing Club in 1912. The club trained 40 rowers in its first "
        "year. Its boathouse stood near the old lighthouse in Kessbury.",
        "In 1955 a storm destroyed the boathouse. The members rebuilt it with money from the town council.",
    ],
    "Orchard": [
        "The Orchard Society was started by Tomas Berg in Vellinge in 1887. It planted 300 apple trees "
        "along the river.",
    ],
}


@pytest.fixture(scope="module")
def nlp():
    try:
        return S.load_nlp()
    except OSError as e:  # pragma: no cover
        pytest.skip(f"spaCy model unavailable: {e}")


@pytest.fixture()
def corpus(tmp_path):
    for art, paras in CORPUS.items():
        (tmp_path / "corpus" / art).mkdir(parents=True)
        for i, t in enumerate(paras):
            (tmp_path / "corpus" / art / f"{i:03d}.txt").write_text(f"{art}\n\n{t}\n")
    return tmp_path


def test_answers_are_verbatim_questions_are_not_the_sentence(corpus, nlp):
    paras = D.load_corpus(str(corpus))
    items = S.generate(paras, nlp, per_paragraph=4, seed=3)
    assert items
    by_key = {(p.article, p.name): p for p in paras}
    for s in items:
        text = by_key[(s.article, s.name)].text
        assert text[s.answer_start:s.answer_start + len(s.answer)] == s.answer
        assert s.question.endswith("?") and s.question[0].isupper()
        assert s.answer not in s.question
    per_paragraph = {}
    for s in items:
        per_paragraph[(s.article, s.name)] = per_paragraph.get((s.article, s.name), 0) + 1
    assert max(per_paragraph.values()) <= 4
    people = [s for s in items if s.answer in ("Marta Lindqvist", "Tomas Berg")]
    assert all(s.question.startswith("Who ") for s in people)


def test_deterministic_and_a_prefix_of_a_larger_set(corpus, nlp):
    paras = D.load_corpus(str(corpus))
    a = S.generate(paras, nlp, per_paragraph=2, seed=5)
    assert a == S.generate(paras, nlp, per_paragraph=2, seed=5)
    bigger = S.generate(paras, nlp, per_paragraph=6, seed=5)
    assert a == [s for s in bigger if s.number < 2]


def test_training_uses_only_training_articles_and_the_file_matches(corpus, nlp, tmp_path):
    paras = D.load_corpus(str(corpus))
    cfg = dict(T.DEFAULTS, synthetic_per_paragraph=2, synthetic_seed=5)
    generated = T.synthetic_questions(paras, ["Orchard"], cfg)
    assert generated and all(paras[q.pid].article == "Harbor" for q in generated)
    for q in generated:
        assert paras[q.pid].text[q.answer_start:q.answer_start + len(q.answers[0])] == q.answers[0]
    path = str(tmp_path / "syn.jsonl")
    S.write_jsonl(S.generate(paras, nlp, per_paragraph=6, seed=5), path)
    from_file = T.synthetic_questions(paras, ["Orchard"], cfg, path)
    assert [(q.qid, q.question, q.answers, q.pid, q.answer_start) for q in from_file] == \
        [(q.qid, q.question, q.answers, q.pid, q.answer_start) for q in generated]
    assert T.synthetic_questions(paras, ["Orchard"], dict(cfg, synthetic_per_paragraph=0)) == []


def test_command_writes_the_file_or_says_why_not(corpus, tmp_path, capsys):
    out = tmp_path / "syn.jsonl"
    assert S.main(["--data", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert "no corpus/ folder" in capsys.readouterr().err and not out.exists()
    assert S.main(["--data", str(corpus), "--out", str(out), "--per-paragraph", "2", "--articles", "Harbor"]) == 0
    items = S.read_jsonl(str(out))
    assert items and {s.article for s in items} == {"Harbor"}
