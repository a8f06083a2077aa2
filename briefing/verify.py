"""Citation verification: every sentence of an LLM answer is checked against the passages it cites.

A sentence is *supported* when both hold:

1. it is semantically close to one sentence of a cited passage (cosine of the bundled embedding
   model, against the sentence vectors already stored in the manifest), and
2. every number, date, amount and name it states appears in a cited passage (or its title).

Sentences without a citation, or citing a passage that was not given, are unsupported. Unsupported
sentences are dropped (`verify_mode="drop"`) or kept with a visible ` ⚠ unverified` suffix
(`"flag"`). Citations are renumbered to the passages actually cited, in order of first use.

Nothing here comes from a library: LlamaIndex's evaluators (FaithfulnessEvaluator and kin) ask an
LLM to judge, which a small local model cannot do reliably; this check is deterministic and cheap.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import numpy as np

from briefing.answer import STOPWORDS, clean
from briefing.manifest import Manifest
from briefing.settings import Settings
from briefing.types import Citation, Passage

MIN_SIMILARITY = 0.6  # all-MiniLM-L6-v2: paraphrases score ~0.7-0.95, same-topic different facts ~0.3-0.6
MIN_SUPPORTED_SHARE = 0.5  # below this share of supported sentences the extractive answer is shown
FLAG = " ⚠ unverified"

# -- facts: numbers, amounts, dates ------------------------------------------------------------
MONTHS = {
    m: i
    for i, names in enumerate(
        [("January", "Jan"), ("February", "Feb"), ("March", "Mar"), ("April", "Apr"), ("May",), ("June", "Jun"),
         ("July", "Jul"), ("August", "Aug"), ("September", "Sep", "Sept"), ("October", "Oct"),
         ("November", "Nov"), ("December", "Dec")],
        start=1,
    )
    for m in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\b\.?"
_NUM = r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_SCALE = r"(?P<scale>thousand|million|billion|trillion|mn|bn|tn|m|k)\b"
_WORD_SCALE = r"(?P<scale>thousand|million|billion|trillion)\b"
_CURRENCY = r"(?P<cur>EUR|USD|GBP|CNY|RMB|US\$|€|\$|£|¥)"
_CURRENCY_WORD = r"(?P<curword>euros?|dollars?|pounds?|yuan|renminbi)\b"
UNITS = ("zero two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
         " seventeen eighteen nineteen").split()
TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
# "one" is left out on purpose: it is far more often a pronoun ("one of the ...") than a count.
WORD_VALUES = {w: (0 if w == "zero" else i + 1) for i, w in enumerate(UNITS)} | {
    w: 10 * i for i, w in enumerate(TENS, start=2)
}
_WORDNUM = r"(?P<word>" + "|".join(TENS + UNITS) + r")(?:-(?P<unit>" + "|".join(UNITS[1:10]) + r"))?"
SCALES = {"thousand": 3, "k": 3, "million": 6, "m": 6, "mn": 6, "billion": 9, "bn": 9, "trillion": 12, "tn": 12}
CURRENCIES = {"eur": "EUR", "€": "EUR", "euro": "EUR", "euros": "EUR", "usd": "USD", "us$": "USD", "$": "USD",
              "dollar": "USD", "dollars": "USD", "gbp": "GBP", "£": "GBP", "pound": "GBP", "pounds": "GBP",
              "cny": "CNY", "rmb": "CNY", "¥": "CNY", "yuan": "CNY", "renminbi": "CNY"}
SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")

# Tried in this order; each match masks its span so that e.g. "2 August 2025" is not also read as 2 and 2025.
PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("power", re.compile(r"\b(?:(?P<mant>\d+(?:\.\d+)?)\s*[x×*]\s*)?10\s*(?:\^|\*\*)\s*\{?(?P<exp>\d+)\}?")),
    ("power", re.compile(r"\b(?P<mant>\d(?:\.\d+)?)[eE]\+?(?P<exp>\d+)\b")),
    ("iso", re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<mm>[01]\d)-(?P<dd>[0-3]\d)\b")),
    ("dmy", re.compile(r"\b(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH
                       + r"(?:,?\s+(?P<year>(?:19|20)\d\d)\b)?")),
    ("mdy", re.compile(r"\b" + _MONTH + r"\s+(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\b(?:,?\s+(?P<year>(?:19|20)\d\d)\b)?")),
    ("my", re.compile(r"\b" + _MONTH + r",?\s+(?P<year>(?:19|20)\d\d)\b")),
    ("money", re.compile(_CURRENCY + r"\s?" + _NUM + r"(?:\s*" + _SCALE + r")?", re.I)),
    ("money", re.compile(r"(?<![\w.])" + _NUM + r"(?:\s*" + _WORD_SCALE + r")?\s+" + _CURRENCY_WORD, re.I)),
    ("percent", re.compile(r"(?<![\w.])" + _NUM + r"\s*(?:%|per\s?cent\b)", re.I)),
    ("number", re.compile(r"(?<![\w.])" + _NUM + r"\s+" + _WORD_SCALE, re.I)),
    ("number", re.compile(r"\b" + _WORDNUM + r"\b(?:\s+" + _WORD_SCALE + r")?", re.I)),
    ("number", re.compile(r"(?<![\w.])" + _NUM + r"(?![\w])")),
]


@dataclass
class Fact:
    """A number, amount or date stated in a text: `key` must be matched; `aliases` may match it."""

    surface: str
    key: str
    aliases: frozenset[str] = frozenset()


def _canon(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _value(m: re.Match[str]) -> Decimal:
    """The numeric value of a match with a `num` or `word` group and an optional `scale` group."""
    groups = m.groupdict()
    if groups.get("num"):
        value = Decimal(groups["num"].replace(",", ""))
    else:
        value = Decimal(WORD_VALUES[groups["word"].lower()] + (WORD_VALUES[groups["unit"].lower()]
                                                                 if groups.get("unit") else 0))
    scale = (groups.get("scale") or "").lower()
    return value.scaleb(SCALES[scale]) if scale else value


def _fact(kind: str, m: re.Match[str]) -> Fact:
    g = m.groupdict()
    surface = m.group().strip()
    if kind == "power":
        value = Decimal(g["mant"] or 1) * Decimal(10) ** int(g["exp"])
        return Fact(surface, _canon(value))
    if kind in ("iso", "dmy", "mdy", "my"):
        return _date_fact(surface, g)
    value = _value(m)
    raw = {_canon(Decimal(g["num"].replace(",", "")))} if g.get("num") else set()
    if kind == "money":
        currency = CURRENCIES[(g.get("cur") or g.get("curword") or "").lower()]
        return Fact(surface, f"{currency} {_canon(value)}", frozenset({_canon(value), *raw}))
    if kind == "percent":
        return Fact(surface, f"{_canon(value)}%", frozenset({_canon(value)}))
    return Fact(surface, _canon(value), frozenset(raw))


def _date_fact(surface: str, g: dict[str, str | None]) -> Fact:
    """Dates become keys like 2025-08-02 (full), d:08-02 (day and month) or m:2025-08 (month and year)."""
    month = int(g["mm"]) if g.get("mm") else MONTHS[g["month"] or ""]
    day = int(g.get("dd") or g.get("day") or 0)
    day = day if 1 <= day <= 31 else 0
    year = g.get("year")
    keys = [f"{year}-{month:02d}-{day:02d}"] if year and day else []
    keys += [f"d:{month:02d}-{day:02d}"] if day else []
    keys += [f"m:{year}-{month:02d}", year] if year else []
    keys += [str(day)] if day else []
    if not keys:  # "May" alone is no date
        return Fact(surface, "")
    return Fact(surface, keys[0], frozenset(keys[1:]))


def _normalise(text: str) -> str:
    text = re.sub(r"\[\d+(?:\s*[,;]\s*\d+)*\]", " ", text)  # citation markers are not facts
    text = re.sub(r"\b10([⁰¹²³⁴⁵⁶⁷⁸⁹]+)", lambda m: "10^" + m.group(1).translate(SUPERSCRIPTS), text)
    return re.sub(r"\b(?:[A-Z]\.){2,}", lambda m: m.group().replace(".", ""), text)  # U.S. → US


def extract(text: str) -> tuple[list[Fact], str]:
    """The numbers, amounts and dates of a text, and the text with them masked out (for names)."""
    rest = _normalise(text)
    found: list[tuple[int, Fact]] = []
    for kind, pattern in PATTERNS:
        spans = []
        for m in pattern.finditer(rest):
            fact = _fact(kind, m)
            if fact.key:
                found.append((m.start(), fact))
                spans.append(m.span())
        # Mask what was read so that later patterns do not read it again ("2 August 2025" is not
        # also 2 and 2025); the ";" keeps names on either side apart. Same length keeps positions.
        for start, end in spans:
            rest = rest[:start] + ";".ljust(end - start) + rest[end:]
    return [f for _, f in sorted(found, key=lambda x: x[0])], rest


# -- names: capitalised multi-word names and acronyms --------------------------------------------
_NAME = re.compile(r"[A-Z][\w&\-]*(?:\s+(?:(?:of|for|on)\s+)?[A-Z][\w&\-]*)*")
_NOT_NAMES = {m.lower() for m in MONTHS} | {"i", "monday", "tuesday", "wednesday", "thursday", "friday"}
_EDGE_WORDS = STOPWORDS | _NOT_NAMES
ALIASES = {"us": ("united states", "usa"), "eu": ("european union",), "uk": ("united kingdom", "britain"),
           "un": ("united nations",), "prc": ("china",), "china": ("prc",), "united states": ("us",),
           "european union": ("eu",), "united kingdom": ("uk",)}


def _name_key(text: str) -> str:
    text = re.sub(r"['’]s\b", "", text)
    return re.sub(r"[\s\-]+", " ", text).strip().lower()


def entities(text: str) -> set[str]:
    """Capitalised names (several words, or one word not opening the sentence) and acronyms."""
    text = re.sub(r"['’]s\b", " ;", text)  # a possessive ends a name: "the AI Act's Article 5"
    first = re.search(r"[A-Za-z]", text)
    opening = first.start() if first else -1
    found: set[str] = set()
    for m in _NAME.finditer(text):
        words = [(m.start() + w.start(), w.group()) for w in re.finditer(r"\S+", m.group())]
        while words and words[0][1].lower() in _EDGE_WORDS:
            words = words[1:]
        while words and words[-1][1].lower() in _EDGE_WORDS | {"of", "for", "on"}:
            words = words[:-1]
        if not words or (len(words) == 1 and words[0][0] == opening and not _acronym(words[0][1])):
            continue  # a single capitalised word opening a sentence is no evidence of a name
        found.add(_name_key(" ".join(w for _, w in words)))
    return found


def _acronym(word: str) -> bool:
    return sum(c.isupper() for c in word) >= 2


def _mentions(name: str, haystack: str) -> bool:
    """The name, an alias of it, or each of its words, occurs in the haystack."""

    def has(phrase: str) -> bool:
        return re.search(r"\b" + re.escape(phrase) + r"\b", haystack) is not None

    return any(has(n) for n in (name, *ALIASES.get(name, ()))) or all(has(w) for w in name.split())


# -- claims: the sentences of a draft and the passages they cite ----------------------------------
_MARKER = re.compile(r"\[(?:passages?\s*)?(\d+(?:\s*(?:[,;]|and)\s*(?:passage\s*)?\d+)*)\]", re.I)
_TRAILING_MARKERS = re.compile(r"([.!?])((?:\s*\[[^\]\n]{1,30}\])+)")


@dataclass
class Claim:
    """One sentence of a draft answer, without its [n] markers."""

    text: str
    cites: list[int]
    gap: str = " "  # what separated it from the previous sentence: " " or a paragraph break


def split_claims(draft: str) -> list[Claim]:
    """The sentences of a draft, each with the passage numbers it cites."""
    from briefing.chunking import sentence_spans

    claims: list[Claim] = []
    for para_no, line in enumerate(x for x in draft.splitlines() if x.strip()):
        line = re.sub(r"^\s*(?:[-*+•]|\d{1,2}[.)]|#{1,6})\s+", "", line).replace("**", "")
        # "… 2025. [2] Next" confuses the sentence splitter: move markers before the full stop.
        line = _TRAILING_MARKERS.sub(lambda m: m.group(2) + m.group(1), line)
        pieces = [line[s:e] for s, e in sentence_spans(line)]
        for i, piece in enumerate(_join_fragments(pieces)):
            gap = "\n\n" if para_no and i == 0 else " "
            claims.append(_claim(piece, gap))
    return [c for c in claims if re.search(r"[A-Za-z0-9]", c.text)]


def _join_fragments(pieces: list[str]) -> list[str]:
    """Re-join splits after abbreviations ("U.S. and", "Aug. 2025"): uncited piece + lower-case next."""
    out: list[str] = []
    for piece in pieces:
        if out and not _MARKER.search(out[-1]) and re.match(r"[a-z0-9(]", piece):
            out[-1] += " " + piece
        else:
            out.append(piece)
    return out


def _claim(piece: str, gap: str) -> Claim:
    cites = [int(n) for m in _MARKER.finditer(piece) for n in re.findall(r"\d+", m.group(1))]
    text = re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s*\[[^\]\n]{0,30}\]", "", piece))
    return Claim(clean(text), list(dict.fromkeys(cites)), gap)


# -- verification ---------------------------------------------------------------------------------
@dataclass
class Evidence:
    """What a passage offers to check a claim against."""

    passage: Passage
    sentences: list[str]
    vectors: np.ndarray
    keys: set[str]  # fact keys and aliases of the passage, its title and heading
    haystack: str  # normalised text for name look-ups


@dataclass
class Verdict:
    """The outcome of checking one claim."""

    claim: Claim
    supported: bool
    reason: str = ""
    similarity: float = 0.0
    sources: list[int] = field(default_factory=list)  # cited passage numbers that exist (1-based)
    quote: tuple[int, str] | None = None  # (passage number, the passage sentence closest to the claim)


class Verifier:
    """Checks claims against passages, using the sentence vectors stored in the manifest."""

    def __init__(self, settings: Settings, manifest: Manifest, min_similarity: float = MIN_SIMILARITY):
        self.settings = settings
        self.manifest = manifest
        self.min_similarity = min_similarity

    def evidence(self, passages: list[Passage]) -> list[Evidence]:
        """Sentences, vectors, facts and names of each passage, in the order they were numbered."""
        return [self._evidence(p) for p in passages]

    def _evidence(self, passage: Passage) -> Evidence:
        from briefing.embedding import embed_texts

        doc_text = self.manifest.document_text(passage.doc_id) or ""
        rows = self.manifest.sentences(passage.doc_id, passage.start, passage.end)
        sentences = [clean(doc_text[s:e]) for s, e, _ in rows]
        vectors = np.stack([v for _, _, v in rows]) if rows else embed_texts(self.settings, [passage.text])
        if not rows:
            sentences = [clean(passage.text)]
        context = " ".join([passage.meta.get("title") or "", passage.heading, passage.text])
        facts, rest = extract(context)
        keys = {f.key for f in facts} | {a for f in facts for a in f.aliases}
        return Evidence(passage, sentences, vectors, keys, " " + _name_key(_normalise(context)) + " ")

    def check(self, claims: list[Claim], evidence: list[Evidence]) -> list[Verdict]:
        """A verdict per claim (claims are embedded in one batch)."""
        from briefing.embedding import embed_texts

        vectors = embed_texts(self.settings, [c.text for c in claims])
        return [self._check(c, v, evidence) for c, v in zip(claims, vectors, strict=True)]

    def _check(self, claim: Claim, vector: np.ndarray, evidence: list[Evidence]) -> Verdict:
        if not claim.cites:
            return Verdict(claim, False, "no citation")
        sources = [n for n in claim.cites if 1 <= n <= len(evidence)]
        missing = [n for n in claim.cites if n not in sources]
        if missing:
            return Verdict(claim, False, f"cites missing passage [{missing[0]}]", sources=sources)
        cited = [evidence[n - 1] for n in sources]
        sims = [(float(np.max(e.vectors @ vector)), n, e) for n, e in zip(sources, cited, strict=True)]
        best, n, ev = max(sims, key=lambda x: x[0])
        quote = (n, ev.sentences[int(np.argmax(ev.vectors @ vector))])
        verdict = Verdict(claim, False, "", best, sources, quote)
        verdict.reason = _unsupported_fact(claim.text, cited) or (
            f"not close to the cited passage ({best:.2f})" if best < self.min_similarity else ""
        )
        verdict.supported = not verdict.reason
        return verdict


def _unsupported_fact(text: str, cited: Iterable[Evidence]) -> str:
    """The first number, date or name of `text` that no cited passage states, as a reason; else ''."""
    cited = list(cited)
    keys = set().union(*(e.keys for e in cited))
    facts, rest = extract(text)
    for fact in facts:
        if fact.key not in keys:
            return f"'{fact.surface}' is not in the cited passage"
    for name in sorted(entities(rest)):
        if not any(_mentions(name, e.haystack) for e in cited):
            return f"'{name}' is not in the cited passage"
    return ""


# -- the verified answer ------------------------------------------------------------------------
class Assembler:
    """Builds the shown answer from verdicts, one at a time (so that it can stream)."""

    def __init__(self, evidence: list[Evidence], mode: str = "drop"):
        self.evidence = evidence
        self.mode = mode
        self.numbers: dict[int, int] = {}  # passage number given to the model → number shown
        self.quotes: dict[int, list[str]] = {}
        self.parts: list[str] = []
        self.counts = {"checked": 0, "kept": 0, "dropped": 0, "flagged": 0}

    def add(self, verdict: Verdict) -> str:
        """The text to show for this verdict ('' when dropped)."""
        self.counts["checked"] += 1
        if not verdict.supported and self.mode == "drop":
            self.counts["dropped"] += 1
            return ""
        self.counts["kept" if verdict.supported else "flagged"] += 1
        shown = [self.numbers.setdefault(n, len(self.numbers) + 1) for n in verdict.sources]
        if verdict.quote and (verdict.supported or verdict.quote[0] not in self.quotes):
            quotes = self.quotes.setdefault(verdict.quote[0], [])
            if verdict.quote[1] not in quotes:
                quotes.append(verdict.quote[1])
        text = verdict.claim.text + (" " + "".join(f"[{n}]" for n in shown) if shown else "")
        part = (verdict.claim.gap if self.parts else "") + text + ("" if verdict.supported else FLAG)
        self.parts.append(part)
        return part

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def enough(self) -> bool:
        """At least one supported sentence, and at least half of all sentences supported."""
        kept, checked = self.counts["kept"], self.counts["checked"]
        return kept >= 1 and kept / checked >= MIN_SUPPORTED_SHARE

    def citations(self) -> list[Citation]:
        """One citation per passage shown, numbered as in the text; the passage verbatim."""
        out = []
        for given, shown in sorted(self.numbers.items(), key=lambda x: x[1]):
            ev = self.evidence[given - 1]
            p = ev.passage
            quotes = sorted(self.quotes.get(given, []), key=lambda q: ev.sentences.index(q))
            out.append(Citation(shown, p.doc_id, p.meta.get("title") or p.doc_id, p.meta.get("publisher"),
                                p.meta.get("date"), p.meta.get("url"), p.text, " … ".join(quotes), p.chunk_id,
                                p.meta.get("jurisdiction") or []))
        return out


def verify_draft(verifier: Verifier, draft: str, evidence: list[Evidence], mode: str) -> Assembler:
    """Check every sentence of a finished draft and assemble what may be shown."""
    assembler = Assembler(evidence, mode)
    claims = split_claims(draft)
    for verdict in verifier.check(claims, evidence) if claims else []:
        assembler.add(verdict)
    return assembler
