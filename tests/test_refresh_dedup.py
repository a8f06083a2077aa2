"""Duplicate stories: exact and edited copies."""

from __future__ import annotations

from briefing.refresh import Duplicates
from tests.refresh_site import A1, A2, W2, WIRE


def test_duplicates_exact_and_near():
    dups = Duplicates()
    dups.add("wire/a", "\n\n".join(WIRE))
    dups.add("other", "\n\n".join(A1[2]))
    assert dups.find("  ".join(WIRE).upper()) == "wire/a"  # same words: exact
    assert dups.find("\n\n".join(W2[2])) == "wire/a"  # edited copy: near
    assert dups.find("\n\n".join(WIRE), exclude="wire/a") is None  # its own earlier version
    assert dups.find("\n\n".join(A2[2])) is None
    assert dups.find("\n\n".join(WIRE[:2])) is None  # half the story is not the story
