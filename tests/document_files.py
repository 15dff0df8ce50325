"""Small document files of each format, made in the test that reads them (nothing is checked in)."""

from __future__ import annotations

import io
import zipfile


def make_pdf(pages: list[list[str]], title: str | None = None, *, user_password: str | None = None,
             owner_password: str | None = None) -> bytes:
    """A PDF with a text layer: one page per item, each paragraph a ``multi_cell``.

    Args:
        pages: the paragraphs of each page.
        title: the document information title.
        user_password, owner_password: encrypt it (AES-256); an empty user password opens anywhere.
    """
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    if title:
        pdf.set_title(title)
    for paragraphs in pages:
        pdf.add_page()
        for paragraph in paragraphs:
            pdf.multi_cell(0, 5, paragraph)
            pdf.ln(4)
    raw = bytes(pdf.output())
    if user_password is None and owner_password is None:
        return raw
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(raw)))
    writer.encrypt(user_password or "", owner_password=owner_password, algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(blocks: list, title: str | None = None) -> bytes:
    """A DOCX of headings (``("h1", text)``), paragraphs (a str) and tables (a list of rows).

    Args:
        blocks: in document order.
        title: the core ``title`` property.
    """
    import docx

    document = docx.Document()
    for block in blocks:
        if isinstance(block, tuple):
            document.add_heading(block[1], int(block[0][1]))
        elif isinstance(block, list):
            table = document.add_table(rows=len(block), cols=len(block[0]))
            for r, row in enumerate(block):
                for c, value in enumerate(row):
                    table.cell(r, c).text = value
        else:
            document.add_paragraph(block)
    if title:
        document.core_properties.title = title
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_zip_bomb(unpacked_mb: int) -> bytes:
    """A zip shaped like a DOCX whose one large part unpacks to ``unpacked_mb`` MB of zeros (about
    ``unpacked_mb`` KB packed)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
        with archive.open("word/media/zeros.bin", "w", force_zip64=True) as handle:
            block = bytes(1 << 20)
            for _ in range(unpacked_mb):
                handle.write(block)
    return out.getvalue()
