"""Dimensions of what a question measures and of what a span measures (real spaCy parses)."""

from __future__ import annotations

import pytest

from index.analysis import SpacyAnalyzer
from qa.question import analyze_question
from qa.units import MASS, MONEY, POWER, TIME, conflicts, question_dimensions, span_dimensions


@pytest.fixture(scope="module")
def nlp():
    return SpacyAnalyzer().nlp


@pytest.mark.parametrize("question, expected", [
    ("What wattage does the heater draw?", {"power"}),
    ("What is the weight of the lantern?", {"mass"}),
    ("How heavy is the lantern?", {"mass"}),
    ("How much does the lantern cost?", {"money"}),
    ("How much does the lantern weigh?", {"mass"}),
    ("How tall is the lighthouse?", {"length"}),
    ("At what temperature is the glaze fired?", {"temperature"}),
    ("How large is the reserve in hectares?", {"area"}),
    ("What was the length of the strike?", {"length", "time"}),  # a length of time too
    ("How fast is the chip?", {"speed", "frequency"}),
    # nothing named outright: no constraint
    ("How long is the guarantee?", set()),
    ("How far is the village from the coast?", set()),
    ("How much time do pupils spend on homework?", set()),  # "how much time", not money
    ("Which weight class did the boxer fight in?", set()),  # the noun describes another
    ("What is the land mass of the island?", set()),  # a compound makes it another thing
    ("What did the minister say the budget was below?", set()),  # a clause's subject, not what is asked
    ("How many miles long is the canal?", set()),
    ("What is the average wind speed in miles per hour?", {"speed"}),  # a rate names no length
    ("In modern day, how much do farmers depend on tourism?", set()),
])
def test_what_a_question_measures(nlp, question, expected):
    assert question_dimensions(nlp(question)) == frozenset(expected)
    assert analyze_question(nlp(question)).dimensions == frozenset(expected)


SENTENCE = ("The lantern weighs 2.5 kg, draws 40 W, costs $80 and burns for a month. Its 1.2 litre tank lasts "
            "ten hours. The boat reached 30 kilometres an hour, or 40 km/h, over 200 square metres of water. "
            "Sales rose 20% with a degree of luck.")


@pytest.mark.parametrize("span, expected", [
    ("2.5 kg", {MASS}), ("40 W", {POWER}), ("$80", {MONEY}), ("a month", {TIME}), ("ten hours", {TIME}),
    ("1.2", {"volume"}),  # the unit governs the number from outside the span
    ("1.2 litre tank", {"volume"}),
    ("30 kilometres an hour", set()), ("40 km/h", set()),  # rates
    ("200 square metres", set()),  # an area, not a length
    ("20%", set()),  # a share answers a question of any quantity
    ("a degree of luck", set()),  # a word of two dimensions is no measure without a number
    ("The lantern", set()),
])
def test_what_a_span_measures(nlp, span, expected):
    doc = nlp(SENTENCE)
    start = SENTENCE.index(span)
    assert span_dimensions(doc.char_span(start, start + len(span), alignment_mode="expand")) == frozenset(expected)


def test_only_plain_disagreement_conflicts():
    assert conflicts(frozenset({POWER}), frozenset({"volume"}))
    assert not conflicts(frozenset({POWER}), frozenset({POWER, MONEY}))
    assert not conflicts(frozenset(), frozenset({"volume"}))  # the question names nothing
    assert not conflicts(frozenset({POWER}), frozenset())  # the span has no unit
    assert not conflicts(frozenset({MASS, MONEY}), frozenset({MONEY}))


@pytest.mark.parametrize("question, expected", [
    ("How long is the canal in kilometres?", {"length"}),
    ("In degrees Celsius, what was the coldest night?", {"temperature"}),
    ("Which runner came in second at the regatta?", set()),  # a place, not a unit
])
def test_the_unit_an_answer_is_asked_in(nlp, question, expected):
    assert question_dimensions(nlp(question)) == frozenset(expected)
