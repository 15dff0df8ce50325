import pytest

from index.analysis import sentence_offsets, split_blocks
from index.chunking import ChunkerSettings, bound_sentences, chunk_sentences
from index.documents import document_from_text
from index.prepare import analyse_documents


def test_split_blocks_strips_and_cuts_long_blocks():
    text = "  Title line \n\n\nFirst para. Second.\n\n  \n" + "word " * 50
    blocks = split_blocks(text, max_chars=60)
    pieces = [text[b.start : b.end] for b in blocks]
    assert pieces[0] == "Title line"
    assert pieces[1] == "First para. Second."
    assert all(len(p) <= 60 and p == p.strip() for p in pieces)
    assert " ".join(pieces[2:]).split() == ["word"] * 50


def test_chunks_respect_bounds_and_overlap():
    text = "One two three. Four five six. Seven eight nine. Ten eleven twelve."
    sentences = [(0, 14), (15, 29), (30, 47), (48, 66)]
    chunks = chunk_sentences("d", text, sentences, ChunkerSettings(max_words=6, max_sentences=5, overlap_sentences=1))
    assert [c.text for c in chunks] == [
        "One two three. Four five six.",
        "Four five six. Seven eight nine.",
        "Seven eight nine. Ten eleven twelve.",
    ]
    assert [(c.first_sentence, c.last_sentence) for c in chunks] == [(0, 1), (1, 2), (2, 3)]


def test_long_sentence_is_split_at_word_boundaries():
    text = "a " * 25 + "end."
    pieces = bound_sentences(text, [(0, len(text))], max_words=10)
    assert len(pieces) == 3
    assert all(len(text[s:e].split()) <= 10 for s, e in pieces)
    assert " ".join(text[s:e] for s, e in pieces).split() == text.split()


@pytest.mark.parametrize("settings", [ChunkerSettings(), ChunkerSettings(max_words=8, max_sentences=2)])
def test_every_chunk_and_sentence_slices_the_document(blank_analyzer, small_docs, settings):
    tricky = document_from_text("t.md", "Ünïcode tïtle\r\n\r\n  Émile said “hi”.  Then… he left!\n- item one\n- item two\n\n\tEnd.")
    for analysed in analyse_documents([*small_docs, tricky], blank_analyzer, settings):
        text = analysed.document.text
        for start, end in analysed.sentences:
            assert text[start:end].strip() == text[start:end] != ""
        for chunk in analysed.chunks:
            assert text[chunk.start : chunk.end] == chunk.text
            assert len(chunk.text.split()) <= settings.max_words
        # every sentence is covered by some chunk
        covered = set()
        for chunk in analysed.chunks:
            covered.update(range(chunk.first_sentence, chunk.last_sentence + 1))
        assert covered == set(range(len(analysed.sentences)))


def test_heading_line_is_its_own_sentence(blank_analyzer):
    doc = blank_analyzer("My Heading\nThe body starts here. It ends here.")
    text = doc.text
    assert [text[s:e] for s, e in sentence_offsets(doc)] == [
        "My Heading", "The body starts here.", "It ends here.",
    ]
