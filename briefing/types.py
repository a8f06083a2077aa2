"""The data types that cross module borders."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Document:
    """One corpus file, read and normalised."""

    doc_id: str
    text: str
    title: str
    date: str | None = None  # ISO date, or None when unknown
    publisher: str | None = None
    url: str | None = None
    jurisdiction: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    path: str = ""
    content_hash: str = ""


@dataclass
class Sentence:
    """A sentence of a chunk, as a span of the document text."""

    start: int
    end: int
    text: str


@dataclass
class Chunk:
    """A passage of a document, with its span and the sentences it holds."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int
    heading: str
    sentences: list[Sentence]
    n_tokens: int = 0


@dataclass
class Passage:
    """A retrieved chunk with its fused score and rank."""

    chunk_id: str
    doc_id: str
    text: str
    score: float
    rank: int
    start: int
    end: int
    heading: str
    meta: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """The `retrieved` entry of the ask JSON contract."""
        return {"doc_id": self.doc_id, "chunk_id": self.chunk_id, "score": self.score, "passage": self.text}


@dataclass
class Citation:
    """What an [n] marker points at."""

    n: int
    doc_id: str
    title: str
    publisher: str | None
    date: str | None
    url: str | None
    passage: str
    quote: str
    chunk_id: str = ""
    jurisdiction: list[str] = field(default_factory=list)
    updated: str | None = None  # the cited article's last revision, when its front matter gives one
    sources: list[dict[str, str]] = field(default_factory=list)  # the article's own primary sources

    @property
    def as_of(self) -> str | None:
        """The date the cited article is current as of: `updated` when given, else `date`."""
        return self.updated or self.date

    @classmethod
    def from_passage(cls, n: int, passage: Passage, quote: str) -> Citation:
        """Citation [n] of a passage, with the sentence(s) quoted from it."""
        meta = passage.meta
        return cls(
            n,
            passage.doc_id,
            meta.get("title") or passage.doc_id,
            meta.get("publisher"),
            meta.get("date"),
            meta.get("url"),
            passage.text,
            quote,
            passage.chunk_id,
            meta.get("jurisdiction") or [],
            meta.get("updated"),
            [dict(s) for s in meta.get("sources") or [] if isinstance(s, dict)],
        )


LATER_CITATION_KEYS = {"chunk_id", "jurisdiction", "updated", "sources"}  # after the original keys


@dataclass
class Answer:
    """A cited answer, in the shape of the `briefing ask --json` contract."""

    question: str
    answer: str
    abstained: bool
    mode: str
    citations: list[Citation]
    retrieved: list[Passage]
    latency_ms: float = 0.0
    id: str | None = None
    standalone_question: str | None = None
    verification: dict[str, int] | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The stable JSON contract (see README)."""
        out = {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "mode": self.mode,
            "citations": [
                {k: v for k, v in asdict(c).items() if k not in LATER_CITATION_KEYS}
                | {"chunk_id": c.chunk_id, "jurisdiction": c.jurisdiction}
                | {"updated": c.updated, "as_of": c.as_of, "sources": c.sources}
                for c in self.citations
            ],
            "retrieved": [p.summary() for p in self.retrieved],
            "latency_ms": round(self.latency_ms, 1),
        }
        if self.standalone_question and self.standalone_question != self.question:
            out["standalone_question"] = self.standalone_question
        if self.verification is not None:
            out["verification"] = self.verification
        if self.error:
            out["error"] = self.error
        return out
