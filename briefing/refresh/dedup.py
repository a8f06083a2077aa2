"""Duplicate stories: exact copies and edited copies of the same text."""

from __future__ import annotations

import hashlib
import re

SHINGLE_WORDS = 5
NEAR_DUPLICATE = 0.6  # shingle Jaccard from which two texts are taken for one story


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


class Duplicates:
    """Finds a text's exact copy (content hash) or near copy (Jaccard of word 5-gram shingles).

    Written by hand since no MinHash library is installed: exact Jaccard over hashed shingle sets is
    cheap at corpus scale, and pairs whose sizes alone rule out the threshold are not compared.
    """

    def __init__(self, threshold: float = NEAR_DUPLICATE):
        self.threshold = threshold
        self._digests: dict[str, str] = {}
        self._shingles: dict[str, frozenset[int]] = {}

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._digests

    def add(self, doc_id: str, text: str) -> None:
        words = _words(text)
        self._digests[doc_id] = self._digest(words)
        self._shingles[doc_id] = self._shingle(words)

    def find(self, text: str, exclude: str = "") -> str | None:
        """The doc_id of a document that `text` duplicates (other than `exclude`), or None."""
        words = _words(text)
        digest = self._digest(words)
        for doc_id, other in self._digests.items():
            if other == digest and doc_id != exclude:
                return doc_id
        mine = self._shingle(words)
        best, best_score = None, self.threshold
        for doc_id, theirs in self._shingles.items():
            small, large = sorted((len(mine), len(theirs)))
            if doc_id == exclude or small < self.threshold * large:  # Jaccard <= small / large
                continue
            score = len(mine & theirs) / len(mine | theirs)
            if score >= best_score:
                best, best_score = doc_id, score
        return best

    @staticmethod
    def _digest(words: list[str]) -> str:
        return hashlib.sha256(" ".join(words).encode()).hexdigest()

    @staticmethod
    def _shingle(words: list[str]) -> frozenset[int]:
        n = min(SHINGLE_WORDS, len(words))
        return (
            frozenset(hash(" ".join(words[i : i + n])) for i in range(len(words) - n + 1))
            if n
            else frozenset()
        )
