"""Question analysis with the real small spaCy model: wh-word, answer type, terms, focus verb."""

from __future__ import annotations

import pytest

from index.analysis import SpacyAnalyzer
from qa.question import (
    DATE,
    DESCRIPTION,
    LOCATION,
    MANNER,
    NUMBER,
    PERSON,
    POSSESSOR,
    REASON,
    THING,
    analyze_question,
    head_noun_type,
    is_person_noun,
)


@pytest.fixture(scope="module")
def nlp():
    return SpacyAnalyzer().nlp


@pytest.mark.parametrize(
    "question, wh_word, answer_type",
    [
        ("Who chairs the harbour board?", "who", PERSON),
        ("Whom did the board elect?", "whom", PERSON),
        ("Whose tree is the oldest?", "whose", POSSESSOR),
        ("Where will she speak next month?", "where", LOCATION),
        ("When was she elected?", "when", DATE),
        ("How many varieties does the orchard grow?", "how many", NUMBER),
        ("How much will the terminal cost?", "how much", NUMBER),
        ("Why was the harvest smaller?", "why", REASON),
        ("How did the board describe the plan?", "how", MANNER),
        ("What did the board discuss?", "what", THING),
        ("Which city will she visit?", "which", LOCATION),
        ("In which year was the tree planted?", "which", DATE),
        ("Which minister will she meet?", "which", PERSON),
    ],
)
def test_wh_word_and_answer_type(nlp, question, wh_word, answer_type):
    analysis = analyze_question(nlp(question))
    assert (analysis.wh_word, analysis.answer_type) == (wh_word, answer_type)


def test_who_is_a_name_asks_for_a_description(nlp):
    analysis = analyze_question(nlp("Who is Maria Lindqvist?"))
    assert analysis.answer_type == DESCRIPTION
    assert analysis.target == "Maria Lindqvist"


def test_who_is_a_role_asks_for_a_person(nlp):
    analysis = analyze_question(nlp("Who is the mayor of Eastport?"))
    assert analysis.answer_type == PERSON
    assert analysis.target is None


def test_content_terms_focus_verb_and_entities(nlp):
    analysis = analyze_question(nlp("When did Maria Lindqvist open the new ferry terminal?"))
    assert analysis.content_lemmas == ("maria", "lindqvist", "open", "new", "ferry", "terminal")
    assert analysis.focus_verb == "open"
    assert analysis.entities == ("Maria Lindqvist",)
    assert analysis.people == ("Maria Lindqvist",)


def test_the_wh_phrase_is_not_an_entity_of_the_question(nlp):
    # the small model tags "what year" as a DATE; it is what is asked, not something the text must contain
    analysis = analyze_question(nlp("In what year was Maria Lindqvist elected?"))
    assert analysis.entities == ("Maria Lindqvist",)
    assert analysis.head_noun == "year"


def test_head_noun_is_left_out_of_content_terms(nlp):
    analysis = analyze_question(nlp("Which country hosted the talks?"))
    assert analysis.head_noun == "country"
    assert "country" not in analysis.content_lemmas


def test_name_of_a_role_asks_for_a_person(nlp):
    analysis = analyze_question(nlp("What is the name of the harbour director?"))
    assert analysis.answer_type == PERSON


def test_describe_questions_want_wording(nlp):
    assert analyze_question(nlp("How did the mayor describe the terminal?")).wants_wording
    assert not analyze_question(nlp("How did the mayor pay for the terminal?")).wants_wording


def test_head_noun_types_and_person_nouns():
    assert head_noun_type("country") == LOCATION
    assert head_noun_type("year") == DATE
    assert head_noun_type("percentage") == NUMBER
    assert head_noun_type("negotiator") == PERSON
    assert head_noun_type("proposal") == THING
    assert is_person_noun("photographer")
    assert not is_person_noun("agreement")


@pytest.mark.parametrize(
    "question, options",
    [
        ("Which hall is larger, the east hall or the west hall?", [{"east", "hall"}, {"west", "hall"}]),
        ("Were the ferry tickets cheap or expensive?", [{"cheap"}, {"expensive"}]),
        ("Did the council repair or replace the old bridge?", [{"repair"}, {"replace"}]),
        ("What did the guests find rude or boring?", []),  # what is asked about, not a choice
        ("How many members are 65 or older?", []),
        ("Who painted the mural?", []),
    ],
)
def test_the_options_of_a_choice_question(nlp, question, options):
    assert [set(o) for o in analyze_question(nlp(question)).alternatives] == options


@pytest.mark.parametrize(
    "question, verb",
    [
        ("What did the council announce on Monday?", "announce"),
        ("What did the inspectors report?", "report"),
        ("What did the mayor say about the bridge?", "say"),
        ("What did he say the firm had bought?", None),  # "what" is the object of "bought"
        ("What kind of boat did she build?", None),  # "what" asks for a kind, not the whole object
        ("What opened in 1931?", None),  # the subject, not an object
        ("Who wrote the report?", None),
    ],
)
def test_the_verb_a_bare_what_is_the_object_of(nlp, question, verb):
    assert analyze_question(nlp(question)).content_of == verb
