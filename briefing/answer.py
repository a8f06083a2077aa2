"""The grounded answer engine: sentences selected from retrieved passages, each one cited.

Sentence selection is written here because LlamaIndex has no extractive answerer that keeps
verbatim sentence spans and passage citations (its SentenceEmbeddingOptimizer drops the spans).
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import dataclass

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
        chosen = select(candidates, self.settings.answer_max_words)
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
        wants_number = bool(NUMERIC_QUESTION.search(question or query))
        pool: list[tuple[Passage, int, int, str, np.ndarray, set[str]]] = []
        for passage in passages:
            text = self.searcher.manifest.document_text(passage.doc_id) or ""
            for start, end, vec in self.searcher.manifest.sentences(
                passage.doc_id, passage.start, passage.end
            ):
                sentence = clean(text[start:end])
                if usable(text[start:end], sentence):
                    pool.append((passage, start, end, sentence, vec, terms(sentence)))
        # Question terms that few candidate sentences share (a rare name, "crawler") say more about
        # which sentence answers than common ones ("AI", "act"): weight them by inverse frequency.
        df = Counter(t for *_, words in pool for t in words & (own_terms | context_terms))
        weight = {t: math.log(1 + len(pool) / (1 + df[t])) for t in own_terms | context_terms}
        total = sum(weight[t] for t in own_terms) + 0.5 * sum(weight[t] for t in context_terms) or 1.0
        out: list[Candidate] = []
        for passage, start, end, sentence, vec, words in pool:
            sim = float(vec @ q_vec + vec @ own_vec) / 2
            overlap = (
                sum(weight[t] for t in own_terms & words)
                + 0.5 * sum(weight[t] for t in context_terms & words)
            ) / total
            prior = 1.0 / (1.0 + 0.15 * (passage.rank - 1))
            score = W_SIM * sim + W_OVERLAP * overlap + 0.1 * prior + form_adjustment(sentence, wants_number)
            out.append(Candidate(passage, start, end, sentence, vec, score, sim))
        return out

    def _abstain(self, question: str, query: str, passages: list[Passage]) -> Answer:
        message = (
            f"{NOT_COVERED} The closest passages in the corpus are listed below; they are not an answer."
        )
        citations = [Citation.from_passage(i, p, "") for i, p in enumerate(passages[:3], start=1)]
        return Answer(question, message, True, "extractive", citations, passages, standalone_question=query)


W_SIM, W_OVERLAP = 0.6, 0.3  # calibrated on the dev set
NUMERIC_QUESTION = re.compile(
    r"\b(when|what date|which date|how (long|many|much|big|quickly|soon|large|high)|by when|deadline|"
    r"what (level|threshold|amount|percentage|share|fine)|biggest fine|maximum)\b",
    re.I,
)
NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty|hundred|"
    r"thousand|million|billion)\b",
    re.I,
)


def form_adjustment(sentence: str, wants_number: bool) -> float:
    """Prefer sentences of the expected answer form; penalise headings and very long sentences."""
    words = sentence.split()
    capitalised = sum(1 for w in words if w[:1].isupper()) / max(len(words), 1)
    adjustment = -0.15 if capitalised > 0.6 and len(words) > 3 else 0.0
    if len(words) > 60:
        adjustment -= 0.05
    if re.match(r"(?:He|She|It|They|This|These|Those|That|Such|And|So|But|Yesterday)\b", sentence):
        adjustment -= 0.05  # a dangling pronoun or a spoken "And so" reads badly out of its context
    if wants_number and NUMBER.search(sentence):
        adjustment += 0.06
    return adjustment


def usable(raw: str, sentence: str) -> bool:
    """A sentence that can stand in an answer: not a question, a speaker tag or a fragment."""
    prose = re.sub(r"\[([^\]]*)\]\([^)]*\)|https?://\S+", " ", sentence)  # links are not prose
    n_words = len(prose.split())
    list_item = bool(re.match(r"\s*(?:[-*+•]|\d{1,3}[.)]|\([a-z0-9]{1,3}\))\s", raw))
    return (
        (n_words >= 5 or (list_item and n_words >= 2))
        and n_words <= 130
        and not sentence.endswith("?")
        and not re.match(r"^(?:Q|MR|MS|MRS)\b[.:]?\s", sentence)
        and bool(re.search(r"[a-z]{3}", sentence))
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
    "european": ("european", "eu"),
    "us": ("united states", "u.s.", "us ", "american"),
    "uk": ("united kingdom", "uk", "british"),
    "gpai": ("gpai", "general-purpose ai", "general purpose ai"),
}


def _aliases(entity: str) -> tuple[str, ...]:
    return ALIASES.get(entity, (entity,))


def select(
    candidates: list[Candidate], max_words: int, per_passage: int = 2, max_sentences: int = 6
) -> list[Candidate]:
    """A diverse set of strong sentences (MMR), no near-duplicates, a cap per passage, a word budget."""
    pool = sorted(candidates, key=lambda c: c.score, reverse=True)
    best = pool[0].score
    chosen: list[Candidate] = []
    words = 0
    while pool and len(chosen) < max_sentences:

        def mmr(c: Candidate) -> float:
            redundancy = max((float(c.vector @ s.vector) for s in chosen), default=0.0)
            return 0.85 * c.score - 0.15 * redundancy

        pick = max(pool, key=mmr)
        pool.remove(pick)
        n_words = len(pick.text.split())
        if pick.score < best * 0.65 and len(chosen) >= 2:
            break
        if any(float(pick.vector @ s.vector) > 0.9 for s in chosen):
            continue
        if sum(1 for s in chosen if s.passage.chunk_id == pick.passage.chunk_id) >= per_passage:
            continue
        if chosen and words + n_words > max_words:
            continue
        chosen.append(pick)
        words += n_words
    return chosen + continuations(chosen, candidates, max_words + 60 - words)


def continuations(chosen: list[Candidate], candidates: list[Candidate], budget: int) -> list[Candidate]:
    """The list items that follow a chosen sentence ending in a colon, so a list is not cut off."""
    extra: list[Candidate] = []
    taken = {(c.passage.chunk_id, c.start) for c in chosen}
    for lead in (c for c in chosen if c.text.endswith(":")):
        following = sorted(
            (c for c in candidates if c.passage.chunk_id == lead.passage.chunk_id and c.start > lead.start),
            key=lambda c: c.start,
        )
        for item in following[:4]:
            n_words = len(item.text.split())
            if (item.passage.chunk_id, item.start) in taken or n_words > budget:
                break
            extra.append(item)
            taken.add((item.passage.chunk_id, item.start))
            budget -= n_words
    return extra


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
