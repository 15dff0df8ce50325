import json

import numpy as np
import pytest

from index.build import build_index
from index.documents import document_from_text
from index.errors import CorpusError, IndexCorrupt, IndexMismatch, IndexNotFound
from index.load import load_index
from index.manifest import CURRENT_FILE, current_version
from tests.conftest import CountingEmbedder, FakeEmbedder


def test_build_and_load_round_trip(tmp_path, small_docs, fake_embedder, blank_analyzer):
    manifest = build_index(small_docs, tmp_path / "ix", fake_embedder, blank_analyzer)
    index = load_index(tmp_path / "ix")
    assert index.manifest.model == "fake-bow"
    assert index.manifest.dimension == 64
    assert index.manifest.normalized is True
    assert index.manifest.chunker == {"max_words": 120, "max_sentences": 5, "overlap_sentences": 1}
    assert [d["doc_id"] for d in manifest.documents] == ["harbour.txt", "orchard.md"]
    assert all(len(d["sha256"]) == 64 for d in manifest.documents)
    assert index.dense.ntotal == len(index.chunks) == manifest.num_chunks
    for chunk in index.chunks:
        assert index.document(chunk.doc_id).text[chunk.start : chunk.end] == chunk.text
    offset, doc = index.parsed_document("harbour.txt", blank_analyzer.vocab)[0]
    assert index.document("harbour.txt").text[offset : offset + len(doc.text)] == doc.text


def test_missing_index_says_how_to_build(tmp_path):
    with pytest.raises(IndexNotFound, match="qa index PATH"):
        load_index(tmp_path / "nothing")


def test_model_mismatch_is_refused(tmp_path, small_docs, fake_embedder, blank_analyzer):
    build_index(small_docs, tmp_path / "ix", fake_embedder, blank_analyzer)
    with pytest.raises(IndexMismatch, match=r"built with model 'fake-bow', not 'other-model'.*--model other-model"):
        load_index(tmp_path / "ix", model="other-model")
    assert load_index(tmp_path / "ix", model="fake-bow").manifest.model == "fake-bow"


def test_format_mismatch_is_refused(tmp_path, small_docs, fake_embedder, blank_analyzer):
    build_index(small_docs, tmp_path / "ix", fake_embedder, blank_analyzer)
    manifest_path = tmp_path / "ix" / current_version(tmp_path / "ix") / "manifest.json"
    data = json.loads(manifest_path.read_text())
    data["format_version"] = 999
    manifest_path.write_text(json.dumps(data))
    with pytest.raises(IndexMismatch, match="format version 999.*rebuild it with `qa index"):
        load_index(tmp_path / "ix")


def test_truncated_faiss_file_is_detected(tmp_path, small_docs, fake_embedder, blank_analyzer):
    build_index(small_docs, tmp_path / "ix", fake_embedder, blank_analyzer)
    path = tmp_path / "ix" / current_version(tmp_path / "ix") / "dense.faiss"
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(IndexCorrupt, match="dense.faiss does not match its manifest.*rebuild"):
        load_index(tmp_path / "ix")


def test_garbled_manifest_is_detected(tmp_path, small_docs, fake_embedder, blank_analyzer):
    build_index(small_docs, tmp_path / "ix", fake_embedder, blank_analyzer)
    (tmp_path / "ix" / current_version(tmp_path / "ix") / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorrupt, match="manifest .* unreadable"):
        load_index(tmp_path / "ix")


class ExplodingEmbedder:
    name = "fake-bow"
    dimension = 64

    def embed(self, texts, *, show_progress=False):
        raise RuntimeError("simulated crash in the middle of a build")


def test_failed_rebuild_leaves_previous_index(tmp_path, small_docs, fake_embedder, blank_analyzer):
    build_index(small_docs, tmp_path / "ix", fake_embedder, blank_analyzer)
    before = current_version(tmp_path / "ix")
    changed = [document_from_text("new.txt", "A new document about comets.")]
    with pytest.raises(RuntimeError, match="simulated crash"):
        build_index(changed, tmp_path / "ix", ExplodingEmbedder(), blank_analyzer)
    # the half-written build is still on disk, but CURRENT still names the old, complete index
    assert any(p.name.startswith(".tmp-") for p in (tmp_path / "ix").iterdir())
    assert current_version(tmp_path / "ix") == before
    assert [d.doc_id for d in load_index(tmp_path / "ix").documents] == ["harbour.txt", "orchard.md"]
    # the next build cleans it up and switches atomically
    build_index(changed, tmp_path / "ix", fake_embedder, blank_analyzer)
    names = sorted(p.name for p in (tmp_path / "ix").iterdir())
    assert names == sorted([".lock", CURRENT_FILE, "cache", current_version(tmp_path / "ix")])
    assert [d.doc_id for d in load_index(tmp_path / "ix").documents] == ["new.txt"]


def test_nothing_to_index(tmp_path, fake_embedder, blank_analyzer):
    with pytest.raises(CorpusError, match="no documents"):
        build_index([], tmp_path / "ix", fake_embedder, blank_analyzer)
    assert not (tmp_path / "ix" / CURRENT_FILE).exists()


def test_rebuild_embeds_only_new_or_changed_documents(tmp_path, small_docs, blank_analyzer):
    first = CountingEmbedder()
    build_index(small_docs, tmp_path / "ix", first, blank_analyzer)
    full = load_index(tmp_path / "ix")
    assert len(first.texts) == len(full.chunks)

    added = document_from_text("comet.txt", "Comet News\n\nA comet was seen over Eastport in May.")
    changed = document_from_text("orchard.md", small_docs[1].text + "\nThe cider press opened in June.")
    second = CountingEmbedder()
    build_index([small_docs[0], changed, added], tmp_path / "ix", second, blank_analyzer)
    index = load_index(tmp_path / "ix")
    new_chunks = [c for c in index.chunks if c.doc_id in ("comet.txt", "orchard.md")]
    assert len(second.texts) == len(new_chunks)
    assert not any("Maria Lindqvist" in t for t in second.texts)
    # vectors of the reused document are the ones computed the first time
    harbour_rows = [i for i, c in enumerate(index.chunks) if c.doc_id == "harbour.txt"]
    assert np.allclose(index.dense.reconstruct_n(0, len(harbour_rows)),
                       full.dense.reconstruct_n(0, len(harbour_rows)))
    for chunk in index.chunks:
        assert index.document(chunk.doc_id).text[chunk.start : chunk.end] == chunk.text

    # deleting a document drops it from the index and from the cache
    third = CountingEmbedder()
    build_index([added], tmp_path / "ix", third, blank_analyzer)
    assert third.texts == []
    assert [d.doc_id for d in load_index(tmp_path / "ix").documents] == ["comet.txt"]
    assert len(list((tmp_path / "ix" / "cache").glob("*.npz"))) == 1


def test_changing_the_model_does_not_reuse_vectors(tmp_path, small_docs, blank_analyzer):
    build_index(small_docs, tmp_path / "ix", CountingEmbedder(), blank_analyzer)
    other = CountingEmbedder()
    other.name = "another-fake"
    build_index(small_docs, tmp_path / "ix", other, blank_analyzer)
    assert len(other.texts) == len(load_index(tmp_path / "ix").chunks)


def test_dense_index_choice():
    from index.dense import HNSW_THRESHOLD, choose_dense_index

    assert choose_dense_index(10)["type"] == "flat"
    assert choose_dense_index(HNSW_THRESHOLD + 1)["type"] == "hnsw"
    assert choose_dense_index(10, "hnsw")["M"] == 32
    with pytest.raises(ValueError, match="unknown dense index type 'ivf'"):
        choose_dense_index(10, "ivf")


def test_hnsw_index_is_recorded_and_searchable(tmp_path, small_docs, fake_embedder, blank_analyzer):
    manifest = build_index(small_docs, tmp_path / "ix", fake_embedder, blank_analyzer, dense_index="hnsw")
    assert manifest.dense_index == {"type": "hnsw", "M": 32, "efConstruction": 80, "efSearch": 128}
    index = load_index(tmp_path / "ix")
    assert index.dense.hnsw.efSearch == 128
    query = fake_embedder.embed(["apple orchard"])
    _, ids = index.dense.search(query, 1)
    assert index.chunks[ids[0][0]].doc_id == "orchard.md"


def test_term_statistics_are_counted_at_index_time_and_survive_reuse(tmp_path, small_docs, blank_analyzer):
    """terms.json holds, per content term, the number of parsed sentences that contain it; a
    rebuild that reuses cached documents gives the same statistics as a fresh build."""
    from collections import Counter

    from index.analysis import is_content, sentence_spans, term_of

    build_index(small_docs, tmp_path / "ix", FakeEmbedder(), blank_analyzer)
    index = load_index(tmp_path / "ix")
    expected, sentences = Counter(), 0
    for document in small_docs:
        spans = sentence_spans(index.parsed_document(document.doc_id, blank_analyzer.vocab), index.sentences[document.doc_id])
        sentences += len(spans)
        for _, span in spans:
            expected.update({term_of(t) for t in span if is_content(t)})
    assert index.terms.num_sentences == sentences == sum(len(s) for s in index.sentences.values())
    assert index.terms.document_frequency == dict(expected)
    assert expected["oslo"] == 2 and expected["board"] == 2

    added = document_from_text("comet.txt", "Comet News\n\nA comet was seen over Oslo in May.")
    build_index([*small_docs, added], tmp_path / "ix", FakeEmbedder(), blank_analyzer)  # reuses two documents
    reused = load_index(tmp_path / "ix").terms
    build_index([*small_docs, added], tmp_path / "fresh", FakeEmbedder(), blank_analyzer)
    assert reused == load_index(tmp_path / "fresh").terms
    assert reused.document_frequency["oslo"] == 3


def test_phrase_lookup_finds_substrings_through_the_postings(tmp_path, small_docs, fake_embedder, blank_analyzer):
    build_index(small_docs, tmp_path / "ix", fake_embedder, blank_analyzer)
    index = load_index(tmp_path / "ix")
    assert index.phrase_occurs("maria lindqvist")
    assert index.phrase_occurs("Transport Minister")  # case does not matter
    assert index.phrase_occurs("norw")  # a word's beginning, as a substring test would find it
    assert index.phrase_occurs("thomas green")
    assert not index.phrase_occurs("green thomas")  # every word is there, the phrase is not
    assert not index.phrase_occurs("stockholm")
    assert index.phrase_occurs("the") and not index.phrase_occurs("what about the")  # stop words only: scanned

    places = index.phrase_places("Maria Lindqvist", limit=5)
    assert places and all(index.document(d).text[s:e].lower() == "maria lindqvist" for d, s, e in places)
    assert len(index.phrase_places("maria lindqvist", limit=1)) == 1
    assert index.phrase_places("green thomas") == [] and index.phrase_places("stockholm") == []
    assert index.phrase_places("") == []


def test_a_parse_that_does_not_match_the_documents_is_refused(tmp_path, small_docs, fake_embedder, blank_analyzer):
    build_index(small_docs, tmp_path / "ix", fake_embedder, blank_analyzer)
    folder = tmp_path / "ix" / current_version(tmp_path / "ix")
    np.save(folder / "analysis_offsets.npy", np.zeros(5, dtype=np.int64))
    with pytest.raises(IndexCorrupt, match="qa index"):
        load_index(tmp_path / "ix", verify=False)


def test_chunk_and_sentence_tables_read_the_arrays_on_demand(tmp_path, small_docs, fake_embedder, blank_analyzer):
    build_index(small_docs, tmp_path / "ix", fake_embedder, blank_analyzer)
    index = load_index(tmp_path / "ix")
    chunks = list(index.chunks)
    assert chunks[-1] == index.chunks[-1] and index.chunks[0:2] == chunks[0:2]
    with pytest.raises(IndexError):
        index.chunks[len(chunks)]
    assert sorted(index.sentences) == ["harbour.txt", "orchard.md"] and len(index.sentences) == 2
    for document in small_docs:
        spans = index.sentences[document.doc_id]
        assert spans is index.sentences.get(document.doc_id)  # kept while recent
        assert all(document.text[s:e].strip() == document.text[s:e] != "" for s, e in spans)
        assert [c.first_sentence for c in chunks if c.doc_id == document.doc_id][0] == 0
    assert index.sentences.get("missing.txt") is None and "missing.txt" not in index.sentences


def test_a_damaged_cache_entry_is_made_again(tmp_path, small_docs, blank_analyzer):
    build_index(small_docs, tmp_path / "ix", FakeEmbedder(), blank_analyzer)
    before = load_index(tmp_path / "ix")
    for entry in (tmp_path / "ix" / "cache").glob("*.npz"):
        entry.write_bytes(entry.read_bytes()[:100])  # truncated, as by a full disk
    build_index(small_docs, tmp_path / "ix", FakeEmbedder(), blank_analyzer)
    after = load_index(tmp_path / "ix")
    assert [c.text for c in after.chunks] == [c.text for c in before.chunks]
    assert after.terms == before.terms
    assert np.allclose(after.dense.reconstruct_n(0, after.dense.ntotal), before.dense.reconstruct_n(0, before.dense.ntotal))


def test_cache_entries_of_an_older_layout_count_as_missing(tmp_path, small_docs, blank_analyzer):
    from index.document_cache import DocumentCache

    build_index(small_docs, tmp_path / "ix", FakeEmbedder(), blank_analyzer)
    entry = next((tmp_path / "ix" / "cache").glob("*.npz"))
    with np.load(entry) as data:
        arrays = {name: data[name] for name in data.files if name != "term_text"}
    with open(entry, "wb") as handle:
        np.savez(handle, **arrays)
    cache = DocumentCache(tmp_path / "ix" / "cache", {})
    cache.folder = entry.parent
    document = next(d for d in small_docs if cache.key(d).startswith(entry.stem.split("-")[0]))
    cache.recipe_key = entry.stem.split("-", 1)[1]
    assert not cache.has(document) and cache.get(document) is None
    embedder = CountingEmbedder()
    build_index(small_docs, tmp_path / "ix", embedder, blank_analyzer)
    assert embedder.texts and all(document.title in t or t in document.text for t in embedder.texts)


def test_stored_parses_decode_as_spacy_decodes_them():
    """decode_blocks gives what DocBin.from_bytes(...).get_docs(...) gives, into the vocab that
    parsed the text and into one that has never seen its strings."""
    spacy = pytest.importorskip("spacy")
    from spacy.tokens import DocBin

    from index.analysis import SpacyAnalyzer, decode_blocks
    from index.prepare import _DOCBIN_ATTRS

    try:
        analyzer = SpacyAnalyzer()
        docs = [analyzer(text) for text in (
            "Marta Lindqvist founded the Harbor Rowing Club in 1912 in Kessbury.  It trained 40 rowers.\n\nIts "
            "boathouse stood near the old lighthouse.",
            "In 1955 a storm destroyed the boathouse; the members rebuilt it (for about $3,000).")]
    except OSError as exc:  # pragma: no cover
        pytest.skip(f"spaCy model unavailable: {exc}")
    doc_bin = DocBin(attrs=_DOCBIN_ATTRS)
    for doc in docs:
        doc_bin.add(doc)
    data = doc_bin.to_bytes()

    def described(doc):
        tokens = [(t.text, t.whitespace_, t.tag_, t.pos_, t.dep_, t.head.i, t.ent_iob_, t.ent_type_, t.lemma_,
                   t.is_sent_start, str(t.morph)) for t in doc]
        return tokens, [(e.text, e.label_) for e in doc.ents], [s.text for s in doc.sents]

    for vocab in (analyzer.vocab, spacy.blank("en").vocab):
        expected = list(DocBin().from_bytes(data).get_docs(vocab))
        decoded = decode_blocks(data, vocab)
        assert [described(d) for d in decoded] == [described(d) for d in expected]
        assert [d.text for d in decoded] == [d.text for d in docs]
    assert any(e.label_ == "PERSON" for e in decoded[0].ents)
