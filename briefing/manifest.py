"""The manifest: what the index holds, in one SQLite file, one transaction per document.

SQLite (not LlamaIndex's SimpleDocumentStore, which rewrites one JSON file at the end of a run)
because a refresh killed at any moment must leave every document either fully indexed or not at
all, and the UI must keep reading while a refresh writes (WAL mode).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from briefing.corpus import normalise_date
from briefing.types import Chunk, Document

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
  doc_id TEXT PRIMARY KEY, content_hash TEXT NOT NULL, path TEXT, title TEXT, date TEXT,
  publisher TEXT, url TEXT, jurisdiction TEXT, topics TEXT, extra TEXT, text TEXT NOT NULL,
  n_chunks INTEGER NOT NULL, indexed_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
  chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, ord INTEGER NOT NULL, start INTEGER NOT NULL,
  "end" INTEGER NOT NULL, heading TEXT, text TEXT NOT NULL, n_tokens INTEGER, embedding BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE TABLE IF NOT EXISTS sentences (
  doc_id TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, embedding BLOB NOT NULL,
  PRIMARY KEY (doc_id, start));
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT);
"""


@dataclass
class DocRecord:
    """A document as the manifest knows it."""

    doc_id: str
    content_hash: str
    title: str
    date: str | None
    publisher: str | None
    url: str | None
    jurisdiction: list[str]
    topics: list[str]
    n_chunks: int
    indexed_at: str
    path: str = ""
    updated: str | None = None  # ISO date of the article's last revision (front matter `updated`)
    sources: list[dict[str, str]] = field(default_factory=list)  # its primary sources: {title, url}
    event_dates: list[str] = field(default_factory=list)  # ISO dates of the events it covers

    @property
    def as_of(self) -> str | None:
        """The date the article is current as of: `updated` when given, else `date`."""
        return self.updated or self.date

    def meta(self) -> dict:
        """Metadata shown with citations."""
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "date": self.date,
            "publisher": self.publisher,
            "url": self.url,
            "jurisdiction": self.jurisdiction,
            "topics": self.topics,
            "updated": self.updated,
            "sources": [dict(s) for s in self.sources],
            "event_dates": list(self.event_dates),
        }


class Manifest:
    """The SQLite manifest under the index folder."""

    def __init__(self, path: Path, readonly: bool = False):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        if not readonly:
            self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    # -- reading -----------------------------------------------------------------------------
    def documents(self) -> dict[str, DocRecord]:
        """Every indexed document by doc_id."""
        rows = self.conn.execute(
            "SELECT doc_id, content_hash, title, date, publisher, url, jurisdiction, topics, n_chunks,"
            " indexed_at, path, extra FROM documents ORDER BY doc_id"
        ).fetchall()
        return {r[0]: _record(r) for r in rows}

    def document_text(self, doc_id: str) -> str | None:
        row = self.conn.execute("SELECT text FROM documents WHERE doc_id=?", (doc_id,)).fetchone()
        return row[0] if row else None

    def chunk_ids(self) -> dict[str, str]:
        """chunk_id → doc_id for every chunk."""
        return dict(self.conn.execute("SELECT chunk_id, doc_id FROM chunks"))

    def chunks(self, doc_ids: Iterable[str] | None = None) -> Iterator[tuple]:
        """(chunk_id, doc_id, start, end, heading, text, embedding) rows, in document order."""
        sql = 'SELECT chunk_id, doc_id, start, "end", heading, text, embedding FROM chunks'
        if doc_ids is None:
            yield from self.conn.execute(sql + " ORDER BY doc_id, ord")
            return
        for doc_id in doc_ids:
            yield from self.conn.execute(sql + " WHERE doc_id=? ORDER BY ord", (doc_id,))

    def sentences(self, doc_id: str, start: int, end: int) -> list[tuple[int, int, np.ndarray]]:
        """Sentences inside [start, end) of a document, with their embeddings."""
        rows = self.conn.execute(
            'SELECT start, "end", embedding FROM sentences WHERE doc_id=? AND start>=? AND "end"<=?'
            " ORDER BY start",
            (doc_id, start, end),
        ).fetchall()
        return [(s, e, np.frombuffer(b, dtype=np.float32)) for s, e, b in rows]

    def generation(self) -> int:
        """A counter bumped by every change, so derived indexes can tell they are stale."""
        row = self.conn.execute("SELECT value FROM info WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    def info(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM info WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    # -- writing (each call is one transaction) -----------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self.conn:
            yield self.conn
            self.conn.execute(
                "INSERT INTO info(key, value) VALUES('generation', '1') ON CONFLICT(key)"
                " DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )

    def put(
        self,
        doc: Document,
        chunks: list[Chunk],
        chunk_vecs: np.ndarray,
        sentences: list[tuple[int, int]],
        sentence_vecs: np.ndarray,
    ) -> None:
        """Replace a document and all its chunks and sentences, atomically."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._tx() as tx:
            _delete(tx, doc.doc_id)
            tx.execute(
                "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    doc.doc_id,
                    doc.content_hash,
                    doc.path,
                    doc.title,
                    doc.date,
                    doc.publisher,
                    doc.url,
                    json.dumps(doc.jurisdiction),
                    json.dumps(doc.topics),
                    json.dumps(doc.extra),
                    doc.text,
                    len(chunks),
                    now,
                ),
            )
            tx.executemany(
                "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (
                        c.chunk_id,
                        c.doc_id,
                        i,
                        c.start,
                        c.end,
                        c.heading,
                        c.text,
                        c.n_tokens,
                        chunk_vecs[i].astype(np.float32).tobytes(),
                    )
                    for i, c in enumerate(chunks)
                ],
            )
            tx.executemany(
                "INSERT OR REPLACE INTO sentences VALUES (?,?,?,?)",
                [
                    (doc.doc_id, s, e, sentence_vecs[i].astype(np.float32).tobytes())
                    for i, (s, e) in enumerate(sentences)
                ],
            )

    def delete(self, doc_id: str) -> None:
        """Remove a document and everything derived from it, atomically."""
        with self._tx() as tx:
            _delete(tx, doc_id)

    def set_info(self, key: str, value: str) -> None:
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO info(key, value) VALUES(?, ?)", (key, value))


def _delete(tx: sqlite3.Connection, doc_id: str) -> None:
    for table in ("documents", "chunks", "sentences"):
        tx.execute(f"DELETE FROM {table} WHERE doc_id=?", (doc_id,))


def _record(row: tuple) -> DocRecord:
    return DocRecord(
        doc_id=row[0],
        content_hash=row[1],
        title=row[2],
        date=row[3],
        publisher=row[4],
        url=row[5],
        jurisdiction=json.loads(row[6] or "[]"),
        topics=json.loads(row[7] or "[]"),
        n_chunks=row[8],
        indexed_at=row[9],
        path=row[10] or "",
        **front_matter_extras(json.loads(row[11] or "{}") if len(row) > 11 else {}),
    )


def front_matter_extras(extra: dict) -> dict:
    """`updated`, `sources` and `event_dates` of a document's extra front matter, normalised:
    an ISO date, a list of {title, url} (a bare URL string is a source without a title), and the
    sorted ISO dates of `event_dates` entries (a date, or a mapping with a `date` key)."""
    extra = extra if isinstance(extra, dict) else {}
    listed = extra.get("sources")
    sources = []
    for entry in listed if isinstance(listed, list) else [listed] if listed else []:
        if isinstance(entry, str):
            entry = {"url": entry}
        if isinstance(entry, dict) and (entry.get("url") or entry.get("title")):
            sources.append({k: str(entry[k]) for k in ("title", "url") if entry.get(k)})
    dated = extra.get("event_dates")
    events = set()
    for entry in dated if isinstance(dated, list) else [dated] if dated else []:
        value = normalise_date(entry.get("date") if isinstance(entry, dict) else entry)
        if value:
            events.add(value)
    return {
        "updated": normalise_date(extra.get("updated")),
        "sources": sources,
        "event_dates": sorted(events),
    }
