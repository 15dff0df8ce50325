from index.documents import load_corpus


def test_load_corpus_ids_titles_and_skips(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("\n\nFirst Title\nbody text here.\n", encoding="utf-8")
    (tmp_path / "sub" / "b.md").write_text("# Heading\n\nSome words.", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    (tmp_path / "blank.txt").write_text("   \n\t\n", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"abc\x00\x01\x02")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (tmp_path / "ignored.pdf").write_bytes(b"%PDF")

    documents, skipped = load_corpus([tmp_path])

    assert [d.doc_id for d in documents] == ["a.txt", "sub/b.md"]
    assert documents[0].title == "First Title"
    assert documents[1].title == "# Heading"
    assert len(documents[0].sha256) == 64
    reasons = {p.split("/")[-1]: r for p, r in ((s.path, s.reason) for s in skipped)}
    assert reasons == {
        "binary.txt": "binary file (contains NUL bytes)",
        "blank.txt": "empty file",
        "empty.txt": "empty file",
        "latin1.txt": "not valid UTF-8 (byte 3)",
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
