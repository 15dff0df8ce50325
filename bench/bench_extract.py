"""Extraction throughput next to the embedder's: a generated 300-page PDF and 1,000 generated HTML pages.

Usage:
    python bench/bench_extract.py [--pages 300] [--html 1000] [--sample 20] [--no-embed]

Extraction is timed through ``load_corpus`` (reading, hashing and extracting the files, as
``qa index`` does). The embedder (all-MiniLM-L6-v2) is timed on the same text cut into chunk-sized
windows (120 words) for the first ``--sample`` pages and documents, so both rates are in pages
(or documents) per second. pypdfium2 and PyMuPDF are timed on the same PDF when installed (text
only, without our page handling), for comparison. Needs fpdf2 (the ``test`` extra).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.documents import load_corpus  # noqa: E402

WORDS = ("the harbour board approved a new ferry terminal after long debate about costs schedule while residents asked "
         "questions about noise traffic jobs museum opened in spring with exhibitions on shipping fishing and trade "
         "employees receive paid leave travel allowance expense claims must include receipts committee chaired by "
         "council budget million euros kilometres north south river bridge school hospital library").split()


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 22))).capitalize() + "."


def paragraph(rng: random.Random, sentences: int = 5) -> str:
    return " ".join(sentence(rng) for _ in range(sentences))


def make_pdf(path: Path, pages: int, rng: random.Random) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for number in range(pages):
        pdf.add_page()
        pdf.set_font("Helvetica", style="B", size=13)
        pdf.multi_cell(0, 6, f"Section {number + 1}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        for _ in range(4):  # about 450 words: a page of a report
            pdf.multi_cell(0, 5, paragraph(rng), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    pdf.output(str(path))


def make_html(folder: Path, count: int, rng: random.Random) -> None:
    folder.mkdir()
    for number in range(count):
        rows = "".join(f"<tr><td>{rng.choice(WORDS)}</td><td>{rng.randint(1, 999)}</td></tr>" for _ in range(5))
        body = "".join(f"<p>{paragraph(rng)}</p>" for _ in range(4))
        (folder / f"page-{number:04d}.html").write_text(
            f"<!doctype html><html><head><title>Page {number}</title><style>body {{ margin: 0 }}</style>"
            f"<script>var analytics = {number};</script></head><body>"
            "<nav><a href='/'>Home</a> <a href='/news'>News</a> <a href='/about'>About</a></nav>"
            f"<main><h1>Page {number}</h1>{body}<ul><li>{sentence(rng)}</li><li>{sentence(rng)}</li></ul>"
            f"<table>{rows}</table></main><footer>Contact us</footer></body></html>", encoding="utf-8")


def windows(text: str, words: int = 120) -> list[str]:
    tokens = text.split()
    return [" ".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]


def timed(function):
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--html", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=20, help="pages and documents the embedder is timed on")
    parser.add_argument("--no-embed", action="store_true")
    args = parser.parse_args(argv)
    rng = random.Random(0)
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-extract-") as scratch:
        root = Path(scratch)
        make_pdf(root / "report.pdf", args.pages, rng)
        make_html(root / "site", args.html, rng)

        (documents, skipped), seconds = timed(lambda: load_corpus([root / "report.pdf"]))
        assert not skipped and len(documents[0].pages) == args.pages, skipped
        pdf = documents[0]
        rows.append((f"PDF, pypdf + page handling ({args.pages} pages)", args.pages / seconds, "pages/s"))
        raw = (root / "report.pdf").read_bytes()
        try:
            import pypdfium2

            def pdfium() -> None:
                document = pypdfium2.PdfDocument(raw)
                for page in document:
                    page.get_textpage().get_text_bounded()

            rows.append(("PDF, pypdfium2 text only", args.pages / timed(pdfium)[1], "pages/s"))
        except ImportError:
            pass
        try:
            import pymupdf

            rows.append(("PDF, PyMuPDF text only",
                         args.pages / timed(lambda: [p.get_text() for p in pymupdf.open(stream=raw)])[1], "pages/s"))
        except ImportError:
            pass

        (pages, skipped), seconds = timed(lambda: load_corpus([root / "site"]))
        assert not skipped and len(pages) == args.html, skipped
        rows.append((f"HTML, lxml ({args.html} pages)", args.html / seconds, "documents/s"))

        if not args.no_embed:
            from index.embedding import DEFAULT_MODEL, SentenceTransformerEmbedder

            embedder = SentenceTransformerEmbedder(DEFAULT_MODEL)
            embedder.embed(["warm up"])
            bounds = list(pdf.pages) + [len(pdf.text)]
            pdf_texts = [w for k in range(args.sample) for w in windows(pdf.text[bounds[k] : bounds[k + 1]])]
            rows.append((f"embedder on the PDF's chunks ({len(pdf_texts)} chunks)",
                         args.sample / timed(lambda: embedder.embed(pdf_texts))[1], "pages/s"))
            html_texts = [w for d in pages[: args.sample] for w in windows(d.text)]
            rows.append((f"embedder on the HTML chunks ({len(html_texts)} chunks)",
                         args.sample / timed(lambda: embedder.embed(html_texts))[1], "documents/s"))
    width = max(len(name) for name, _, _ in rows)
    for name, rate, unit in rows:
        print(f"{name:<{width}}  {rate:9.1f} {unit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
