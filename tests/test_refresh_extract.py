"""Feeds and article pages served by a real server on 127.0.0.1, parsed."""

from __future__ import annotations

from briefing.refresh import extract_page, parse_feed
from tests.refresh_site import A1, A2, LOCAL


def test_feeds_and_pages_are_parsed(site, fetcher):
    items = parse_feed(fetcher.get(site.url("/feeds/policy.rss"), LOCAL).body, site.url("/feeds/policy.rss"))
    assert [(i.title, i.date, i.publisher) for i in items][:2] == [
        (A1[0], "2025-03-14", "Policy Wire"),
        (A2[0], "2025-04-02", "Policy Wire"),
    ]
    entries = parse_feed(fetcher.get(site.url("/feeds/wire.atom"), LOCAL).body, site.base)
    assert [e.url for e in entries] == [
        site.url(p)
        for p in ("/wire/g7-reporting-framework", "/news/singapore-framework", "/news/beyond-limit")
    ]
    page = fetcher.get(site.url("/news/uk-aisi-test-results"), LOCAL)
    assert parse_feed(page.body, page.url) is None
    found = extract_page(page.body, page.url)
    assert (found.title, found.date, found.publisher, found.author) == (
        A2[0],
        "2025-04-02",
        "Policy Wire",
        "Sam Lee",
    )
    assert "capture-the-flag" in found.text and "Most read" not in found.text and "Privacy" not in found.text
