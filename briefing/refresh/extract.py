"""Reading what was fetched: the items of a feed, the article of a page."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

MIN_ARTICLE_WORDS = 40


@dataclass
class FeedItem:
    """A feed entry: the article it links to, with the feed's own metadata as fallbacks."""

    url: str
    title: str | None = None
    date: str | None = None
    publisher: str | None = None


@dataclass
class Article:
    """The main text and metadata of a web page."""

    text: str
    title: str | None
    date: str | None
    publisher: str | None
    author: str | None


def parse_feed(body: bytes, url: str) -> list[FeedItem] | None:
    """The items of an RSS or Atom feed, or None when `body` is not a feed."""
    import feedparser

    # A stream, never a string: feedparser fetches a string that looks like a URL by itself.
    parsed = feedparser.parse(io.BytesIO(body), response_headers={"content-location": url})
    if not parsed.get("version"):
        return None
    publisher = parsed.feed.get("title")
    return [
        FeedItem(entry.link, entry.get("title"), _entry_date(entry), publisher)
        for entry in parsed.entries
        if entry.get("link")
    ]


def _entry_date(entry: Any) -> str | None:
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    return dt.date(*stamp[:3]).isoformat() if stamp else None


def extract_page(body: bytes, url: str) -> Article | None:
    """Main text (as Markdown) and metadata of an HTML page; None when it holds no article."""
    import trafilatura

    text = trafilatura.extract(
        body,
        url=url,
        output_format="markdown",
        include_formatting=True,
        include_comments=False,
        favor_precision=True,
    )
    if not text or len(text.split()) < MIN_ARTICLE_WORDS:
        return None
    tree = trafilatura.load_html(body)
    # extensive=False: only dates marked up as such; the full search guesses from copyright lines.
    meta = trafilatura.extract_metadata(tree, default_url=url, extensive=False) if tree is not None else None
    if meta is None:
        return Article(text, None, None, None, None)
    return Article(text, meta.title, meta.date, meta.sitename, meta.author)
