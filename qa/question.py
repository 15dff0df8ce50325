"""Question analysis: wh-word, expected answer type, content terms and focus verb.

Everything here is a pure function of a parsed question (a spaCy ``Doc``), so the
extractive answerer and a learned reader can share it. No lexicon of a particular
corpus is used: answer types come from the wh-word, the head noun after
"which"/"what" and a few suffix rules for nouns that name people.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from index.analysis import is_content, term_of  # noqa: F401  (re-exported: the answerer uses them)
from qa.units import question_dimensions

# Answer types.
PERSON = "PERSON"  # who / whom / which official
DESCRIPTION = "DESCRIPTION"  # "Who is <name>?": a role, title or appositive
LOCATION = "LOCATION"
DATE = "DATE"
NUMBER = "NUMBER"
ORGANIZATION = "ORGANIZATION"
REASON = "REASON"  # why: a clause
MANNER = "MANNER"  # how (did X do / describe): a clause, adjective or quoted word
POSSESSOR = "POSSESSOR"  # whose
THING = "THING"  # what / which, anything nominal

#: spaCy entity labels that satisfy each answer type (empty: no entity needed).
TYPE_LABELS: dict[str, frozenset[str]] = {
    PERSON: frozenset({"PERSON", "ORG", "NORP"}),
    DESCRIPTION: frozenset(),
    LOCATION: frozenset({"GPE", "LOC", "FAC", "NORP"}),
    DATE: frozenset({"DATE", "TIME"}),
    NUMBER: frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT", "ORDINAL"}),
    ORGANIZATION: frozenset({"ORG", "NORP", "GPE"}),
    REASON: frozenset(),
    MANNER: frozenset(),
    POSSESSOR: frozenset({"PERSON", "ORG", "NORP", "GPE"}),
    THING: frozenset(),
}

#: Types whose answer must carry one of the labels above (or a number) to be acceptable.
STRICT_TYPES = frozenset({DATE, NUMBER})

_WH_WORDS = {"who", "whom", "whose", "what", "which", "where", "when", "why", "how"}

# Head nouns after "which"/"what" mapped to an answer type. These are general English
# words for kinds of things, not names from any corpus.
_HEAD_TYPES: dict[str, str] = {}
for _word in ("country", "nation", "state", "city", "town", "region", "province", "place", "capital",
              "continent", "area", "location", "village", "district", "territory", "county", "island",
              "river", "mountain", "street", "neighborhood", "neighbourhood", "port", "site"):
    _HEAD_TYPES[_word] = LOCATION
for _word in ("year", "date", "day", "month", "time", "century", "decade", "period", "era", "season",
              "week", "morning", "evening", "night", "hour"):
    _HEAD_TYPES[_word] = DATE
for _word in ("number", "amount", "percentage", "percent", "cost", "price", "size", "population",
              "total", "count", "age", "distance", "length", "height", "weight", "rate", "sum"):
    _HEAD_TYPES[_word] = NUMBER
for _word in ("company", "organization", "organisation", "party", "team", "agency", "group", "firm",
              "institution", "university", "school", "newspaper", "club", "band", "union", "network",
              "ministry", "department", "government", "body", "committee", "council", "label"):
    _HEAD_TYPES[_word] = ORGANIZATION
for _word in ("person", "man", "woman", "official", "leader", "president", "minister", "envoy", "aide",
              "adviser", "advisor", "spokesman", "spokeswoman", "spokesperson", "member", "author",
              "actor", "actress", "singer", "king", "queen", "emperor", "general", "chief", "head",
              "director", "composer", "artist", "player", "politician", "scientist", "character",
              "chair", "chairman", "secretary", "diplomat", "negotiator", "representative", "people",
              "individual", "figure", "candidate", "senator", "governor", "mayor", "judge", "officer",
              "ruler", "emperor", "pope", "priest", "monk", "student", "teacher", "doctor", "child"):
    _HEAD_TYPES[_word] = PERSON
_PERSON_SUFFIXES = ("er", "or", "ist", "ian", "ant", "ent", "ee")
#: Nouns ending like agent nouns that are not people.
_NOT_PEOPLE = {"number", "order", "letter", "paper", "matter", "center", "centre", "border", "chapter",
               "water", "power", "water", "war", "percent", "event", "element", "agreement", "government",
               "statement", "document", "comment", "moment", "development", "movement", "content",
               "extent", "payment", "treatment", "environment", "argument", "department", "parliament",
               "plant", "grant", "variant", "restaurant", "talent", "component", "segment", "tournament"}

#: Words that talk about the question or the text rather than the world.
META_WORDS = frozenset({"article", "text", "document", "passage", "report", "story", "name", "kind", "type",
                        "sort", "word", "term", "mention", "mentioned", "according", "exactly", "else", "also"})
#: Verbs too light to count as the focus of a question.
LIGHT_VERBS = frozenset({"be", "do", "have", "get", "make", "take", "happen", "call", "use", "mean", "name"})
_DESCRIBE_VERBS = frozenset({"describe", "call", "characterize", "characterise", "label", "term", "dub", "refer"})
_QUANTITY_ADJECTIVES = {"many": NUMBER, "much": NUMBER, "long": NUMBER, "old": NUMBER, "far": NUMBER,
                        "large": NUMBER, "big": NUMBER, "tall": NUMBER, "high": NUMBER, "often": NUMBER,
                        "deep": NUMBER, "wide": NUMBER, "heavy": NUMBER, "small": NUMBER, "fast": NUMBER}


@dataclass(frozen=True)
class QuestionAnalysis:
    """What a question asks for.

    Attributes:
        text: the question.
        wh_word: "who", "whom", "whose", "what", "which", "where", "when", "why", "how",
            "how many", "how much" ... or ``None`` for yes/no and imperative questions.
        answer_type: one of the type constants of this module.
        labels: spaCy entity labels that satisfy the type (empty: any span).
        head_noun: lemma of the noun the wh-word modifies ("which *country*"), if any.
        content_lemmas: lower-case lemmas of the content words, wh-words and meta words left out.
        content_words: the same words as written, lower-cased (a second chance when a small
            tagger lemmatises a word wrongly).
        entities: named entities of the question, as written.
        people: the entities that are people's names (PERSON) or single proper nouns.
        focus_verb: lemma of the main non-light verb, if any.
        wh_role: dependency label of the wh-phrase in the question ("nsubj", "dobj", "pobj", ...).
        target: for "Who is <name>?", the name being asked about.
        wants_wording: the question asks how something was described / what word was used.
        alternatives: the content terms of each option of a choice the question offers ("...,
            the east hall or the west hall?", "Did she foster or avoid ...?"); empty if none.
        content_of: lemma of the verb whose whole object a bare "what" is ("What did the
            mayor announce?"): what it asks for can be a clause ("... announced that X"), not
            only a thing; ``None`` otherwise (also when the question gives the verb a clause of
            its own: "What did he say the firm had bought?").
        dimensions: what the question measures, when a word names it ("what wattage" -> power,
            "how heavy" -> mass; :mod:`qa.units`); empty otherwise.
    """

    text: str
    wh_word: str | None
    answer_type: str
    labels: frozenset[str]
    head_noun: str | None = None
    content_lemmas: tuple[str, ...] = ()
    content_words: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    focus_verb: str | None = None
    wh_role: str | None = None
    target: str | None = None
    wants_wording: bool = False
    proper_terms: tuple[str, ...] = field(default=())
    alternatives: tuple[frozenset[str], ...] = ()
    content_of: str | None = None
    dimensions: frozenset[str] = frozenset()


def is_person_noun(lemma: str) -> bool:
    """Heuristic for nouns naming people: a known role word or an agent-noun suffix."""
    if _HEAD_TYPES.get(lemma) == PERSON:
        return True
    return lemma not in _NOT_PEOPLE and len(lemma) > 4 and lemma.endswith(_PERSON_SUFFIXES)


def head_noun_type(lemma: str) -> str:
    """Answer type implied by the noun after "which"/"what" ("which country" → LOCATION)."""
    if lemma in _HEAD_TYPES:
        return _HEAD_TYPES[lemma]
    if is_person_noun(lemma):
        return PERSON
    return THING


def _wh_token(doc):
    for token in doc:
        if token.lower_ in _WH_WORDS:
            return token
    return None


def _wh_head_noun(wh) -> object | None:
    """The noun a determiner-like wh-word modifies: "which *country*", "whose *position*"."""
    if wh.dep_ in {"det", "poss"} and wh.head.pos_ in {"NOUN", "PROPN"}:
        return wh.head
    # Small models sometimes attach "which" elsewhere; take the next noun right after it.
    nxt = wh.doc[wh.i + 1] if wh.i + 1 < len(wh.doc) else None
    if nxt is not None and nxt.pos_ in {"NOUN", "PROPN"}:
        return nxt
    if nxt is not None and nxt.pos_ == "ADJ" and wh.i + 2 < len(wh.doc) and wh.doc[wh.i + 2].pos_ == "NOUN":
        return wh.doc[wh.i + 2]
    return None


def _name_of(wh) -> object | None:
    """For "What is the name of <noun> ...?", the noun being named."""
    doc = wh.doc
    for token in doc[wh.i + 1 :]:
        if token.lemma_.lower() == "name" and token.pos_ == "NOUN":
            for prep in token.children:
                if prep.dep_ == "prep" and prep.lower_ == "of":
                    objects = [c for c in prep.children if c.dep_ == "pobj"]
                    if objects:
                        return objects[0]
    return None


def _focus_verb(doc, wh) -> object | None:
    verbs = [t for t in doc if t.pos_ == "VERB" and t.dep_ not in {"aux", "auxpass"} and t.tag_ != "MD"
             and t.lemma_.lower() not in LIGHT_VERBS]
    if not verbs:
        return None
    # Prefer the verb closest to the root (the main predicate).
    def depth(token):
        d = 0
        while token.head.i != token.i and d < 50:
            token = token.head
            d += 1
        return d

    return min(verbs, key=lambda t: (depth(t), t.i))


def _who_is_target(doc, wh) -> str | None:
    """For "Who is/was <name>?", the name (a proper noun phrase), else ``None``."""
    if wh.lower_ != "who" or wh.i + 1 >= len(doc) or doc[wh.i + 1].lemma_ != "be":
        return None
    rest = [t for t in doc[wh.i + 2 :] if not t.is_punct]
    if not rest or not all(t.pos_ == "PROPN" or t.ent_type_ in {"PERSON", "ORG"} for t in rest):
        return None
    return doc[rest[0].i : rest[-1].i + 1].text


def analyze_question(doc) -> QuestionAnalysis:
    """Analyse a parsed question.

    Args:
        doc: the question parsed by the same spaCy pipeline the index was analysed with.

    Returns:
        The question's wh-word, expected answer type, content terms and focus verb.
    """
    text = doc.text.strip()
    wh = _wh_token(doc)
    wh_word = wh.lower_ if wh is not None else None
    answer_type = THING
    head = None
    target = None
    wants_wording = False
    excluded: set[int] = set()
    if wh is not None:
        excluded.add(wh.i)
        head = _wh_head_noun(wh) if wh_word in {"which", "what", "whose"} else None
        if wh_word in {"who", "whom"}:
            answer_type = PERSON
            target = _who_is_target(doc, wh)
            if target is not None:
                answer_type = DESCRIPTION
        elif wh_word == "whose":
            answer_type = POSSESSOR
        elif wh_word == "where":
            answer_type = LOCATION
        elif wh_word == "when":
            answer_type = DATE
        elif wh_word == "why":
            answer_type = REASON
        elif wh_word == "how":
            nxt = doc[wh.i + 1] if wh.i + 1 < len(doc) else None
            if nxt is not None and nxt.lower_ in _QUANTITY_ADJECTIVES:
                answer_type = NUMBER
                wh_word = f"how {nxt.lower_}"
                excluded.add(nxt.i)
                if nxt.lower_ == "long" and any(t.lower_ in {"ago", "since"} for t in doc):
                    answer_type = DATE
            else:
                answer_type = MANNER
        elif head is not None:
            answer_type = head_noun_type(head.lemma_.lower())
        elif wh_word == "what":
            named = _name_of(wh)
            if named is not None:
                head = named
                answer_type = head_noun_type(named.lemma_.lower())
        if head is not None and answer_type not in {POSSESSOR}:
            excluded.add(head.i)
        if answer_type == THING and head is not None and head.lemma_.lower() in {"word", "term", "phrase", "adjective"}:
            wants_wording = True
    focus = _focus_verb(doc, wh)
    if focus is not None and focus.lemma_.lower() in _DESCRIBE_VERBS:
        wants_wording = True
    content, words = [], []
    for token in doc:
        if token.i in excluded or not is_content(token) or token.lower_ in _WH_WORDS:
            continue
        term = term_of(token)
        if term in META_WORDS or term in content:
            continue
        content.append(term)
        words.append(token.lower_)
    proper = tuple(term_of(t) for t in doc if t.pos_ == "PROPN" and t.i not in excluded)
    return QuestionAnalysis(
        text=text,
        wh_word=wh_word,
        answer_type=answer_type,
        labels=TYPE_LABELS[answer_type],
        head_noun=head.lemma_.lower() if head is not None else None,
        content_lemmas=tuple(content),
        content_words=tuple(words),
        entities=tuple(e.text for e in doc.ents if e.label_ not in {"CARDINAL", "ORDINAL"}
                       and not any(t.lower_ in _WH_WORDS for t in e)),  # "what year" is the question, not a name
        people=tuple(e.text for e in doc.ents if e.label_ == "PERSON"),
        focus_verb=focus.lemma_.lower() if focus is not None else None,
        wh_role=_wh_role(wh, head),
        target=target,
        wants_wording=wants_wording,
        proper_terms=proper,
        alternatives=_alternatives(doc, wh),
        content_of=_content_of(wh, head),
        dimensions=question_dimensions(doc),
    )


def _content_of(wh, head) -> str | None:
    """The verb of which a bare "what" is the direct object, when the question gives that verb
    no clause of its own (see :attr:`QuestionAnalysis.content_of`)."""
    if wh is None or wh.lower_ != "what" or head is not None or wh.dep_ != "dobj":
        return None
    verb = wh.head  # the head of a direct object is a verb, even where the small tagger says noun
    if verb.pos_ == "AUX" or any(c.dep_ in {"ccomp", "xcomp"} for c in verb.children):
        return None
    return verb.lemma_.lower()


def _alternatives(doc, wh) -> tuple[frozenset[str], ...]:
    """The options of an "A or B" choice in a question, each as its content terms: an "or"
    coordination of a yes/no question ("Were they public or private?"), or one set off by a comma
    after a wh-question ("Which hall is larger, the east hall or the west hall?") and holding no
    wh-word; an "or" inside what a wh-question asks about ("viewed as suspicious or subversive")
    offers no choice."""
    for token in doc:
        if token.lower_ != "or" or token.dep_ != "cc":
            continue
        first = token.head
        conjuncts = [first, *first.conjuncts]
        inner = {t.i for c in conjuncts[1:] for t in c.subtree} | {token.i}
        if wh is not None:
            start = first.left_edge.i
            set_off = start > 0 and doc[start - 1].text == ","
            if not set_off or any(wh.i in {t.i for t in c.subtree} for c in conjuncts):
                continue
        options = []
        for c in conjuncts:
            words = [t for t in c.subtree if c is not first or t.i not in inner]
            if c.pos_ in {"VERB", "AUX"}:
                words = [c]  # "foster or avoid debate": the verb alone is the option
            terms = frozenset(term_of(t) for t in words if is_content(t))
            if terms:
                options.append(terms)
        if len(options) >= 2:
            return tuple(options)
    return ()


def _wh_role(wh, head) -> str | None:
    if wh is None:
        return None
    if wh.lower_ == "whom":
        return "dobj"
    if wh.lower_ in {"where", "when", "why", "how"}:
        return "advmod"
    token = head if head is not None and wh.dep_ in {"det", "poss"} else wh
    if token.dep_ == "pobj" and token.head.dep_ == "prep":
        return "pobj"
    return token.dep_
