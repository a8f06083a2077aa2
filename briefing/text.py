"""The text core shared by answers, briefs and verification: terms, stemming, cleaning, dates."""

from __future__ import annotations

import re

from briefing.dates import MONTH_NAMES

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
MONTH = r"(?:" + "|".join(MONTH_NAMES) + r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?"
DATE = re.compile(
    rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)? {MONTH},? \d{{4}}|{MONTH} \d{{1,2}}(?:st|nd|rd|th)?\b"
    rf"|{MONTH},? \d{{4}}|(?:19|20)\d\d-\d\d-\d\d)",
    re.I,
)
LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)|https?://\S+")
WORD = re.compile(r"[a-z0-9][a-z0-9\-\.]*[a-z0-9]|[a-z0-9]")


def stem(word: str) -> str:
    """A light plural stem: "obligations" → "obligation", "bodies" → "body"."""
    for suffix in ("ies", "es", "s"):
        if len(word) > 4 and word.endswith(suffix) and not word.endswith("ss"):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def terms(text: str) -> set[str]:
    """Content terms of a text, lower-cased and lightly stemmed."""
    return {stem(w) for w in WORD.findall(text.lower()) if w not in STOPWORDS}


def clean(text: str) -> str:
    """Whitespace-normalised text, Markdown list and heading marks removed."""
    text = re.sub(r"^\s*(?:[-*+•]|#{1,6})\s+", "", text)
    text = re.sub(r"(?m)^\s*>\s?", "", text)  # block-quote marks of PDF-derived Markdown
    text = re.sub(r"^\s*\|\s*|\s*\|\s*$", "", text)  # the outer pipes of a table row
    text = re.sub(r"\*\*|__", "", text)  # Markdown emphasis
    return re.sub(r"\s+", " ", text).strip()
