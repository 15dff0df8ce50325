from index.documents import load_corpus


def test_load_corpus_ids_titles_and_skips(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("\n\nFirst Title\nbody text here.\n", encoding="utf-8")
    (tmp_path / "sub" / "b.md").write_text("# Heading\n\nSome words.", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    (tmp_path / "blank.txt").write_text("   \n\t\n", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"abc\x00\x01\x02")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF")
    (tmp_path / "notes.pages").write_bytes(b"PK\x03\x04")

    documents, skipped = load_corpus([tmp_path])

    assert [d.doc_id for d in documents] == ["a.txt", "latin1.txt", "sub/b.md"]
    assert documents[0].title == "First Title"
    assert documents[1].text == "caf\u00e9 cr\u00e8me" and documents[1].format == "text"
    assert documents[2].title == "Heading" and documents[2].text == "Heading\n\nSome words."
    assert len(documents[0].sha256) == 64
    reasons = {p.split("/")[-1]: (r, k) for p, r, k in ((s.path, s.reason, s.kind) for s in skipped)}
    assert reasons == {
        "binary.txt": ("binary file (contains NUL bytes)", "unreadable"),
        "blank.txt": ("empty file", "no text"),
        "broken.pdf": ("unreadable PDF (PdfStreamError: Stream has ended unexpectedly)", "unreadable"),
        "empty.txt": ("empty file", "no text"),
        "notes.pages": ("unsupported type", "unsupported type"),
    }


def test_symlink_loop_is_reported_not_followed_forever(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_text("Hello there.", encoding="utf-8")
    (tmp_path / "d" / "loop").symlink_to(tmp_path / "d")
    documents, skipped = load_corpus([tmp_path])
    assert [d.doc_id for d in documents] == ["d/x.txt"]
    assert any("symlink loop" in s.reason for s in skipped)


def test_stable_ids_across_runs(tmp_path):
    (tmp_path / "a.txt").write_text("Alpha.", encoding="utf-8")
    first, _ = load_corpus([tmp_path])
    second, _ = load_corpus([tmp_path])
    assert [(d.doc_id, d.sha256) for d in first] == [(d.doc_id, d.sha256) for d in second]
