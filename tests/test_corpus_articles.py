"""Checks every article of the starter corpus: format, vocabulary, length, sources, originality."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
ARTICLES = sorted((CORPUS / "articles").glob("*.md"))
SHARED = ROOT.parent / "shared"
RUN = 12  # shared word-run length that counts as copying


def _vocabulary(heading: str) -> set[str]:
    """The backticked names listed under a `### heading` of corpus/README.md."""
    text = (CORPUS / "README.md").read_text(encoding="utf-8")
    section = text.split(f"### {heading}", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    if heading == "Topics":
        return set(re.findall(r"^\| `([a-z-]+)`", section, flags=re.M))
    return set(re.findall(r"`([A-Za-z]+)`", section))


def _split(path: Path) -> tuple[dict, str]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n"), f"{path.name}: no front matter"
    _, head, body = text.split("---\n", 2)
    return yaml.safe_load(head), body


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _body_words(body: str) -> int:
    """Words of the body without the Sources section and Markdown syntax."""
    main = re.split(r"^## Sources\s*$", body, flags=re.M)[0]
    return len(re.findall(r"[A-Za-z0-9][\w'’.-]*", main))


def test_there_are_at_least_45_articles():
    assert len(ARTICLES) >= 45


@pytest.mark.parametrize("path", ARTICLES, ids=lambda p: p.stem)
def test_article_format(path: Path):
    meta, body = _split(path)
    for field in ("title", "date", "publisher", "jurisdiction", "topics", "sources"):
        assert meta.get(field), f"missing {field}"
    assert isinstance(meta["date"], dt.date), "date must be an ISO date (YYYY-MM-DD)"
    assert meta["publisher"] == "Briefing desk"
    assert set(meta["jurisdiction"]) <= _vocabulary("Jurisdictions"), meta["jurisdiction"]
    assert set(meta["topics"]) <= _vocabulary("Topics"), meta["topics"]
    assert 400 <= _body_words(body) <= 900, f"{_body_words(body)} words"
    assert body.lstrip().startswith("# "), "the body starts with a # title"
    urls = []
    for source in meta["sources"]:
        assert source.get("title"), source
        assert re.match(r"^https?://\S+$", source.get("url", "")), source
        urls.append(source["url"])
    assert re.search(r"^## Sources\s*$", body, flags=re.M), "no Sources section"
    listed = re.split(r"^## Sources\s*$", body, flags=re.M)[1]
    for url in urls:
        assert url in listed, f"source {url} is not in the Sources section"
    assert len(re.findall(r"^- ", listed, flags=re.M)) == len(urls), "Sources section differs"


def test_titles_are_unique():
    titles = [_split(p)[0]["title"].strip().lower() for p in ARTICLES]
    assert len(titles) == len(set(titles))


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is absent: no reference texts to compare")
def test_no_run_of_12_words_copied_from_shared():
    shared_runs: set[tuple[str, ...]] = set()
    titles: list[str] = []
    for path in SHARED.rglob("*"):
        if not path.is_file() or path.suffix not in {".md", ".txt", ".jsonl"}:
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        if text.startswith("---\n"):
            head = text.split("---\n", 2)[1]
            titles += re.findall(r"^title:\s*['\"]?(.+?)['\"]?\s*$", head, flags=re.M)
        words = _words(text)
        shared_runs.update(tuple(words[i : i + RUN]) for i in range(len(words) - RUN + 1))
    copied = []
    for path in ARTICLES:
        meta, body = _split(path)
        allowed = titles + [s["title"] for s in meta["sources"]] + [meta["title"]]
        allowed = sorted((" ".join(_words(t)) for t in allowed), key=len, reverse=True)
        for segment in re.split(r"https?://\S+", body):  # links cite a document, they copy no prose
            text = " ".join(_words(segment))
            for title in allowed:
                text = text.replace(title, " | ") if title else text
            for piece in text.split("|"):
                words = piece.split()
                for i in range(len(words) - RUN + 1):
                    if tuple(words[i : i + RUN]) in shared_runs:
                        copied.append(f"{path.name}: {' '.join(words[i : i + RUN])}")
    assert not copied, "\n".join(copied[:20])
