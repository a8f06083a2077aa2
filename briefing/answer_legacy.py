"""The grounded answer engine: sentences selected from retrieved passages, each one cited.

Sentence selection is written here because LlamaIndex has no extractive answerer that keeps
verbatim sentence spans and passage citations (its SentenceEmbeddingOptimizer drops the spans).
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from briefing.retrieve import Filters, Searcher
from briefing.settings import Settings
from briefing.types import Answer, Citation, Passage

NOT_COVERED = "The corpus does not cover this."
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "it's",
        "they",
        "them",
        "their",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "do",
        "does",
        "did",
        "done",
        "has",
        "have",
        "had",
        "having",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "not",
        "no",
        "nor",
        "so",
        "than",
        "then",
        "too",
        "very",
        "s",
        "t",
        "just",
        "about",
        "into",
        "over",
        "under",
        "again",
        "further",
        "once",
        "all",
        "any",
        "both",
        "each",
        "few",
        "more",
        "most",
        "other",
        "some",
        "such",
        "only",
        "own",
        "same",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "he",
        "him",
        "his",
        "she",
        "her",
        "us",
        "also",
        "up",
        "down",
        "out",
        "off",
        "per",
        "via",
        "vs",
        "within",
        "without",
        "between",
        "among",
        "upon",
        "whether",
        "while",
        "during",
        "before",
        "after",
        "above",
        "below",
        "tell",
        "explain",
        "describe",
        "give",
        "list",
        "say",
        "said",
        "says",
        "please",
        "roughly",
        "approximately",
        "exactly",
        "actually",
        "kind",
        "sort",
        "much",
        "many",
    ]
)
ANAPHORA = re.compile(
    r"\b(it|its|they|them|their|those|these|that|this|he|she|his|her|there|then|same|such|"
    r"former|latter)\b|^\s*(and|but|also|so|what about|how about)\b",
    re.I,
)


@dataclass
class Candidate:
    """A sentence of a retrieved passage, scored against the question."""

    passage: Passage
    start: int
    end: int
    text: str
    vector: np.ndarray
    score: float = 0.0
    similarity: float = 0.0
    opens_list: bool = False  # ends with a colon, or a colon and a line break lead into items
    is_item: bool = False  # starts with a list mark (bullet, "> ", "1.", "(a)")
    is_note: bool = False  # starts with a bare number line: a footnote of PDF-derived text


def terms(text: str) -> set[str]:
    """Content terms of a text, lower-cased and lightly stemmed."""
    words = re.findall(r"[a-z0-9][a-z0-9\-\.]*[a-z0-9]|[a-z0-9]", text.lower())
    return {_stem(w) for w in words if w not in STOPWORDS}


def _stem(word: str) -> str:
    for suffix in ("ies", "es", "s"):
        if len(word) > 4 and word.endswith(suffix) and not word.endswith("ss"):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def clean(text: str) -> str:
    """Whitespace-normalised text, Markdown list and heading marks removed."""
    text = re.sub(r"^\s*(?:[-*+•]|#{1,6})\s+", "", text)
    text = re.sub(r"(?m)^\s*>\s?", "", text)  # block-quote marks of PDF-derived Markdown
    text = re.sub(r"^\s*\|\s*|\s*\|\s*$", "", text)  # the outer pipes of a table row
    text = re.sub(r"\*\*|__", "", text)  # Markdown emphasis
    return re.sub(r"\s+", " ", text).strip()


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
    extra = [w for w in dict.fromkeys(context) if _stem(w.lower()) not in own]
    return f"{question} ({' '.join(extra[:14])})" if extra else question


def validate_question(question: object, max_chars: int) -> str | None:
    """A one-line message when the question is unusable, else None."""
    if not isinstance(question, str):
        return "The question must be text."
    if not question.strip():
        return "Please type a question."
    if len(question) > max_chars:
        return f"The question is too long ({len(question):,} characters; the limit is {max_chars:,})."
    return None


class Answerer:
    """Answers questions from the index, extractively; an LLM backend plugs in via `briefing.llm`."""

    def __init__(self, settings: Settings, searcher: Searcher | None = None):
        self.settings = settings
        self.searcher = searcher or Searcher(settings)

    def ask(
        self,
        question: str,
        history: list[str] | None = None,
        filters: Filters | None = None,
        qid: str | None = None,
    ) -> Answer:
        """A cited answer, an abstention, or a clear message when the question is unusable."""
        started = time.perf_counter()
        problem = validate_question(question, self.settings.max_question_chars)
        if problem:
            return Answer(str(question), problem, True, "extractive", [], [], id=qid, error=problem)
        query = standalone_question(question.strip(), [h for h in history or [] if isinstance(h, str)])
        passages = self.searcher.search(query, k=max(self.settings.top_k, 10), filters=filters)
        answer = self.compose(question, query, passages)
        answer.id = qid
        answer.latency_ms = (time.perf_counter() - started) * 1000
        return answer

    # -- extractive composition ---------------------------------------------------------------
    def compose(self, question: str, query: str, passages: list[Passage]) -> Answer:
        """Select, order and cite sentences from the passages; abstain when evidence is weak."""
        from briefing.embedding import embed_query

        if not passages:
            return self._abstain(question, query, passages)
        q_vec = embed_query(self.settings, query)
        candidates = self.candidates(passages, query, q_vec, question=question)
        weak = not candidates or max(c.score for c in candidates) < self.settings.abstain_threshold
        if weak or missing_entities(question, passages):
            return self._abstain(question, query, passages)
        spread = SOURCE_SPREAD if COMPARISON.search(question) else 0.0
        chosen = select(candidates, self.settings.answer_max_words, spread=spread)
        chosen = with_answer_form(chosen, candidates, answer_forms(question), self.settings.answer_max_words)
        text, citations = render(chosen)
        return Answer(question, text, False, "extractive", citations, passages, standalone_question=query)

    def candidates(
        self, passages: list[Passage], query: str, q_vec: np.ndarray, question: str | None = None
    ) -> list[Candidate]:
        """Every sentence of the passages, scored by similarity, term overlap and passage rank.

        For a follow-up (`question` differs from the standalone `query`), the follow-up's own words
        weigh as much as the whole context borrowed from earlier turns.
        """
        from briefing.embedding import embed_query

        own_terms = terms(question) if question and question != query else terms(query)
        context_terms = terms(query) - own_terms
        own_vec = embed_query(self.settings, question) if question and question != query else q_vec
        forms = answer_forms(question or query)
        asked = frozenset(own_terms | context_terms)  # hashed once: `new_name` caches by it
        pool: list[tuple[Passage, int, int, str, np.ndarray, set[str], str]] = []
        for passage in passages:
            text = self.searcher.manifest.document_text(passage.doc_id) or ""
            for start, end, vec in self.searcher.manifest.sentences(
                passage.doc_id, passage.start, passage.end
            ):
                sentence = clean(text[start:end])
                if usable(text[start:end], sentence):
                    pool.append((passage, start, end, sentence, vec, terms(sentence), text[start:end]))
        # Question terms that few candidate sentences share (a rare name, "crawler") say more about
        # which sentence answers than common ones ("AI", "act"): weight them by inverse frequency.
        df = Counter(t for *_, words, _ in pool for t in words & (own_terms | context_terms))
        weight = {t: math.log(1 + len(pool) / (1 + df[t])) for t in own_terms | context_terms}
        total = sum(weight[t] for t in own_terms) + 0.5 * sum(weight[t] for t in context_terms) or 1.0
        out: list[Candidate] = []
        for passage, start, end, sentence, vec, words, raw in pool:
            sim = float(vec @ q_vec + vec @ own_vec) / 2
            overlap = (
                sum(weight[t] for t in own_terms & words)
                + 0.5 * sum(weight[t] for t in context_terms & words)
            ) / total
            prior = 1.0 / (1.0 + 0.15 * (passage.rank - 1))
            adjust = form_adjustment(sentence, forms, asked)
            score = W_SIM * sim + W_OVERLAP * overlap + 0.1 * prior + adjust
            opens = sentence.endswith(":") or bool(re.search(r":\s*\n", raw))
            item = bool(LIST_MARK.match(raw))
            note = bool(re.match(r"\s*\d{1,3}\s*\n", raw))
            out.append(Candidate(passage, start, end, sentence, vec, score, sim, opens, item, note))
        return out

    def _abstain(self, question: str, query: str, passages: list[Passage]) -> Answer:
        message = (
            f"{NOT_COVERED} The closest passages in the corpus are listed below; they are not an answer."
        )
        citations = [Citation.from_passage(i, p, "") for i, p in enumerate(passages[:3], start=1)]
        return Answer(question, message, True, "extractive", citations, passages, standalone_question=query)


W_SIM, W_OVERLAP = 0.6, 0.3  # calibrated on the dev set
LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)|https?://\S+")
MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?"
)
# What kind of answer a question asks for, and how a sentence that gives one looks.
FORMS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "date": (
        re.compile(
            r"\b(when (?:and where )?(?:did|does|do|is|was|were|will|are|has|have|had|can|could|should|must|would)|"
            r"where and when|"
            r"what date|which date|by when|since when|what year|which year|start date|deadline)\b",
            re.I,
        ),
        re.compile(
            rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)? {MONTH},? \d{{4}}|{MONTH} \d{{1,2}}(?:st|nd|rd|th)?\b"
            rf"|{MONTH},? \d{{4}}|(?:19|20)\d\d-\d\d-\d\d)",
            re.I,
        ),
    ),
    "duration": (
        re.compile(r"\b(how (long|soon|quickly)|deadline|time limit|within what|how much time)\b", re.I),
        re.compile(
            r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|thirty|sixty|"
            r"ninety)[- ](?:calendar |working |business )?(?:days?|weeks?|months?|years?|hours?)\b",
            re.I,
        ),
    ),
    "number": (
        re.compile(
            r"\b(how (many|much|big|large|high)|what (level|threshold|amount|percentage|share|fine|number)|"
            r"biggest fine|maximum|minimum)\b",
            re.I,
        ),
        re.compile(
            r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty|"
            r"hundred|thousand|million|billion)\b",
            re.I,
        ),
    ),
}
# "Which body…", "who…": the answer is a name. Which names a sentence gives depends on the question
# (see `new_name`), so this form has no sentence pattern of its own.
NAME_QUESTION = re.compile(r"\b(?:who|whom|which)\b", re.I)
NAME = re.compile(r"(?<!^)\b(?:[A-Z][a-z]+|[A-Z]{2,})\b")  # a capitalised word or acronym, not the first


def answer_forms(question: str) -> list[str]:
    """The answer forms a question asks for: "date", "duration", "number", "name" (possibly several)."""
    forms = [name for name, (asks, _) in FORMS.items() if asks.search(question)]
    return forms + ["name"] if NAME_QUESTION.search(question) else forms


FRAGMENT = HEADING = ECHO = 0.1  # penalties: a list's inner item, a heading, a restated question
FORM_FLOOR = 0.55  # of the best score: a date or duration sentence weaker than this is off-topic
FORM_BONUS = 0.06  # calibrated on the dev set: 0.10 changed nothing, 0.15 lost a list answer
COMPARISON = re.compile(
    r"\b(compare[sd]?|comparison|differ(s|ent|ence|ences)?|versus|vs\.?|how close|contrast|unlike)\b", re.I
)
SOURCE_SPREAD = 0.05  # calibrated on the dev set (0.05 and 0.1 score the same)
MAX_ITEM_GAP = 300  # characters between list items (a footnote, a page number)
LIST_MARK = re.compile(r"\s*(?:[-*+•>]|\d{1,3}[.)]|\([a-z0-9]{1,4}\)|[a-z][.)])\s")


def new_name(sentence: str, question_terms: AbstractSet[str]) -> bool:
    """Whether a sentence names something the question does not (the AI Office, for "which body")."""
    known = _name_vocabulary(frozenset(question_terms))
    return any(
        _stem(w.lower()) not in known and w.lower() not in STOPWORDS and w.lower() not in GENERIC
        for w in NAME.findall(sentence)
    )


@lru_cache(maxsize=64)
def _name_vocabulary(question_terms: frozenset[str]) -> frozenset[str]:
    """The question's words split at hyphens, with their aliases ("eu" also means "union"): built
    once per question, not once per candidate sentence."""
    known = {part for term in question_terms for part in term.split("-")}
    return frozenset(known | {w for term in known for alt in ALIASES.get(term, ()) for w in alt.split()})


def form_adjustment(sentence: str, forms: list[str], question_terms: AbstractSet[str] | None = None) -> float:
    """Prefer sentences of the expected answer form; penalise headings, very long sentences and
    sentences that only restate the question (a title that echoes it answers nothing)."""
    prose = LINK.sub(r"\1", sentence)  # a URL's digits are not a date or a figure
    words = prose.split()
    shouting = prose.upper() == prose and len(words) >= 12  # statute text set in capitals is prose
    capitalised = sum(1 for w in words if w[:1].isupper()) / max(len(words), 1)
    adjustment = -0.15 if capitalised > 0.6 and len(words) > 3 and not shouting else 0.0
    if len(words) > 60:
        adjustment -= 0.05
    if re.match(r"(?:He|She|It|They|This|These|Those|That|Such|And|So|But|Yesterday)\b", sentence):
        adjustment -= 0.05  # a dangling pronoun or a spoken "And so" reads badly out of its context
    if len(words) <= 12 and not re.search(r"[.:;!?)\]\"”’]$", sentence):
        adjustment -= HEADING  # a heading line: it names a topic, it states nothing
    if re.match(r"[a-z]", sentence) and sentence.endswith((";", ",")):
        adjustment -= FRAGMENT  # an inner item of a longer enumeration ("advise the Commission on ...;")
    if has_form(sentence, forms) or (
        "name" in forms and question_terms is not None and new_name(prose, question_terms)
    ):
        adjustment += FORM_BONUS
    if question_terms:
        own = terms(prose)
        if own and len(own - question_terms) <= max(1, len(own) // 5):
            adjustment -= ECHO
    return adjustment


def usable(raw: str, sentence: str) -> bool:
    """A sentence that can stand in an answer: not a question, a speaker tag or a fragment."""
    prose = LINK.sub(" ", sentence)  # links are not prose
    n_words = len(prose.split())
    list_item = bool(re.match(r"\s*(?:[-*+•]|\d{1,3}[.)]|\([a-z0-9]{1,3}\))\s", raw))
    return (
        (n_words >= 5 or (list_item and n_words >= 2))
        and n_words <= 130
        and not sentence.endswith("?")
        and not re.match(r"^(?:Q|MR|MS|MRS)\b[.:]?\s", sentence)
        and bool(re.search(r"[a-z]{3}", sentence) or (sentence.isupper() and n_words >= 8))
    )


def missing_entities(question: str, passages: list[Passage]) -> list[str]:
    """Names and numbers of the question that no retrieved passage mentions.

    A question about something the corpus lacks (another country's law, another bill) usually names
    it; when the retrieved evidence never mentions that name, the evidence is about something else.
    """
    haystack = " ".join(
        f"{p.meta.get('title') or ''} {p.meta.get('publisher') or ''} {p.doc_id.replace('-', ' ')} {p.text}"
        for p in passages
    ).lower()
    haystack = re.sub(r"\s+", " ", haystack)
    return [e for e in question_entities(question) if not any(alt in haystack for alt in _aliases(e))]


def question_entities(question: str) -> list[str]:
    """Names and numbers of a question: capitalised words (not the first), acronyms, tokens with
    digits other than bare years, and pairs of adjacent capitalised words (a name like "Interim
    Measures" must appear as a phrase)."""
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


GENERIC = frozenset(
    [
        "ai",
        "act",
        "law",
        "bill",
        "order",
        "rule",
        "rules",
        "code",
        "report",
        "plan",
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


def _aliases(entity: str) -> tuple[str, ...]:
    return ALIASES.get(entity, (entity,))


def select(
    candidates: list[Candidate],
    max_words: int,
    per_passage: int = 2,
    max_sentences: int = 6,
    spread: float = 0.0,
) -> list[Candidate]:
    """A diverse set of strong sentences (MMR), no near-duplicates, a cap per passage, a word budget.

    A chosen sentence that opens a list brings its items along (up to the budget plus 60 words), so
    that a list is not cut off by weaker sentences chosen after it. `spread` is subtracted for a
    sentence whose document is already quoted (a comparison needs both sides).
    """
    pool = sorted(candidates, key=lambda c: c.score, reverse=True)
    best = pool[0].score
    chosen: list[Candidate] = []
    picks = words = 0
    while pool and picks < max_sentences:

        def mmr(c: Candidate) -> float:
            redundancy = max((float(c.vector @ s.vector) for s in chosen), default=0.0)
            quoted = any(s.passage.doc_id == c.passage.doc_id for s in chosen)
            return 0.85 * c.score - 0.15 * redundancy - spread * quoted

        pick = max(pool, key=mmr)
        pool.remove(pick)
        n_words = len(pick.text.split())
        if pick.score < best * 0.65 and picks >= 2:
            break
        if any(_same(pick, s) or float(pick.vector @ s.vector) > 0.9 for s in chosen):
            continue
        if sum(1 for s in chosen if s.passage.chunk_id == pick.passage.chunk_id) >= per_passage:
            continue
        if chosen and words + n_words > max_words:
            continue
        chosen.append(pick)
        picks += 1
        words += n_words
        if pick.opens_list:
            items = list_items(pick, candidates, chosen, max_words + 60 - words)
            chosen.extend(items)
            words += sum(len(c.text.split()) for c in items)
    return chosen


def has_form(text: str, forms: list[str]) -> bool:
    """Whether a sentence gives an answer of one of these forms (links ignored)."""
    prose = LINK.sub(r"\1", text)
    return any(FORMS[form][1].search(prose) for form in forms if form in FORMS)


def with_answer_form(
    chosen: list[Candidate], candidates: list[Candidate], forms: list[str], max_words: int
) -> list[Candidate]:
    """Make sure a question asking "when" or "how long" gets a sentence with a date or duration.

    When none of the chosen sentences has one, the best candidate that has one and scores at least
    FORM_FLOOR of the best replaces the weakest chosen sentences it needs room for.
    """
    wanted = [f for f in forms if f in ("date", "duration")]
    if not wanted or not chosen or any(has_form(c.text, wanted) for c in chosen):
        return chosen
    floor = FORM_FLOOR * max(c.score for c in candidates)
    options = [c for c in candidates if c.score >= floor and has_form(c.text, wanted)]
    if not options:
        return chosen
    best = max(options, key=lambda c: c.score)
    kept = sorted(chosen, key=lambda c: c.score, reverse=True)
    n_words = len(best.text.split())
    while len(kept) > 1 and sum(len(c.text.split()) for c in kept) + n_words > max_words:
        kept.pop()
    kept_ids = {id(c) for c in kept}  # identity: Candidate equality would compare numpy vectors
    return [c for c in chosen if id(c) in kept_ids] + [best]


def _same(a: Candidate, b: Candidate) -> bool:
    return a.passage.doc_id == b.passage.doc_id and a.start == b.start


def list_items(
    lead: Candidate, candidates: list[Candidate], chosen: list[Candidate], budget: int, limit: int = 8
) -> list[Candidate]:
    """The items that follow a sentence opening a list, in document order, within the budget.

    Items are the next sentences of the same document (in any retrieved passage, so a list that
    crosses a chunk boundary is kept) that carry a list mark and follow closely (footnotes and page
    numbers may sit between them); after a closing colon the first following sentence counts as an
    item even without a mark.
    """
    following = sorted(
        (c for c in candidates if c.passage.doc_id == lead.passage.doc_id and c.start >= lead.end),
        key=lambda c: (c.start, c.passage.rank),
    )
    items: list[Candidate] = []
    last_end = lead.end
    for c in following:
        if c.is_note or (items and c.start == items[-1].start):
            continue  # a footnote between the items, or the same sentence in an overlapping passage
        opens = c.is_item or (not items and lead.text.endswith(":"))
        if not opens or c.start - last_end > MAX_ITEM_GAP or len(items) >= limit:
            break
        last_end = c.end
        n_words = len(c.text.split())
        if n_words > budget:
            break
        if not any(_same(c, s) for s in chosen):
            items.append(c)
            budget -= n_words
    return items


def render(chosen: list[Candidate]) -> tuple[str, list[Citation]]:
    """Group sentences by source passage (best passage first), in document order, with [n] markers."""
    order: list[str] = []
    for c in sorted(chosen, key=lambda c: c.passage.rank):
        if c.passage.chunk_id not in order:
            order.append(c.passage.chunk_id)
    paragraphs: list[str] = []
    citations: list[Citation] = []
    for n, chunk_id in enumerate(order, start=1):
        group = sorted((c for c in chosen if c.passage.chunk_id == chunk_id), key=lambda c: c.start)
        p = group[0].passage
        paragraphs.append(" ".join(f"{c.text} [{n}]" for c in group))
        citations.append(Citation.from_passage(n, p, " … ".join(c.text for c in group)))
    return "\n\n".join(paragraphs), citations
