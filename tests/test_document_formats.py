"""A folder of documents as people keep them: every format indexed in one run, bad files reported
once each with their reason, answers cited to the page, extraction redone only when it changed."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import qa.pipeline
from index.analysis import SpacyAnalyzer
from index.build import build_index
from index.documents import load_corpus
from index.extract import extractors
from index.load import load_index, stored_documents
from qa.answerer.rules import RuleAnswerer
from qa.cli import main
from qa.retrieval import HybridRetriever
from tests.conftest import HARBOUR, FakeEmbedder
from tests.document_files import make_docx, make_pdf, make_zip_bomb

LEAVE_MD = b"""# Leave policy

Every employee is entitled to **25 days** of paid leave. The [handbook](https://example.org/handbook) explains the rest.
"""
MUSEUM_HTML = b"""<!doctype html><html><head><title>Museum Notes</title><script>var tracking = 1;</script></head>
<body><nav><a href="/">Home</a></nav><h1>The museum</h1>
<p>The Lindholm Museum opened in <b>1931</b> in Bergstad. It was founded by Clara Voss, a retired sea captain.</p>
<p>Visitors may read &lt;script&gt;alert(1)&lt;/script&gt; on a sign by the door.</p></body></html>"""
CAFE_LATIN1 = "Caf\u00e9 M\u00fcller\n\nThe Caf\u00e9 M\u00fcller was opened by J\u00fcrgen Weiss in 1958.\n".encode("latin-1")
TRAVEL_PAGES = [["Travel policy", "Economy class fares are reimbursed for every trip."],
                ["The mileage allowance is 30 cents per kilometre."]]
EXPENSES_DOCX = [("h1", "Expenses"), "The expense committee is chaired by Peter Novak.",
                 [["Item", "Limit"], ["Hotel", "120 euros"]]]


def mixed_folder(root):
    folder = root / "docs"
    folder.mkdir()
    (folder / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    (folder / "cafe.txt").write_bytes(CAFE_LATIN1)
    (folder / "leave.md").write_bytes(LEAVE_MD)
    (folder / "museum.html").write_bytes(MUSEUM_HTML)
    (folder / "travel.pdf").write_bytes(make_pdf(TRAVEL_PAGES, title="Travel Policy"))
    (folder / "expenses.docx").write_bytes(make_docx(EXPENSES_DOCX))
    (folder / "notes.pages").write_bytes(b"PK\x03\x04 an Apple Pages file")
    return folder


def add_bad_files(folder):
    travel = make_pdf([["Some words on a page."]] * 3)
    (folder / "truncated.pdf").write_bytes(travel[: len(travel) // 2])
    (folder / "locked.pdf").write_bytes(make_pdf([["Salaries."]], user_password="s3cret"))
    (folder / "scan.pdf").write_bytes(make_pdf([[]]))
    (folder / "fake.docx").write_bytes(b"This is not a zip archive.")
    (folder / "bomb.docx").write_bytes(make_zip_bomb(300))
    (folder / "symbols.txt").write_text("*** --- ***\n", encoding="utf-8")
    with open(folder / "huge.txt", "wb") as handle:  # sparse: 200 MB long, nothing written
        handle.truncate(200 * 1024 * 1024)


@pytest.fixture
def fakes(monkeypatch, tmp_path):
    monkeypatch.setattr(qa.pipeline, "SentenceTransformerEmbedder", lambda name, **options: FakeEmbedder(name))
    monkeypatch.setattr(qa.pipeline, "SpacyAnalyzer", lambda model: SpacyAnalyzer("blank"))
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "ix"))
    return tmp_path


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_a_mixed_folder_indexes_in_one_run(fakes):
    folder = mixed_folder(fakes)
    result = run("index", str(folder))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ("indexed 6 documents (2 .txt, 1 .docx, 1 .html, 1 .md, 1 .pdf); "
                             "skipped 1: notes.pages (unsupported type)\n")
    assert [line for line in result.stderr.splitlines() if line.startswith("skipped")] == [
        f"skipped {folder / 'notes.pages'}: unsupported type"]
    index = load_index(fakes / "ix")
    docs = {d.doc_id: d for d in index.documents}
    assert {k: (d.format, d.title) for k, d in docs.items()} == {
        "cafe.txt": ("text", "Caf\u00e9 M\u00fcller"),
        "expenses.docx": ("docx", "Expenses"),
        "harbour.txt": ("text", "Harbour News"),
        "leave.md": ("markdown", "Leave policy"),
        "museum.html": ("html", "Museum Notes"),
        "travel.pdf": ("pdf", "Travel Policy"),
    }
    assert docs["leave.md"].text == ("Leave policy\n\nEvery employee is entitled to 25 days of paid leave. "
                                     "The handbook explains the rest.")
    assert docs["travel.pdf"].pages == (0, docs["travel.pdf"].text.index("The mileage"))
    assert "tracking" not in docs["museum.html"].text and "Home" not in docs["museum.html"].text
    pdf_entry = next(d for d in index.manifest.documents if d["doc_id"] == "travel.pdf")
    assert (pdf_entry["format"], pdf_entry["pages"]) == ("pdf", 2)
    assert pdf_entry["extractor"] == extractors()[".pdf"].version and pdf_entry["extractor"].startswith("pdf/1 pypdf-")
    for chunk in index.chunks:
        assert index.document(chunk.doc_id).text[chunk.start : chunk.end] == chunk.text


def test_every_bad_file_is_reported_once_and_the_rest_index(fakes):
    folder = mixed_folder(fakes)
    add_bad_files(folder)
    result = run("index", str(folder))
    assert result.exit_code == 0, result.stderr
    reported = [line for line in result.stderr.splitlines() if line.startswith("skipped")]
    assert sorted(reported) == sorted([
        f"skipped {folder / 'bomb.docx'}: too large when unpacked (300 MB; the limit is 256 MB)",
        f"skipped {folder / 'fake.docx'}: not a DOCX file (not a zip archive: File is not a zip file)",
        f"skipped {folder / 'huge.txt'}: too large (200 MB; the limit is 64 MB)",
        f"skipped {folder / 'locked.pdf'}: encrypted (it needs a password to open)",
        f"skipped {folder / 'notes.pages'}: unsupported type",
        f"skipped {folder / 'scan.pdf'}: no text layer in its 1 page(s) (a scan? it needs OCR first)",
        f"skipped {folder / 'symbols.txt'}: no text (no words in it)",
        f"skipped {folder / 'truncated.pdf'}: unreadable PDF (PdfStreamError: Stream has ended unexpectedly)",
    ])
    assert result.stdout == (
        "indexed 6 documents (2 .txt, 1 .docx, 1 .html, 1 .md, 1 .pdf); skipped 8: bomb.docx (too large), "
        "fake.docx (unreadable), huge.txt (too large), locked.pdf (encrypted), notes.pages (unsupported type) "
        "and 3 more\n")
    assert len(load_index(fakes / "ix").documents) == 6
    leftovers = [p.name for p in (fakes / "ix").iterdir() if p.name.startswith((".tmp", "v-"))]
    assert len(leftovers) == 1 and leftovers[0].startswith("v-")  # one complete version, nothing half-written


def test_a_named_file_follows_the_folder_rules(fakes):
    folder = mixed_folder(fakes)
    result = run("index", str(folder / "notes.pages"))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"skipped {folder / 'notes.pages'}: unsupported type"
    result = run("index", str(folder / "museum.html"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "indexed 1 document (1 .html); skipped 0\n"
    document = load_index(fakes / "ix").documents[0]
    assert (document.doc_id, document.format, document.title) == ("museum.html", "html", "Museum Notes")
    assert document.text.startswith("The museum\n\nThe Lindholm Museum opened in 1931 in Bergstad.")


def test_unchanged_files_are_not_extracted_again_unless_the_extractor_changed(fakes, monkeypatch):
    folder = mixed_folder(fakes)
    assert run("index", str(folder)).exit_code == 0
    pdf = extractors()[".pdf"]
    calls = []
    original = type(pdf).extract
    monkeypatch.setattr(type(pdf), "extract", lambda self, raw: calls.append(len(raw)) or original(self, raw))
    assert run("index", str(folder)).exit_code == 0
    assert calls == []
    monkeypatch.setattr(pdf, "version", "pdf/2 pypdf-test")
    result = run("index", str(folder))
    assert result.exit_code == 0
    assert len(calls) == 1
    entry = next(d for d in load_index(fakes / "ix").manifest.documents if d["doc_id"] == "travel.pdf")
    assert entry["extractor"] == "pdf/2 pypdf-test"
    assert stored_documents(fakes / "ix")(load_index(fakes / "ix").document("travel.pdf").sha256,
                                          "pdf/2 pypdf-test").title == "Travel Policy"


QUESTIONS = [
    ("Who chairs the harbour board of Eastport?", "Maria Lindqvist", "harbour.txt", None),
    ("Who opened the Caf\u00e9 M\u00fcller?", "J\u00fcrgen Weiss", "cafe.txt", None),
    ("How much paid leave is every employee entitled to?", "25 days", "leave.md", None),
    ("Who is Clara Voss?", "a retired sea captain", "museum.html", None),
    ("How much is the mileage allowance?", "30 cents", "travel.pdf", 2),
    ("Who chairs the expense committee?", "Peter Novak", "expenses.docx", None),
]


@pytest.fixture(scope="module")
def answering(tmp_path_factory):
    root = tmp_path_factory.mktemp("formats")
    documents, skipped = load_corpus([mixed_folder(root)])
    assert [s.kind for s in skipped] == ["unsupported type"]
    analyzer, embedder = SpacyAnalyzer(), FakeEmbedder()
    build_index(documents, root / "ix", embedder, analyzer)
    index = load_index(root / "ix")
    return index, HybridRetriever(index, embedder), RuleAnswerer(analyzer, embedder)


@pytest.mark.parametrize("question, expected, doc_id, page", QUESTIONS)
def test_each_format_answers_with_a_verbatim_span_and_its_page(answering, question, expected, doc_id, page):
    index, retriever, answerer = answering
    answer = answerer.answer(question, retriever.retrieve(question, top_k=3), index)
    assert answer.found and answer.answer == expected
    citation = answer.citations[0]
    text = index.document(doc_id).text
    assert citation.doc_id == doc_id
    assert text[citation.start : citation.end] == expected
    assert text[citation.quote_start : citation.quote_end] == answer.quote
    assert citation.page == page
    assert json.loads(json.dumps(answer.to_dict()))["citations"][0]["page"] == page


def test_a_document_without_the_new_fields_still_loads(tmp_path):
    from index.documents import Document

    stored = {"doc_id": "a.txt", "title": "A", "text": "Alpha.", "source": "a.txt", "sha256": "0" * 64}
    document = Document.from_dict(stored)
    assert (document.format, document.pages, document.extractor, document.page_at(3)) == ("text", None, "", None)
    paged = Document.from_dict({**stored, "format": "pdf", "pages": [0, 4, 4, 9]})
    assert [paged.page_at(i) for i in (0, 3, 4, 8, 9, 100)] == [1, 1, 3, 3, 4, 4]


def test_the_sparse_huge_file_is_never_read(tmp_path, monkeypatch):
    with open(tmp_path / "huge.md", "wb") as handle:
        handle.truncate(200 * 1024 * 1024)
    def no_reading(path):
        raise AssertionError(f"{path} was read")

    monkeypatch.setattr(type(tmp_path), "read_bytes", no_reading)
    documents, skipped = load_corpus([tmp_path])
    assert documents == [] and [(s.kind, s.reason) for s in skipped] == [
        ("too large", "too large (200 MB; the limit is 64 MB)")]


def test_a_damaged_stored_document_list_means_extracting_again(fakes):
    folder = mixed_folder(fakes)
    assert run("index", str(folder)).exit_code == 0
    index = load_index(fakes / "ix")
    pdf = index.document("travel.pdf")
    lookup = stored_documents(fakes / "ix")
    assert lookup(pdf.sha256, pdf.extractor).text == pdf.text
    assert lookup(pdf.sha256, "pdf/0 other") is None
    version = (fakes / "ix" / "CURRENT").read_text().strip()
    (fakes / "ix" / version / "documents.jsonl").write_text('{"doc_id": "a.txt", "title"', encoding="utf-8")
    assert stored_documents(fakes / "ix")(pdf.sha256, pdf.extractor) is None
    assert stored_documents(fakes / "nowhere")(pdf.sha256, pdf.extractor) is None
