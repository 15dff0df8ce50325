"""Dimensions of measured quantities: what a question measures, and what a span measures.

"What wattage is the kettle?" asks for a power; "1.7 litres" is a volume, so it cannot be the
answer, however well it fits otherwise. Both sides are read from general English unit words and
question words, never from any document: a question gets dimensions only from a word that names
one outright ("wattage", "how heavy", "in hectares"), and a span only from a unit that follows or
governs one of its numbers. Rates ("30 kilometres an hour", "km/h", "per cent") and words of two
dimensions at once ("pound") are left alone unless they settle it, so the check only says no
where both sides are plain.
"""

from __future__ import annotations

import re

LENGTH, MASS, VOLUME, POWER, VOLTAGE, ENERGY, TEMPERATURE, SPEED, TIME, MONEY, AREA, DATA, FREQUENCY, RATIO = (
    "length", "mass", "volume", "power", "voltage", "energy", "temperature", "speed", "time", "money", "area",
    "data", "frequency", "ratio")

_UNITS: dict[str, frozenset[str]] = {}


def _add(dimensions: set[str] | str, *words: str) -> None:
    value = frozenset({dimensions} if isinstance(dimensions, str) else dimensions)
    for word in words:
        _UNITS[word] = value


_add(LENGTH, "metre", "meter", "kilometre", "kilometer", "centimetre", "centimeter", "millimetre", "millimeter",
     "km", "cm", "mm", "foot", "feet", "ft", "inch", "inches", "yard", "mile", "nanometre", "nanometer",
     "micrometre", "micrometer", "metres", "meters", "kilometres", "kilometers", "miles", "yards")
_add(MASS, "gram", "kilogram", "kg", "milligram", "mg", "tonne", "ounce", "oz", "lb", "lbs", "grams", "kilograms",
     "tonnes", "ounces")
_add(VOLUME, "litre", "liter", "millilitre", "milliliter", "ml", "gallon", "pint", "litres", "liters", "gallons",
     "pints", "millilitres", "milliliters")
_add(POWER, "watt", "kilowatt", "megawatt", "gigawatt", "kw", "horsepower", "hp", "watts", "kilowatts", "megawatts")
_add(VOLTAGE, "volt", "kilovolt", "volts", "kilovolts", "kv")
_add(ENERGY, "joule", "kilojoule", "calorie", "kilocalorie", "kcal", "kwh", "joules", "calories")
_add(TEMPERATURE, "celsius", "fahrenheit", "kelvin", "°c", "°f")
_add(SPEED, "mph", "knot", "knots", "kph")
_add(TIME, "second", "minute", "hour", "day", "week", "month", "year", "decade", "century", "millennium",
     "seconds", "minutes", "hours", "days", "weeks", "months", "years", "decades", "centuries")
_add(MONEY, "dollar", "euro", "cent", "penny", "pence", "yen", "yuan", "rupee", "franc", "dollars", "euros",
     "cents", "rupees", "francs", "$", "€", "£", "¥")
_add(AREA, "hectare", "acre", "hectares", "acres")
_add(DATA, "byte", "kilobyte", "megabyte", "gigabyte", "terabyte", "kb", "mb", "gb", "tb", "bytes", "megabytes",
     "gigabytes", "terabytes")
_add(FREQUENCY, "hertz", "hz", "khz", "mhz", "ghz")
_add(RATIO, "percent", "%")
_add({MASS, MONEY}, "pound", "pounds")
_add({TEMPERATURE, "angle"}, "degree", "degrees")

#: Symbols written straight after a number ("230V", "2kW", "5kg"): case matters for the short ones.
#: (Not the lone letters "m", "g" and "l": "5m" is as often five million, "5G" a network.)
_GLUED_UNITS = {"kW": POWER, "W": POWER, "V": VOLTAGE, "kV": VOLTAGE, "kg": MASS, "km": LENGTH, "cm": LENGTH,
                "mm": LENGTH, "ml": VOLUME, "mL": VOLUME, "mph": SPEED, "Hz": FREQUENCY, "kHz": FREQUENCY,
                "MHz": FREQUENCY, "GHz": FREQUENCY, "GB": DATA, "MB": DATA, "TB": DATA, "kWh": ENERGY,
                "°C": TEMPERATURE, "°F": TEMPERATURE, "%": RATIO}
_GLUED = re.compile(r"^[\d.,]+(" + "|".join(map(re.escape, _GLUED_UNITS)) + ")$")
#: Standalone symbols whose case tells them from ordinary words ("W" for watts, not "w").
_CASED = {**{symbol: _GLUED_UNITS[symbol] for symbol in ("W", "kW", "V", "kV", "Hz", "kHz", "MHz", "GHz", "kWh")},
          "mAh": ENERGY}

#: Nouns that name what a question measures ("what *wattage*", "the *weight* of ..."). A length or
#: a distance can be one of time ("the length of the war", "a two-hour drive"), a cost one of time too.
_QUESTION_NOUNS: dict[str, frozenset[str]] = {}
for _noun in ("height", "width", "depth", "altitude", "elevation", "thickness", "diameter", "radius",
              "circumference", "wingspan"):
    _QUESTION_NOUNS[_noun] = frozenset({LENGTH})
for _noun, _dimensions in (("length", {LENGTH, TIME}), ("distance", {LENGTH, TIME}), ("weight", {MASS}),
                           ("wattage", {POWER}), ("power", {POWER}), ("voltage", {VOLTAGE}),
                           ("temperature", {TEMPERATURE}), ("speed", {SPEED}), ("velocity", {SPEED}),
                           ("duration", {TIME}), ("lifespan", {TIME}), ("price", {MONEY}), ("cost", {MONEY, TIME}),
                           ("fee", {MONEY}), ("salary", {MONEY}), ("wage", {MONEY}), ("fare", {MONEY}),
                           ("budget", {MONEY}), ("revenue", {MONEY}), ("income", {MONEY}), ("profit", {MONEY})):
    _QUESTION_NOUNS[_noun] = frozenset(_dimensions)
#: "How <adjective>": only adjectives of one dimension ("how long" and "how far" can be answered in time).
_QUESTION_ADJECTIVES = {"heavy": MASS, "hot": TEMPERATURE, "cold": TEMPERATURE, "warm": TEMPERATURE,
                        "tall": LENGTH, "deep": LENGTH, "wide": LENGTH, "thick": LENGTH}
#: "How much does it <verb>?"
_HOW_MUCH_VERBS = {"cost": MONEY, "pay": MONEY, "charge": MONEY, "spend": MONEY, "earn": MONEY, "weigh": MASS}
#: Words that make a length unit an area or a volume ("square miles", "cubic metres").
_SHAPE_WORDS = frozenset({"square", "sq", "cubic"})
#: Words before a unit that make it the second half of a rate ("per day", "each year"); "a" and
#: "an" do so only after another unit ("30 kilometres an hour", not "a month").
_RATE_WORDS = frozenset({"per", "each", "every"})
_ARTICLES = frozenset({"a", "an"})


def unit_dimensions(token) -> frozenset[str]:
    """The dimensions a token names as a unit (empty: not a unit word)."""
    text = token.text
    if text in _CASED:
        return frozenset({_CASED[text]})
    glued = _glued_symbol(text)
    if glued:
        return frozenset({_GLUED_UNITS[glued]})
    lower = text.lower()
    return _UNITS.get(lower) or _UNITS.get(token.lemma_.lower(), frozenset())


def _glued_symbol(text: str) -> str | None:
    """The unit symbol written straight after a number ("V" of "230V", also "230V." where the
    tokenizer keeps the full stop), or ``None``."""
    match = _GLUED.match(text.rstrip(".,;:"))
    return match.group(1) if match else None


def _cues(tokens) -> list[frozenset[str]]:
    """The dimensions each measuring cue of a question names."""
    cues = []
    for token in tokens:
        lower, lemma = token.lower_, token.lemma_.lower()
        previous = token.nbor(-1) if token.i > 0 else None
        if previous is not None and previous.lower_ == "how":
            if lower in _QUESTION_ADJECTIVES:
                cues.append(frozenset({_QUESTION_ADJECTIVES[lower]}))
            elif lower == "fast":  # a vehicle's speed, or a processor's clock
                cues.append(frozenset({SPEED, FREQUENCY}))
            continue
        if token.pos_ in {"NOUN", "PROPN"} and lemma in _QUESTION_NOUNS and _asked_about(token):
            cues.append(_QUESTION_NOUNS[lemma])
        elif lemma in _HOW_MUCH_VERBS and any(_bare_how_much(t) for t in tokens):
            cues.append(frozenset({_HOW_MUCH_VERBS[lemma]}))
        elif token.dep_ == "pobj" and token.head.lower_ == "in" and _asked_unit(token):
            cues.append(unit_dimensions(token))  # "in hectares": the unit asked for
    return cues


def _asked_unit(token) -> bool:
    """Whether the object of an "in" is a unit the answer is asked in: a bare plural ("in acres",
    "in degrees Celsius"), not "in second" (a place in a race) nor "in modern day" nor a rate."""
    plural = token.tag_ == "NNS" or token.lower_ in {"celsius", "fahrenheit", "kelvin"}
    bare = all(unit_dimensions(c) for c in token.children)  # "degrees" of "in degrees Celsius"
    return plural and bare and bool(unit_dimensions(token)) and not _is_rate(token)


def _bare_how_much(token) -> bool:
    """Whether ``token`` is the "much" of a "how much" that names no noun ("how much does it cost",
    not "how much time does it cost")."""
    if token.lower_ != "much" or token.i == 0 or token.nbor(-1).lower_ != "how":
        return False
    after = token.nbor(1) if token.i + 1 < len(token.doc) else None
    return after is None or after.pos_ not in {"NOUN", "PROPN"}


def _asked_about(noun) -> bool:
    """Whether a measuring noun is what the question asks for: the wh-word's own noun ("what
    wattage"), or the subject or object that a "what" copula asks about ("What is the weight of
    ..."), not a noun that only describes something else ("the weight room")."""
    if noun.dep_ == "compound":
        return False  # "the weight room"
    if any(c.lower_ in {"what", "which", "whose"} and c.dep_ == "det" for c in noun.children):
        return True
    head = noun.head  # "What is the weight of ...": the question's own copula, not a clause inside it
    return noun.dep_ in {"nsubj", "attr"} and head.dep_ == "ROOT" and head.lemma_ == "be" and any(
        c.lower_ in {"what", "which"} for c in head.children if c.i != noun.i)


def question_dimensions(doc) -> frozenset[str]:
    """The dimensions a parsed question measures (empty: none named, or cues that disagree)."""
    cues = _cues(doc)
    return frozenset.intersection(*cues) if cues else frozenset()


def span_dimensions(tokens) -> frozenset[str]:
    """The dimensions a span's quantities are measured in: the units of its numbers, inside the
    span or governing a number of it ("1.7" of "1.7 litres"), and a unit counted with "a" ("a
    month"). Empty when it has no such unit, when a unit makes a rate ("an hour" after another
    unit, "per day", "km/h") or a share ("20%": a share can answer any quantity)."""
    tokens = list(tokens)
    if not tokens:
        return frozenset()
    units = [t for t in tokens if unit_dimensions(t)]
    for t in tokens:  # the unit of a number: its head ("1.7 litres"), or the word after it ("1.2 litre tank")
        after = t.nbor(1) if t.i + 1 < len(t.doc) else None
        for unit in (t.head if t.dep_ == "nummod" else None, after):
            if t.like_num and unit is not None and unit_dimensions(unit) and unit not in units:
                units.append(unit)
    numbered = any(t.like_num or _glued_symbol(t.text) for t in tokens)
    counted = []
    for unit in units:
        before = unit.nbor(-1).lower_ if unit.i > 0 else ""
        after_another = any(other.i < unit.i for other in units)
        if _is_rate(unit) or before in _RATE_WORDS or (before in _ARTICLES and after_another):
            return frozenset()  # "miles per hour", "km/h", "30 kilometres an hour"
        if before in _SHAPE_WORDS:
            return frozenset()  # "square metres" is an area, "cubic metres" a volume: not a length
        # a unit whose number was left outside the span ("litres" of "1.7 litres") measures all the same
        # ("a degree of influence" is no measure: only a unit of one dimension is counted with "a")
        if numbered or any(c.like_num for c in unit.children) or (before in _ARTICLES and len(unit_dimensions(unit)) == 1):
            counted.append(unit)
    found = [unit_dimensions(t) for t in counted]
    if any(RATIO in dims for dims in found):
        return frozenset()
    return frozenset().union(*found) if found else frozenset()


def _is_rate(unit) -> bool:
    """Whether a unit token is the first half of a rate ("miles per hour", "km/h")."""
    following = unit.nbor(1).lower_ if unit.i + 1 < len(unit.doc) else ""
    return "/" in unit.text or following in {"per", "/"}


def conflicts(asked: frozenset[str], measured: frozenset[str]) -> bool:
    """Whether a span measuring ``measured`` cannot answer a question asking for ``asked``."""
    return bool(asked) and bool(measured) and not asked & measured
