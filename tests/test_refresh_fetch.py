"""The refresh's HTTP client against a real server on 127.0.0.1: checked redirects, limits, retries."""

from __future__ import annotations

import time

import pytest

from briefing.refresh import Access, FetchError
from tests.refresh_site import LOCAL


@pytest.mark.parametrize(
    ("path", "address"),
    [("/to-private", "10.0.0.1"), ("/to-lan", "192.168.1.1"), ("/to-metadata", "169.254.169.254")],
)
def test_a_redirect_to_a_private_address_is_refused_before_connecting(
    site, fetcher, loopback_only, path, address
):
    before = len(loopback_only.calls)
    with pytest.raises(FetchError, match=f"refused .*{address}"):
        fetcher.get(site.url(path), LOCAL)
    assert loopback_only.calls[before:] == ["127.0.0.1"]  # the first hop only
    assert loopback_only.blocked == []


def test_loopback_is_refused_unless_the_source_allows_it(site, fetcher, loopback_only):
    before = len(loopback_only.calls), len(site.served)
    with pytest.raises(FetchError, match="refused 127.0.0.1: 127.0.0.1 is a private, loopback"):
        fetcher.get(site.url("/news/singapore-framework"), Access())
    with pytest.raises(FetchError, match="refused localhost"):
        fetcher.get(site.url("/news/singapore-framework").replace("127.0.0.1", "localhost"), Access())
    assert (len(loopback_only.calls), len(site.served)) == before
    assert fetcher.get(site.url("/news/singapore-framework"), Access(allow_private=True)).status == 200


def test_only_http_urls_are_fetched_even_through_a_redirect(site, fetcher):
    with pytest.raises(FetchError, match="only http"):
        fetcher.get("ftp://127.0.0.1/pub/file.txt", LOCAL)
    with pytest.raises(FetchError, match="refused file:/+etc/passwd: only http"):
        fetcher.get(site.url("/to-file"), LOCAL)


def test_fetch_errors_are_one_line_reasons(site, fetcher):
    with pytest.raises(FetchError, match=r"^HTTP 404 NOT FOUND$"):
        fetcher.get(site.url("/missing"), LOCAL)
    with pytest.raises(FetchError, match=r"^larger than 100000 bytes$"):
        fetcher.get(site.url("/huge"), LOCAL)
    with pytest.raises(FetchError, match=r"^larger than 100000 bytes \(Content-Length 200000\)$"):
        fetcher.get(site.url("/huge-declared"), LOCAL)
    with pytest.raises(FetchError, match=r"^more than 5 redirects$"):
        fetcher.get(site.url("/loop/0"), LOCAL)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"^timed out after 1s \(after 2 attempts\)$"):
        fetcher.get(site.url("/slow"), LOCAL)
    assert time.monotonic() - started < 2.5 * 2  # gave up before the server answered


def test_redirects_retries_and_conditional_requests(site, fetcher):
    hop = fetcher.get(site.url("/hop"), LOCAL)
    assert (hop.status, hop.url) == (200, site.url("/news/singapore-framework"))
    assert fetcher.get(site.url("/flaky"), LOCAL).status == 200  # a 503, then a retry
    first = fetcher.get(site.url("/news/singapore-framework"), LOCAL)
    again = fetcher.get(site.url("/news/singapore-framework"), LOCAL, {"etag": first.etag})
    assert (first.status, again.status, again.body) == (200, 304, b"")
