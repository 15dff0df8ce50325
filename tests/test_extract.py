"""Each format's extractor on small files made here: exact text, titles, pages and refusals."""

from __future__ import annotations

import pytest

from index.extract import ENCRYPTED, NO_TEXT, TOO_LARGE, UNREADABLE, UNSUPPORTED, ExtractionError, extractor_for
from index.extract.docx_text import DocxExtractor
from index.extract.html_text import HtmlExtractor
from index.extract.markdown_text import MarkdownExtractor
from index.extract.pdf_text import PdfExtractor, join_pages, reflow_page
from index.extract.plain_text import PlainTextExtractor, decode_text
from tests.document_files import make_docx, make_pdf, make_zip_bomb


def refused(extractor, raw: bytes) -> tuple[str, str]:
    with pytest.raises(ExtractionError) as caught:
        extractor.extract(raw)
    return caught.value.kind, str(caught.value)


# --------------------------------------------------------------------------- plain text


@pytest.mark.parametrize("raw, text, encoding", [
    ("Caf\u00e9 cr\u00e8me".encode("utf-8"), "Caf\u00e9 cr\u00e8me", "utf-8"),
    (b"\xef\xbb\xbfWith a BOM", "With a BOM", "utf-8-sig"),
    ("Gr\u00fc\u00dfe".encode("utf-16"), "Gr\u00fc\u00dfe", "utf-16"),
    ("Gr\u00fc\u00dfe aus M\u00fcnchen".encode("utf-32"), "Gr\u00fc\u00dfe aus M\u00fcnchen", "utf-32"),
    ("Staff get 25 days of paid leave.".encode("utf-16-le"), "Staff get 25 days of paid leave.", "utf_16_le"),
    ("Caf\u00e9 cr\u00e8me\n".encode("latin-1"), "Caf\u00e9 cr\u00e8me\n", "cp1252"),
    ("The \u201csmart quotes\u201d \u2014 cost \u20ac5.".encode("cp1252"), "The \u201csmart quotes\u201d \u2014 cost \u20ac5.", "cp1252"),
    ("Pracownicy otrzymuj\u0105 dwadzie\u015bcia pi\u0119\u0107 dni urlopu. \u0141\u00f3d\u017a".encode("cp1250"),
     "Pracownicy otrzymuj\u0105 dwadzie\u015bcia pi\u0119\u0107 dni urlopu. \u0141\u00f3d\u017a", "cp1250"),
    ("\u0421\u043e\u0442\u0440\u0443\u0434\u043d\u0438\u043a\u0438 \u043f\u043e\u043b\u0443\u0447\u0430\u044e\u0442 "
     "\u043e\u0442\u043f\u0443\u0441\u043a.".encode("cp1251"),
     "\u0421\u043e\u0442\u0440\u0443\u0434\u043d\u0438\u043a\u0438 \u043f\u043e\u043b\u0443\u0447\u0430\u044e\u0442 "
     "\u043e\u0442\u043f\u0443\u0441\u043a.", "cp1251"),
])
def test_text_in_each_encoding_is_decoded(raw, text, encoding):
    assert decode_text(raw) == (text, encoding)


def test_binary_and_wordless_text_are_refused():
    assert refused(PlainTextExtractor(), b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))) == (
        UNREADABLE, "binary file (contains NUL bytes)")
    assert refused(PlainTextExtractor(), b"abc\x00\x01\x02") == (UNREADABLE, "binary file (contains NUL bytes)")
    assert refused(PlainTextExtractor(), b"--- *** ---\n") == (NO_TEXT, "no text (no words in it)")


# --------------------------------------------------------------------------- HTML

PAGE = b"""<!DOCTYPE html>
<html><head><meta charset="windows-1252"><title>Leave &amp; Holidays</title>
<style>p { color: red }</style><script>var secret = "hidden words";</script></head>
<body><nav><a href="/">Home</a> <a href="/about">About</a></nav>
<h1>Annual   leave</h1>
<p>Staff get <b>25 days</b> of paid leave &mdash; caf\xe9 included.<br>Unused days expire.</p>
<!-- a comment -->
<ul><li>One</li><li>Two <i>items</i></li></ul>
<table><tr><th>Grade</th><th> Days </th></tr><tr><td>A</td><td>25</td></tr></table>
<p>&lt;script&gt;alert(1)&lt;/script&gt; is shown as text.</p>
<pre>  keep
   spacing</pre>
<div hidden>secret</div><p aria-hidden="true">icon</p>
</body></html>"""


def test_html_gives_the_visible_text_in_blocks():
    extracted = HtmlExtractor().extract(PAGE)
    assert extracted.title == "Leave & Holidays"
    assert extracted.encoding == "cp1252"
    assert extracted.text == (
        "Annual leave\n\n"
        "Staff get 25 days of paid leave \u2014 caf\u00e9 included.\nUnused days expire.\n\n"
        "One\n\nTwo items\n\n"
        "Grade | Days\n\nA | 25\n\n"
        "<script>alert(1)</script> is shown as text.\n\n"
        "  keep\n   spacing"
    )


def test_html_main_content_and_first_heading_title():
    raw = (b"<html><body><header><a href='/'>Site name</a></header><main><h1>Travel rules</h1>"
           b"<p>Trains are booked in second class.</p></main><footer>Copyright 2026</footer></body></html>")
    extracted = HtmlExtractor().extract(raw)
    assert (extracted.title, extracted.text) == ("Travel rules", "Travel rules\n\nTrains are booked in second class.")


def test_html_without_visible_words_is_refused():
    assert refused(HtmlExtractor(), b"<html><head><title>T</title><script>x = 1</script></head><body> </body></html>") == (
        NO_TEXT, "no text (no words in it)")
    assert refused(HtmlExtractor(), b"   \n  <!-- -->") == (NO_TEXT, "no text (Document is empty)")


def test_deeply_nested_html_is_read_and_too_deep_html_is_refused():
    nested = b"<html><body>" + b"<div>" * 1500 + b"Deep words." + b"</div>" * 1500 + b"<p>After.</p></body></html>"
    assert HtmlExtractor().extract(nested).text == "Deep words.\n\nAfter."
    kind, reason = refused(HtmlExtractor(), b"<html><body>" + b"<div>" * 5000 + b"Deep words.</body></html>")
    # (the rest of libxml2's message differs between its versions)
    assert kind == UNREADABLE and reason.startswith("unreadable HTML (Excessive depth in document: 2048")


# --------------------------------------------------------------------------- Markdown


def test_markdown_gives_text_without_markup():
    raw = (b"# Leave *policy*\n\nStaff get **25 days** of paid leave. See [the handbook](http://example.org/h).\n"
           b"A second line.\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\ncode  block\n```\n")
    extracted = MarkdownExtractor().extract(raw)
    assert extracted.title == "Leave policy"
    assert extracted.text == ("Leave policy\n\nStaff get 25 days of paid leave. See the handbook. A second line.\n\n"
                              "one\n\ntwo\n\na | b\n\n1 | 2\n\ncode  block")


def test_markdown_title_falls_back_to_no_title_without_a_heading():
    assert MarkdownExtractor().extract(b"Just a line of *text*.").title == ""


# --------------------------------------------------------------------------- PDF


def test_reflow_joins_lines_and_hyphenated_words_and_keeps_short_lines():
    page = ("Travel policy\n"
            "Employees who travel for work are reimbursed for economy class fares and\n"
            "for hotel rooms of a reasonable standard. The per diem for meals is paid af-\n"
            "ter the trip, and well-known rules about receipts still apply to every claim\n"
            "made.\n"
            "\n"
            "Contact: Finance")
    assert reflow_page(page) == (
        "Travel policy\n\n"
        "Employees who travel for work are reimbursed for economy class fares and for hotel rooms of a "
        "reasonable standard. The per diem for meals is paid after the trip, and well-known rules about "
        "receipts still apply to every claim made.\n\n"
        "Contact: Finance")


def test_join_pages_records_where_each_page_starts():
    assert join_pages(["One.", "", "Three."]) == ("One.\n\n\n\nThree.", (0, 6, 8))


def test_pdf_text_by_page_with_its_title():
    raw = make_pdf([["Travel policy", "Economy class fares are reimbursed."],
                    ["The mileage allowance is 30 cents per kilometre."]], title="Travel Policy")
    extracted = PdfExtractor().extract(raw)
    assert extracted.title == "Travel Policy"
    assert extracted.text == ("Travel policy\n\nEconomy class fares are reimbursed.\n\n"
                              "The mileage allowance is 30 cents per kilometre.")
    assert extracted.pages == (0, extracted.text.index("The mileage"))


def test_pdf_encrypted_with_a_password_is_refused_and_with_an_empty_one_read():
    pages = [["The secret budget is 12 million euros."]]
    assert refused(PdfExtractor(), make_pdf(pages, user_password="s3cret")) == (
        ENCRYPTED, "encrypted (it needs a password to open)")
    opened = PdfExtractor().extract(make_pdf(pages, user_password="", owner_password="owner"))
    assert opened.text == "The secret budget is 12 million euros."


def test_pdf_without_a_text_layer_is_refused():
    assert refused(PdfExtractor(), make_pdf([[], []])) == (
        NO_TEXT, "no text layer in its 2 page(s) (a scan? it needs OCR first)")


@pytest.mark.parametrize("cut", [0.5, 0.1])
def test_truncated_and_corrupt_pdfs_are_refused(cut):
    raw = make_pdf([["Some words on a page."]] * 3)
    kind, reason = refused(PdfExtractor(), raw[: int(len(raw) * cut)])
    assert kind == UNREADABLE and reason.startswith("unreadable PDF (")
    assert refused(PdfExtractor(), b"%PDF-1.7\n" + bytes(range(256)) * 4)[0] == UNREADABLE


# --------------------------------------------------------------------------- DOCX


def test_docx_paragraphs_headings_and_tables_in_order():
    raw = make_docx([("h1", "Expenses"), "Receipts are needed above 25 euros.",
                     [["Item", "Limit"], ["Hotel", "120 euros"]], "After the table."])
    extracted = DocxExtractor().extract(raw)
    assert extracted.title == "Expenses"
    assert extracted.text == ("Expenses\n\nReceipts are needed above 25 euros.\n\n"
                              "Item | Limit\n\nHotel | 120 euros\n\nAfter the table.")
    assert DocxExtractor().extract(make_docx(["Body only."], title="Expense rules")).title == "Expense rules"


def test_docx_merged_cells_are_read_once():
    import io

    import docx

    document = docx.Document()
    table = document.add_table(rows=1, cols=3)
    table.cell(0, 0).text = "Hotel"
    table.cell(0, 1).merge(table.cell(0, 2)).text = "120 euros"
    out = io.BytesIO()
    document.save(out)
    assert DocxExtractor().extract(out.getvalue()).text == "Hotel | 120 euros"


def test_bad_docx_files_are_refused():
    assert refused(DocxExtractor(), b"This is not a zip.") == (
        UNREADABLE, "not a DOCX file (not a zip archive: File is not a zip file)")
    raw = make_docx(["Some text."])
    assert refused(DocxExtractor(), raw[: len(raw) // 2])[0] == UNREADABLE
    assert refused(DocxExtractor(), make_zip_bomb(300)) == (
        TOO_LARGE, "too large when unpacked (300 MB; the limit is 256 MB)")
    assert refused(DocxExtractor(), make_docx([""])) == (NO_TEXT, "no text (no words in it)")


def test_unsupported_types_are_named():
    assert extractor_for("Report.PDF").format == "pdf"
    assert extractor_for("page.htm").format == "html"
    with pytest.raises(ExtractionError) as caught:
        extractor_for("notes.pages")
    assert (caught.value.kind, str(caught.value)) == (UNSUPPORTED, "unsupported type")
