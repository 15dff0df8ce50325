"""A reader kept as a low-rank delta to its base model: the delta's arithmetic, the stored file
loading into the same reader (tiny MPNet, random), a base that is not the delta's refused, and the
command that writes the delta."""

from __future__ import annotations

import json
import os

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from qa.reader import SpanReader  # noqa: E402
from qa.reader.bases import MPNET, BaseModelUnavailable  # noqa: E402
from qa.reader.delta import DELTA_FILE, apply_delta, base_state, extract_delta, save_delta  # noqa: E402
from qa.reader.model import SpanQAModel, load_compact, save_compact, weights_base, weights_file  # noqa: E402
from qa.training import reader_delta  # noqa: E402


def test_a_delta_within_the_rank_is_kept_exactly_and_a_larger_one_keeps_its_largest_directions():
    g = torch.Generator().manual_seed(0)
    base = {"m": torch.randn(64, 96, generator=g), "bias": torch.zeros(64)}
    low = torch.randn(64, 2, generator=g) @ torch.randn(2, 96, generator=g)
    tuned = {"m": base["m"] + low, "bias": torch.ones(64), "head": torch.randn(2, 8, generator=g)}
    delta = extract_delta(tuned, base, rank=4)
    assert set(delta) == {"m.delta_a", "m.delta_b", "bias", "head"}  # the small and the new kept whole
    assert delta["m.delta_a"].shape == (64, 4) and delta["m.delta_b"].shape == (4, 96)
    back = apply_delta(delta, base)
    assert torch.allclose(back["m"], tuned["m"], atol=1e-4)
    assert torch.equal(back["bias"], tuned["bias"]) and torch.equal(back["head"], tuned["head"])

    big, small = torch.zeros(64, 96), torch.zeros(64, 96)
    big[0, 0], small[1, 1] = 5.0, 0.5  # two directions, one much larger
    one = apply_delta(extract_delta({"m": base["m"] + big + small}, base, rank=1), base)
    assert torch.allclose(one["m"], base["m"] + big, atol=1e-5)
    with pytest.raises(ValueError, match="rank"):
        extract_delta(tuned, base, rank=0)


@pytest.fixture()
def tuned(tiny_mpnet_dir):
    """A reader from the tiny base whose matrices moved by a rank-1 step, its head trained."""
    model = SpanQAModel.from_config_dir(tiny_mpnet_dir, pretrained=True)
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2 and p.numel() >= 4096:
                p += 0.05 * torch.randn(p.shape[0], 1, generator=g) @ torch.randn(1, p.shape[1], generator=g)
            elif name.endswith("bias"):
                p += 0.01
    return model.eval()


def test_the_stored_delta_loads_into_the_tuned_reader(tmp_path, tiny_mpnet_dir, tuned, untyped_tokenizer):
    untyped = untyped_tokenizer
    path = save_delta(tuned.state_dict(), str(tmp_path), tiny_mpnet_dir, MPNET, rank=4)
    assert os.path.basename(path) == DELTA_FILE and weights_base(str(tmp_path)) == MPNET
    assert weights_file(str(tmp_path)) == path  # what loading, training and teacher_logits read
    whole_dir = tmp_path / "whole"
    save_compact(tuned, str(whole_dir), base=MPNET)
    assert os.path.getsize(path) < os.path.getsize(whole_dir / "reader.int8.safetensors") / 2

    loaded = load_compact(str(tmp_path), tiny_mpnet_dir)
    enc = untyped(["When was the mill built?"], ["The mill was built in 1962 beside the river."], return_tensors="pt")
    with torch.no_grad():
        want, got = tuned(**enc), loaded(**enc)
    assert max((w - o).abs().max().item() for w, o in zip(want, got)) < 0.05  # int8 factors, nothing lost beyond
    passage = "The lighthouse was rebuilt in 1874 by the harbour board."
    out = SpanReader(model=loaded, tokenizer=untyped, max_seq_len=64, doc_stride=16).read(
        "When was the lighthouse rebuilt?", [passage])
    assert out.candidates and all(passage[c.start:c.end] == c.text for c in out.candidates)


def test_a_base_other_than_the_deltas_is_refused(tmp_path, tiny_mpnet_dir, tuned, tmp_path_factory):
    save_delta(tuned.state_dict(), str(tmp_path), tiny_mpnet_dir, MPNET, rank=2)
    other = tmp_path_factory.mktemp("other-base")
    torch.manual_seed(3)
    config = transformers.MPNetConfig.from_pretrained(tiny_mpnet_dir)
    transformers.MPNetModel(config, add_pooling_layer=False).save_pretrained(other, safe_serialization=True)
    with pytest.raises(BaseModelUnavailable, match="SHA-256"):
        load_compact(str(tmp_path), str(other))
    assert set(base_state(str(other))) == set(base_state(tiny_mpnet_dir))
    with pytest.raises(BaseModelUnavailable, match="no model.safetensors"):
        base_state(str(tmp_path))


def test_the_delta_command_writes_delta_recipe_and_ranker(tmp_path, tiny_mpnet_dir, tuned, monkeypatch, capsys):
    src = tmp_path / "trained"
    save_compact(tuned, str(src), base=MPNET)
    (src / "recipe.json").write_text(json.dumps({"model": "tiny", "weights_file": "reader.int8.safetensors"}))
    (src / "ranker.json").write_text("{}")
    monkeypatch.setattr(reader_delta, "base_dir", lambda name: tiny_mpnet_dir)
    assert reader_delta.main([str(src), "--out", str(tmp_path / "delta"), "--rank", "3"]) == 0
    recipe = json.loads((tmp_path / "delta" / "recipe.json").read_text())
    assert recipe["weights_file"] == DELTA_FILE and "rank-3" in recipe["weights_format"]
    assert (tmp_path / "delta" / "ranker.json").is_file()
    loaded = load_compact(str(tmp_path / "delta"), tiny_mpnet_dir)
    assert torch.allclose(loaded.qa_outputs.weight, tuned.qa_outputs.weight, atol=1e-2)

    # float weights come from the checkpoint only when it is the finished run's
    later = {k: v.clone() for k, v in tuned.state_dict().items()}
    later["qa_outputs.weight"] += 1.0
    for step, total, want in ((3, 10, tuned.qa_outputs.weight), (10, 10, later["qa_outputs.weight"])):
        torch.save({"model": later, "step": step, "total": total}, src / "checkpoint.pt")
        out = tmp_path / f"from-step-{step}"
        assert reader_delta.main([str(src), "--out", str(out), "--rank", "3"]) == 0
        assert torch.allclose(load_compact(str(out), tiny_mpnet_dir).qa_outputs.weight, want, atol=1e-2)

    (src / "reader.int8.safetensors").unlink()  # a checkpoint alone names no base: refused, not a traceback
    assert reader_delta.main([str(src), "--out", str(tmp_path / "z")]) == 2
    assert reader_delta.main([str(tmp_path / "empty"), "--out", str(tmp_path / "x")]) == 2
    assert reader_delta.main([str(src), "--out", str(tmp_path / "y"), "--rank", "0"]) == 2
    assert "no reader weights" in capsys.readouterr().err
