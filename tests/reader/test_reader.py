"""Fast tests for qa.reader (no trained weights needed except the last one)."""
import json
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from qa.reader import ReaderOutput, ReaderSpan, SpanReader, clean_span  # noqa: E402
from qa.training import data as D  # noqa: E402
from qa.reader.int8 import dequantize_state_dict, quantize_state_dict  # noqa: E402
from qa.reader.model import WEIGHTS_FILE  # noqa: E402
from qa.reader.reader import DEFAULT_WEIGHTS_DIR, decode_question, encode_pairs  # noqa: E402


@pytest.fixture(scope="module")
def tiny_reader(tokenizer, make_tiny_model):
    return SpanReader(model=make_tiny_model(), tokenizer=tokenizer, max_seq_len=64, doc_stride=16, top_n=4)


PASSAGES = [
    "The Eiffel Tower, located in Paris, was completed in 1889 (for the World's Fair).",
    "  Gustave Eiffel's company designed and built the tower; it is 330 metres tall.  ",
    "",
    "Harper Lee wrote \"To Kill a Mockingbird\", published in the U.S. in 1960. " * 12,  # > 64 tokens: windows
]


def _check_output(out, passages, top_n):
    assert isinstance(out, ReaderOutput)
    assert 0.0 <= out.no_answer_prob <= 1.0
    assert len(out.candidates) <= top_n
    total = out.no_answer_prob
    for c in out.candidates:
        assert isinstance(c, ReaderSpan)
        assert passages[c.passage_index][c.start:c.end] == c.text
        assert c.text and c.text == c.text.strip()
        assert 0.0 <= c.score <= 1.0
        total += c.score
    assert total <= 1.0 + 1e-4
    scores = [c.score for c in out.candidates]
    assert scores == sorted(scores, reverse=True)


def test_read_offsets_verbatim_and_shapes(tiny_reader):
    out = tiny_reader.read("When was the tower completed?", PASSAGES)
    _check_output(out, PASSAGES, 4)
    assert out.candidates, "random model should still propose spans"
    assert all(c.passage_index != 2 for c in out.candidates)  # empty passage skipped, indices kept


def test_sliding_window_and_passage_scores(tiny_reader):
    tiny_reader.passage_prior_weight = 1.0
    try:
        out = tiny_reader.read("Who wrote it?", PASSAGES[3:], passage_scores=[3.0], top_n=10)
    finally:
        tiny_reader.passage_prior_weight = 0.0
    _check_output(out, PASSAGES[3:], 10)


def test_no_answer_edge_cases(tiny_reader):
    assert tiny_reader.read("Anything?", []) == ReaderOutput([], 1.0)
    assert tiny_reader.read("Anything?", ["", "   "]).no_answer_prob == 1.0
    assert tiny_reader.read("   ", ["Some text."]).candidates == []


def test_decode_prefers_high_logits_and_null(tokenizer):
    passages = ["Paris is the capital of France.", "Berlin is the capital of Germany."]
    enc, sample, offsets, ctx = encode_pairs(tokenizer, ["capital of France?"] * 2, passages, 64, 16)
    F, L = enc["input_ids"].shape
    S = torch.full((F, L), -5.0)
    E = torch.full((F, L), -5.0)
    # token for "paris" in feature 0
    j = next(i for i in range(L) if ctx[0, i])
    S[0, j] = E[0, j] = 5.0
    out = decode_question(S, E, ctx, offsets, sample, passages, top_n=3)
    assert out.candidates[0].text == "Paris" and out.candidates[0].passage_index == 0
    assert out.no_answer_prob < 0.01
    S[:, 0] = E[:, 0] = 20.0  # strong no-answer at [CLS]
    out = decode_question(S, E, ctx, offsets, sample, passages, top_n=3)
    assert out.no_answer_prob > 0.99


@pytest.mark.parametrize("text,span,expected", [
    ("in 1889 (for the fair).", (0, 23), "in 1889 (for the fair)"),
    ("born in the U.S. in 1960", (8, 16), "the U.S."),
    ("the city of Paris, France", (12, 18), "Paris"),
    ('he said "hello there" loudly', (8, 14), "hello"),
    ('he said "hello there" loudly', (8, 21), '"hello there"'),
    ("(1889) was the year", (0, 5), "1889"),
    (" , ", (0, 3), ""),
])
def test_clean_span(text, span, expected):
    s, e = clean_span(text, *span)
    assert text[s:e] == expected


def test_quantize_roundtrip():
    torch.manual_seed(0)
    sd = {"lin.weight": torch.randn(64, 128), "lin.bias": torch.randn(64), "ln.weight": torch.ones(128),
          "ids": torch.arange(5)}
    q = quantize_state_dict(sd)
    assert q["lin.weight.q8"].dtype == torch.int8 and q["lin.weight.scale"].shape == (64,)
    assert q["lin.bias"].dtype == torch.float16 and q["ids"].dtype == torch.int64
    d = dequantize_state_dict(q)
    assert set(d) == set(sd)
    err = (d["lin.weight"] - sd["lin.weight"]).abs()
    bound = sd["lin.weight"].abs().amax(1, keepdim=True) / 127 / 2 + 1e-6
    assert bool((err <= bound).all())
    assert torch.allclose(d["lin.bias"], sd["lin.bias"], atol=1e-2)
    assert torch.equal(d["ids"], sd["ids"])


def test_alignment_tiny(tmp_path):
    corpus = {
        "Alpha": ["Alpha is a city founded in 1850 by settlers. The river Zed flows through it.",
                  "The Alpha festival takes place every June with music and food."],
        "Beta": ["Beta is a mountain in 1850 terms of height; climbers love its north face."],
    }
    for art, paras in corpus.items():
        os.makedirs(tmp_path / "corpus" / art)
        for i, t in enumerate(paras):
            (tmp_path / "corpus" / art / f"{i:03d}.txt").write_text(f"{art}\n\n{t}\n")
    qs = [
        {"id": "1", "question": "When was the city of Alpha founded?", "answers": ["1850"]},  # 1850 ambiguous
        {"id": "2", "question": "Which river flows through Alpha?", "answers": ["Zed"]},
        {"id": "3", "question": "Which lake flows through Alpha city?", "answers": []},  # unanswerable
        {"id": "4", "question": "When is the Alpha festival held?", "answers": ["every June"]},
        {"id": "5", "question": "What do climbers love on the mountain Beta?", "answers": ["its north face"]},
    ]
    (tmp_path / "questions.jsonl").write_text("\n".join(json.dumps(q) for q in qs) + "\n")
    paras = D.load_corpus(str(tmp_path))
    questions = D.load_questions(str(tmp_path))
    assert [p.title for p in paras] == ["Alpha", "Alpha", "Beta"]
    stats = D.align_questions(paras, questions)
    assert [q.pid for q in questions] == [0, 0, 0, 1, 2]
    assert stats["answerable_aligned_paragraph_contains_answer"] == 1.0
    for q in questions:
        if q.answers:
            t = paras[q.pid].text
            assert t[q.answer_start:q.answer_start + len(q.answers[0])] == q.answers[0]
    tr, te = D.split_by_article(questions, paras, ["Beta"])
    assert [q.qid for q in te] == ["5"] and len(tr) == 4


def test_find_answer_start_prefers_question_context():
    filler = " Nothing else of note happened in the quiet town for many years afterwards." * 4
    p = "In 1900 the bridge opened." + filler + " The museum, however, opened in 1900 after the war."
    assert D.find_answer_start(p, "1900", "When did the museum open?") == p.index("1900", 10)
    assert D.find_answer_start(p, "1900") == p.index("1900")
    assert D.find_answer_start(p, "nope", "x") == -1


def test_squad_metrics():
    from qa.evaluation import exact_match, normalize_answer, token_f1
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert exact_match("the Eiffel Tower", ["Eiffel Tower."]) == 1.0
    assert abs(token_f1("Eiffel Tower in Paris", ["the Eiffel Tower"]) - 2 * (1 * 0.5) / 1.5) < 1e-9
    assert token_f1("x", []) == 0.0


@pytest.mark.skipif(not os.path.exists(os.path.join(DEFAULT_WEIGHTS_DIR, WEIGHTS_FILE)),
                    reason="shipped reader weights not present")
def test_shipped_weights_answer():
    r = SpanReader().load()
    passages = ["Harper Lee's novel To Kill a Mockingbird was published in 1960 and won the Pulitzer Prize.",
                "The Eiffel Tower in Paris was completed in 1889."]
    out = r.read("When was the Eiffel Tower completed?", passages)
    _check_output(out, passages, r.top_n)
    assert out.best.passage_index == 1 and "1889" in out.best.text
    assert out.no_answer_prob < 0.5


def test_the_shipped_mpnet_reader_is_a_delta_to_the_packaged_base_with_its_recipe_and_ranker():
    from safetensors import safe_open

    from qa.reader.bases import MPNET, MPNET_SPLIT
    from qa.reader.reader import SHIPPED_READERS

    folder = SHIPPED_READERS["mpnet"]
    with safe_open(os.path.join(folder, "reader.delta.safetensors"), framework="pt") as f:
        meta = f.metadata()
    assert meta["base"] == MPNET and meta["base_sha256"] == MPNET_SPLIT.weights_sha256
    recipe = json.load(open(os.path.join(folder, "recipe.json")))
    assert recipe["weights_file"] == "reader.delta.safetensors" and recipe["metrics_heldout"]["gold"]["F1"] > 70
    assert os.path.getsize(os.path.join(folder, "reader.delta.safetensors")) < 20e6  # compact, in the repository
    assert json.load(open(os.path.join(folder, "ranker.json")))  # its own ranker, fitted to its scores


def _mpnet_installed() -> bool:
    """Whether the base's packages are there (looked up, not unpacked: this runs at collection)."""
    from qa.reader.bases import MPNET_SPLIT, BaseModelUnavailable, package_parts

    try:
        package_parts(MPNET_SPLIT.packages)
    except BaseModelUnavailable:
        return False
    return True


@pytest.mark.skipif(not _mpnet_installed(), reason="all-mpnet-base-v2 packages not installed")
def test_shipped_mpnet_weights_answer():
    from qa.reader.reader import SHIPPED_READERS

    r = SpanReader(SHIPPED_READERS["mpnet"]).load()
    passages = ["Harper Lee's novel To Kill a Mockingbird was published in 1960 and won the Pulitzer Prize.",
                "The Eiffel Tower in Paris was completed in 1889."]
    out = r.read("Who wrote To Kill a Mockingbird?", passages)
    _check_output(out, passages, r.top_n)
    assert out.best.passage_index == 0 and out.best.text == "Harper Lee"


def test_span_probability_scores_any_span(tokenizer):
    passages = ["Paris is the capital of France.", "Berlin is the capital of Germany."]
    enc, sample, offsets, ctx = encode_pairs(tokenizer, ["capital of France?"] * 2, passages, 64, 16)
    F, L = enc["input_ids"].shape
    S = torch.zeros((F, L))
    E = torch.zeros((F, L))
    tokens = [i for i in range(L) if ctx[0, i]]
    S[0, tokens[0]] = 4.0          # "Paris" ... "capital" gets start mass at "Paris"
    E[0, tokens[3]] = 3.0          # and end mass at "capital"
    out = decode_question(S, E, ctx, offsets, sample, passages, top_n=3)
    best = out.candidates[0]
    assert best.text == "Paris is the capital"
    assert out.span_probability(0, best.start, best.end) == pytest.approx(best.score, rel=1e-5)
    # a span the decoder did not list still gets its (smaller) probability
    other = out.span_probability(0, 0, len("Paris"))
    assert 0.0 < other < best.score
    # spans off the passage, past the longest answer, or reversed get nothing
    assert out.span_probability(5, 0, 5) == 0.0
    assert out.span_probability(0, 20, 10) == 0.0


def test_read_keeps_span_probability_indices(tiny_reader):
    out = tiny_reader.read("When was the tower completed?", PASSAGES)
    for c in out.candidates:
        assert out.span_probability(c.passage_index, c.start, c.end) > 0.0
    assert out.span_probability(2, 0, 1) == 0.0   # the empty passage was not read


def test_bf16_autocast_keeps_the_answer(tiny_reader):
    question = "When was the tower completed?"
    plain = tiny_reader.read(question, PASSAGES)
    tiny_reader.bf16 = True
    try:
        half = tiny_reader.read(question, PASSAGES)
    finally:
        tiny_reader.bf16 = False
    _check_output(half, PASSAGES, 4)
    assert half.candidates[0].text == plain.candidates[0].text
    assert half.candidates[0].score == pytest.approx(plain.candidates[0].score, abs=0.05)


def test_padding_to_a_multiple_changes_only_the_padding(tokenizer):
    """bf16 runs pad every batch to a multiple of 32 tokens (a bounded set of shapes keeps oneDNN's
    per-shape kernels, and so memory, bounded); the real tokens and their offsets are unchanged."""
    passages = ["Paris is the capital of France.", "Berlin is the capital of Germany and its largest city."]
    plain = encode_pairs(tokenizer, ["capital of France?"] * 2, passages, 64, 16)
    padded = encode_pairs(tokenizer, ["capital of France?"] * 2, passages, 64, 16, pad_to_multiple_of=32)
    length = plain[0]["input_ids"].shape[1]
    assert padded[0]["input_ids"].shape[1] == 32 and length < 32
    assert torch.equal(padded[0]["input_ids"][:, :length], plain[0]["input_ids"])
    assert int(padded[0]["attention_mask"].sum()) == int(plain[0]["attention_mask"].sum())
    assert torch.equal(padded[3][:, :length], plain[3]) and not padded[3][:, length:].any()
    assert padded[1] == plain[1] and torch.equal(padded[2][:, :length], plain[2])


def test_sentence_embedder_pads_to_a_multiple_under_bf16():
    from index.embedding import _pad_to_multiple

    class TextModule:
        processing_kwargs = {"text": {"truncation": "longest_first"}, "common": {}}

    class Pooling:  # no processing options: left alone
        pass

    modules = [TextModule(), Pooling()]
    _pad_to_multiple(modules, 32)
    assert modules[0].processing_kwargs == {"text": {"truncation": "longest_first", "pad_to_multiple_of": 32},
                                            "common": {}}
    assert not hasattr(modules[1], "processing_kwargs")


def test_a_smaller_reader_keeps_the_base_models_first_layers(tmp_path):
    from qa.reader.model import SpanQAModel, encoder_layers, load_compact, save_compact

    full = SpanQAModel.from_config_dir()
    small = SpanQAModel.from_config_dir(layers=2)
    assert len(small.encoder.encoder.layer) == 2 and small.encoder.config.num_hidden_layers == 2
    full_sd, small_sd = full.state_dict(), small.state_dict()
    assert encoder_layers(full_sd) == 6 and encoder_layers(small_sd) == 2
    for k in ("encoder.encoder.layer.1.output.dense.weight", "encoder.embeddings.word_embeddings.weight"):
        assert torch.equal(small_sd[k], full_sd[k])
    # the compact file needs no note of its size: loading counts the layers it holds
    loaded = load_compact(save_compact(small, str(tmp_path)))
    assert len(loaded.encoder.encoder.layer) == 2
    with pytest.raises(ValueError, match="between 1 and 6"):
        SpanQAModel.from_config_dir(pretrained=False, layers=7)


def test_attention_dropout_can_be_set_for_training():
    from transformers.models.bert.modeling_bert import BertSelfAttention

    from qa.reader.model import SpanQAModel

    def attention_dropouts(model):
        return {m.dropout.p for m in model.modules() if isinstance(m, BertSelfAttention)}

    assert attention_dropouts(SpanQAModel.from_config_dir(pretrained=False)) == {0.1}
    off = SpanQAModel.from_config_dir(pretrained=False, attention_dropout=0.0)
    assert attention_dropouts(off) == {0.0} and off.encoder.config.hidden_dropout_prob == 0.1
