"""What a question asks: its terms, the answer form it expects, the names it depends on."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from briefing.text import DATE, LINK, STOPWORDS, WORD, stem, terms

ANAPHORA = re.compile(
    r"\b(it|its|they|them|their|those|these|that|this|he|she|his|her|there|then|same|such|"
    r"former|latter)\b|^\s*(and|but|also|so|what about|how about)\b",
    re.I,
)
# The answer forms a question can ask for: how a question asks, and how a sentence gives one.
ASKS = {
    "date": re.compile(
        r"\b(when|what date|which date|by when|since when|what year|which year|start date|deadline|"
        r"timetable|timeline|until)\b",
        re.I,
    ),
    "duration": re.compile(
        r"\b(how (long|soon|quickly)|time limit|within what|how much time|for how long)\b", re.I
    ),
    "number": re.compile(
        r"\b(how (many|much|big|large|high)|what (level|threshold|amount|percentage|share|fine|number|sum)|"
        r"fines?|penalt(y|ies)|maximum|minimum|threshold|cap)\b",
        re.I,
    ),
    "name": re.compile(
        r"\b(who|whom|which (body|agency|office|authority|group|organi[sz]ation|country|countries))\b", re.I
    ),
    "list": re.compile(
        r"\b(what (are|were) the|which|list|name the|kinds?|types?|categories|elements|steps)\b", re.I
    ),
    "comparison": re.compile(
        r"\b(compare[sd]?|comparison|differ(s|ent|ence|ences)?|versus|vs\.?|contrast|unlike|both)\b", re.I
    ),
    "yesno": re.compile(r"^\s*(does|do|did|is|are|was|were|can|could|must|should|will|has|have)\b", re.I),
}
GIVES = {
    "date": DATE,
    "duration": re.compile(
        r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|thirty|sixty|ninety)"
        r"[- ](?:calendar |working |business )?(?:days?|weeks?|months?|years?|hours?)\b",
        re.I,
    ),
    # A figure: an amount, a share, a count of something; not the number of an article or a year.
    "number": re.compile(
        r"(?:[$€£]|\b(?:EUR|USD|GBP)\s?)\d|\b\d[\d,.]*\s?(?:%|per ?cent\b|million\b|billion\b|trillion\b|thousand\b)"
        r"|\b\d{1,3}(?:,\d{3})+\b|\b10\^?\d+|(?<!article )(?<!articles )(?<!section )(?<!annex )(?<!point )"
        r"(?<!paragraph )\b(?!(?:19|20)\d\d\b)\d+ [a-z]{3,}|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|"
        r"twenty|thirty|forty|fifty|hundred|thousand|million|billion)\b",
        re.I,
    ),
    "name": re.compile(r"(?<!^)\b(?:[A-Z][a-z]+|[A-Z]{2,})\b"),
}
GENERIC = frozenset(
    ["ai", "act", "law", "bill", "order", "rule", "rules", "code", "report", "plan", "framework"]
    + [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ]
)
ALIASES = {
    "chinese": ("china", "prc", "chinese"),
    "american": ("united states", "u.s.", "american", "us "),
    "british": ("united kingdom", "uk", "british"),
    "european": ("european", "eu", "union"),
    "eu": ("european", "eu", "union"),
    "us": ("united states", "u.s.", "us ", "american"),
    "uk": ("united kingdom", "uk", "british"),
    "gpai": ("gpai", "general-purpose ai", "general purpose ai"),
}


@dataclass
class Question:
    """A question analysed once: what the ranker and the abstention model read."""

    text: str
    query: str  # the standalone form: a follow-up with the key terms of earlier turns
    own_terms: set[str] = field(default_factory=set)
    context_terms: set[str] = field(default_factory=set)
    forms: set[str] = field(default_factory=set)
    entities: list[str] = field(default_factory=list)
    followup: bool = False

    @classmethod
    def parse(cls, text: str, history: list[str] | None = None) -> Question:
        query = standalone_question(text, history)
        own = terms(text)
        return cls(
            text=text,
            query=query,
            own_terms=own,
            context_terms=terms(query) - own,
            forms={name for name, pattern in ASKS.items() if pattern.search(text)},
            entities=question_entities(text),
            followup=query != text,
        )

    def gives(self, sentence: str) -> dict[str, bool]:
        """For each form the question asks, whether the sentence gives one (links ignored)."""
        prose = LINK.sub(r"\1", sentence)
        out = {
            form: bool(GIVES[form].search(prose))
            for form in ("date", "duration", "number")
            if form in self.forms
        }
        if "name" in self.forms:  # a name the question does not already hold: the AI Office, for "which body"
            known = self.own_terms | self.context_terms
            out["name"] = any(
                stem(w.lower()) not in known
                for w in GIVES["name"].findall(prose)
                if w.lower() not in STOPWORDS and w.lower() not in GENERIC
            )
        return out

    def missing(self, haystack: str) -> list[str]:
        """The question's names that a text never mentions (in whole, by an alias, or by all parts)."""
        text = re.sub(r"\s+", " ", haystack.lower())
        return [e for e in self.entities if not _mentioned(e, text)]


def _mentioned(entity: str, text: str) -> bool:
    if any(alt in text for alt in ALIASES.get(entity, (entity,))):
        return True
    parts = [p for p in re.split(r"[\s\-]+", entity) if p and p not in STOPWORDS]
    return len(parts) > 1 and all(re.search(rf"\b{re.escape(p)}", text) for p in parts)


def standalone_question(question: str, history: list[str] | None) -> str:
    """Make a follow-up stand alone by adding the key terms of the earlier turns it refers to."""
    if not history:
        return question
    own = terms(question)
    if not ANAPHORA.search(question) and len(own) >= 5:
        return question
    context: list[str] = []
    for turn in reversed(history[-2:]):
        context += [
            w for w in re.findall(r"[A-Za-z0-9][\w\-\.]*[A-Za-z0-9]", turn) if w.lower() not in STOPWORDS
        ]
    extra = [w for w in dict.fromkeys(context) if stem(w.lower()) not in own]
    return f"{question} ({' '.join(extra[:14])})" if extra else question


def question_entities(question: str) -> list[str]:
    """Names and numbers of a question: capitalised words (not the first), acronyms, tokens with
    digits other than bare years, and adjacent capitalised words as one phrase."""
    raw = re.findall(r"[A-Za-z0-9][\w./'’-]*[A-Za-z0-9]|[A-Za-z0-9]", question)
    tokens = [re.sub(r"['’]s$", "", t) for t in raw]
    out: list[str] = []
    for i, token in enumerate(tokens):
        if "-" in token and not any(ch.isdigit() for ch in token):
            token = token.split("-")[0]  # "EU-level", "Biden-era": the name is the first part
        if _is_name(token, i) or (
            any(ch.isdigit() for ch in token) and not re.fullmatch(r"(19|20)\d\d", token)
        ):
            out.append(token.lower())
        if i > 1 and _title_word(token) and _title_word(tokens[i - 1]) and raw[i - 1] == tokens[i - 1]:
            out.append(f"{tokens[i - 1]} {token}".lower())
    return list(dict.fromkeys(out))


def _is_name(token: str, position: int) -> bool:
    low = token.lower()
    capital = token[:1].isupper() and (position > 0 or token.isupper())
    return capital and low not in STOPWORDS and low not in GENERIC and not low.isdigit()


def _title_word(token: str) -> bool:
    return len(token) > 1 and token[0].isupper() and not token.isupper() and token.lower() not in STOPWORDS


def validate_question(question: object, max_chars: int) -> str | None:
    """A one-line message when the question is unusable, else None."""
    if not isinstance(question, str):
        return "The question must be text."
    if not question.strip():
        return "Please type a question."
    if len(question) > max_chars:
        return f"The question is too long ({len(question):,} characters; the limit is {max_chars:,})."
    return None


def word_count(text: str) -> int:
    return len(WORD.findall(text.lower()))
