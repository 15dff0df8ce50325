"""The citation view and the document JSON of documents read from a PDF and an HTML page."""

from __future__ import annotations

import re

import pytest

from api.dependencies import Services
from index.build import build_index
from index.documents import load_corpus
from qa.chat_store import open_chat_store
from qa.config import Settings
from qa.models import Answer, Citation, citation_url
from qa.pipeline import QAPipeline
from tests.conftest import FakeEmbedder
from tests.document_files import make_pdf

HTML = {"Accept": "text/html"}
SIGN_PAGE = (b"<html><head><title>Museum Sign</title></head><body><h1>The sign</h1>"
             b"<p>The sign by the door reads &lt;script&gt;alert(1)&lt;/script&gt; in red letters.</p></body></html>")
MILEAGE = "The mileage allowance is 30 cents per kilometre."


class PageAnswerer:
    """Fake answerer: '30 cents' of the PDF, cited with its page as the real answerer cites it."""

    def answer(self, question, passages, index) -> Answer:
        document = index.document("travel.pdf")
        start = document.text.index("30 cents")
        end = start + len("30 cents")
        citation = Citation("travel.pdf", document.title, start, end, start, end, citation_url("travel.pdf", start, end),
                            page=document.page_at(start))
        return Answer(question, "30 cents", True, 0.9, "30 cents", [citation])


@pytest.fixture(scope="module")
def formats_index(tmp_path_factory, spacy_analyzer):
    root = tmp_path_factory.mktemp("formats-api")
    folder = root / "docs"
    folder.mkdir()
    (folder / "travel.pdf").write_bytes(make_pdf([["Travel policy", "Economy fares are paid."], [MILEAGE]],
                                                 title="Travel Policy"))
    (folder / "sign.html").write_bytes(SIGN_PAGE)
    documents, skipped = load_corpus([folder])
    assert skipped == []
    build_index(documents, root / "ix", FakeEmbedder(), spacy_analyzer)
    return root / "ix"


@pytest.fixture
def formats_client(make_client, formats_index, spacy_analyzer, tmp_path):
    settings = Settings(index_dir=formats_index, chat_db=tmp_path / "chats.sqlite3", load_in_background=False)

    def load(settings: Settings) -> Services:
        pipeline = QAPipeline(settings, embedder=FakeEmbedder(), analyzer=spacy_analyzer, answerer=PageAnswerer())
        return Services(pipeline=pipeline, nlp=spacy_analyzer.nlp, store=open_chat_store(settings))

    return make_client(settings=settings, loader=load)


def test_a_pdf_citation_carries_its_page_and_the_view_shows_it(formats_client):
    answer = formats_client.post("/ask", json={"question": "How much is the mileage allowance?"}).json()
    citation = answer["citations"][0]
    assert citation["page"] == 2
    page = formats_client.get(citation["url"], headers=HTML).text
    assert re.search(r'<mark id="cited">(.*?)</mark>', page).group(1) == "30 cents"
    assert f"page 2, characters {citation['start']}\u2013{citation['end']}" in page
    assert page.count('<span class="page"') == 1
    assert '<span class="page" id="page-2" data-page="2"></span><span class="support">' in page


def test_a_pdf_document_as_json_has_its_pages(formats_client):
    body = formats_client.get("/documents/travel.pdf").json()
    assert (body["format"], body["title"]) == ("pdf", "Travel Policy")
    assert body["pages"] == [0, body["text"].index(MILEAGE)]


def test_markup_quoted_on_a_web_page_shows_as_text(formats_client):
    body = formats_client.get("/documents/sign.html").json()
    assert body["text"] == "The sign\n\nThe sign by the door reads <script>alert(1)</script> in red letters."
    start = body["text"].index("<script>")
    view = formats_client.get(f"/documents/sign.html/view?start={start}&end={start + 25}").text
    assert '<mark id="cited">&lt;script&gt;alert(1)&lt;/script&gt;</mark>' in view
    assert "<script>alert" not in view
