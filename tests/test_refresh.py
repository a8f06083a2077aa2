"""`briefing refresh` against a real HTTP server on 127.0.0.1: feeds, pages, failures, duplicates, safety.

Every test here runs under `loopback_only`: any connection to an address other than 127.0.0.1 is
refused and recorded, so no packet leaves the loopback interface and refused redirects are proven to
be refused before connecting.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from briefing.cli import app
from briefing.corpus import split_front_matter
from briefing.manifest import Manifest
from briefing.refresh import (
    Access,
    Duplicates,
    Fetcher,
    FetchError,
    FetchPolicy,
    extract_page,
    parse_feed,
    run_refresh,
)
from tests.conftest import ROOT, make_settings, shared_or_skip

runner = CliRunner()
LOCAL = Access(allow_hosts=frozenset({"127.0.0.1"}))
POLICY = FetchPolicy(timeout=1.0, max_bytes=100_000, retries=1, backoff=0.05)

# -- the web site -----------------------------------------------------------------------------------

A1 = (
    "EU AI Office opens consultation on the general-purpose AI code of practice",
    "2025-03-14",
    [
        "The European AI Office has opened a public consultation on the code of practice for providers of "
        "general-purpose AI models. Companies, researchers and civil society groups have until the end of "
        "April to send written comments on the draft, which sets out how the obligations of the AI Act "
        "could be met in practice.",
        "The draft covers three areas: technical documentation that providers must keep and share with "
        "downstream developers, a policy to respect copyright when collecting training data, and the "
        "assessment of systemic risks for the most capable models. Officials said the text would be "
        "revised twice before it is finalised.",
        "Industry associations welcomed the chance to comment but warned that some reporting duties could "
        "weigh heavily on smaller developers. Several civil society organisations asked for stronger "
        "commitments on independent testing and for clearer rules on incident reporting.",
        "The AI Office said it would publish a summary of the responses together with the next draft. "
        "Providers that sign the final code will be able to rely on it to demonstrate compliance until "
        "harmonised standards are adopted.",
    ],
)
A2 = (
    "UK AI Security Institute publishes pre-deployment test results for two frontier models",
    "2025-04-02",
    [
        "The UK AI Security Institute has published the results of its latest round of pre-deployment "
        "testing, covering two frontier models made available by their developers before public release. "
        "The institute said the tests focused on cyber capabilities, chemical and biological knowledge, "
        "and the robustness of safeguards against misuse.",
        "According to the report, both models could complete a range of capture-the-flag cyber tasks that "
        "earlier systems failed, although neither could carry out a full intrusion without expert help. "
        "Safeguards were bypassed in a minority of attempts by the institute's red teams.",
        "The institute stressed that its findings were shared with the developers ahead of publication and "
        "that several mitigations were added as a result. It also released the evaluation tooling used in "
        "the exercise so that other testing bodies can reproduce the methods.",
    ],
)
S1 = (
    "Singapore updates its model governance framework for generative AI",
    "2025-02-20",
    [
        "Singapore has updated its model governance framework for generative AI, adding guidance on content "
        "provenance, incident reporting and the testing of applications built on large language models. "
        "The Infocomm Media Development Authority said the changes followed a year of consultation.",
        "The revised framework asks developers to label AI-generated content where practical and to keep "
        "records that allow incidents to be traced. It also recommends that organisations deploying "
        "chatbots in public services run structured red-teaming exercises before launch.",
        "The authority said the framework remains voluntary, but it expects companies in regulated sectors "
        "to use it when explaining their controls to supervisors. A companion toolkit for testing "
        "retrieval-based applications will be released later in the year.",
    ],
)
WIRE = [
    "Digital ministers from the Group of Seven agreed on Tuesday to a common reporting framework for "
    "companies that develop advanced AI systems, building on the code of conduct adopted under the "
    "Hiroshima process. The framework asks developers to publish regular reports on risk assessments, "
    "security measures and incidents.",
    "Ministers said the reports would be voluntary at first but that participating companies were expected "
    "to file their first submissions before the end of the year. The OECD will host the reports and "
    "publish a summary of the information received.",
    "Several ministers stressed that the framework was designed to work alongside national rules such as "
    "the European Union's AI Act rather than replace them. Business groups welcomed the move toward a "
    "single template, saying it would reduce duplicated paperwork across jurisdictions.",
    "Civil society organisations said the framework was a useful first step but called for independent "
    "verification of the reports and for clearer expectations on how companies should respond to serious "
    "incidents.",
]
W1 = ("G7 ministers agree common AI reporting framework", "2025-05-06", WIRE)
# The same wire story on another site: a dateline, an edited closing paragraph, a credit line.
W2 = (
    "G7 agrees on a common reporting framework for advanced AI",
    "2025-05-06",
    [
        "TOKYO — " + WIRE[0],
        *WIRE[1:3],
        WIRE[3].replace("a useful first step", "a welcome start"),
        "Capital Daily staff contributed reporting from Tokyo.",
    ],
)


def article(story: tuple[str, str, list[str]], site: str, author: str = "Jane Doe") -> str:
    """A realistic news page: navigation, byline, article, sidebar and footer."""
    title, date, paragraphs = story
    body = "\n".join(f"      <p>{p}</p>" for p in paragraphs)
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title} | {site}</title>
  <meta property="og:title" content="{title}">
  <meta property="og:site_name" content="{site}">
  <meta name="author" content="{author}">
  <meta property="article:published_time" content="{date}T08:00:00Z">
</head>
<body>
  <header>
    <nav><a href="/">Home</a> · <a href="/policy">Policy</a> · <a href="/subscribe">Subscribe</a></nav>
  </header>
  <main>
    <article>
      <h1>{title}</h1>
      <p class="byline">By {author}, {site}</p>
{body}
    </article>
    <aside><h3>Most read</h3><ul><li><a href="/chips">Chip export rules tighten again</a></li></ul></aside>
  </main>
  <footer><p>© 2025 {site}. All rights reserved.</p><a href="/privacy">Privacy</a></footer>
</body>
</html>"""


def rss(base: str, items: list[tuple[str, str, str]]) -> str:
    entries = "".join(
        f"<item><title>{t}</title><link>{base}{path}</link><pubDate>{date}</pubDate></item>"
        for t, path, date in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Policy Wire</title>'
        f"<link>{base}/</link><description>AI policy news</description>{entries}</channel></rss>"
    )


def atom(base: str, items: list[tuple[str, str, str]]) -> str:
    entries = "".join(
        f'<entry><title>{t}</title><link href="{base}{path}"/><id>{base}{path}</id>'
        f"<updated>{date}</updated></entry>"
        for t, path, date in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Global Wire</title>"
        f'<id>{base}/atom</id><updated>2025-05-06T00:00:00Z</updated><link href="{base}/"/>{entries}</feed>'
    )


@dataclass
class Site:
    """The test web site: its pages (editable by tests) and the log of what it served."""

    server: HTTPServer
    pages: dict[str, tuple[str, str]] = field(default_factory=dict)  # path -> (content type, body)
    served: list[tuple[str, int]] = field(default_factory=list)  # (path, status)

    def url(self, path: str) -> str:
        return self.server.url_for(path)

    @property
    def base(self) -> str:
        return self.url("").rstrip("/")

    def requested(self, path: str) -> int:
        """How many requests the server received for `path`."""
        return sum(1 for request, _ in self.server.log if request.path == path)


def _conditional(site: Site, path: str):
    """Serve a page with an ETag, and 304 to a request that already has it."""

    def handler(request: Request) -> Response:
        kind, text = site.pages[path]
        etag = '"' + hashlib.sha1(text.encode()).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            site.served.append((path, 304))
            return Response(status=304, headers={"ETag": etag})
        site.served.append((path, 200))
        return Response(text, content_type=kind, headers={"ETag": etag})

    return handler


def _slow(request: Request) -> Response:
    time.sleep(2.5)
    return Response(article(A1, "Slow News"), content_type="text/html")


def _huge(request: Request) -> Response:
    chunk = ("<p>" + "filler words about model governance " * 50 + "</p>\n").encode()
    return Response((chunk for _ in range(200)), content_type="text/html")  # streamed, no Content-Length


def _flaky_handler():
    calls = []

    def handler(request: Request) -> Response:
        calls.append(1)
        if len(calls) == 1:
            return Response("busy", status=503)
        return Response(article(S1, "Flaky News"), content_type="text/html")

    return handler


@pytest.fixture(scope="module")
def loopback_only():
    """Refuse (and record) every connection to an address other than 127.0.0.1."""
    guard = Guard()
    real_connect, real_create = socket.socket.connect, socket.create_connection

    def connect(sock, address):
        guard.check(address, sock.family)
        return real_connect(sock, address)

    def create_connection(address, *args, **kwargs):
        guard.check(address, socket.AF_INET, record=False)  # its socket's connect() records it
        return real_create(address, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket, "create_connection", create_connection)
        yield guard


@dataclass
class Guard:
    calls: list = field(default_factory=list)
    blocked: list = field(default_factory=list)

    def check(self, address, family, record: bool = True) -> None:
        if family not in (socket.AF_INET, socket.AF_INET6):
            return
        if record:
            self.calls.append(address[0])
        if address[0] != "127.0.0.1":
            self.blocked.append(address)
            raise OSError(f"test guard: connection to {address} refused")


@pytest.fixture(scope="module")
def site(loopback_only) -> Site:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    web = Site(server)
    base = web.base
    web.pages = {
        "/feeds/policy.rss": (
            "application/rss+xml",
            rss(
                base,
                [
                    (A1[0], "/news/eu-ai-office-consultation", "Fri, 14 Mar 2025 08:00:00 GMT"),
                    (A2[0], "/news/uk-aisi-test-results", "Wed, 02 Apr 2025 08:00:00 GMT"),
                    ("Mirror: " + A1[0], "/mirror/eu-ai-office", "Sat, 15 Mar 2025 08:00:00 GMT"),
                    ("An old story", "/news/old-story", "Tue, 10 Jan 2023 08:00:00 GMT"),
                ],
            ),
        ),
        "/feeds/wire.atom": (
            "application/atom+xml",
            atom(
                base,
                [
                    (W1[0], "/wire/g7-reporting-framework", "2025-05-06T06:00:00Z"),
                    (S1[0], "/news/singapore-framework", "2025-02-20T06:00:00Z"),
                    ("Beyond the item limit", "/news/beyond-limit", "2025-01-01T06:00:00Z"),
                ],
            ),
        ),
        "/feeds/small.atom": (
            "application/atom+xml",
            atom(
                base,
                [
                    (W1[0], "/wire/g7-reporting-framework", "2025-05-06T06:00:00Z"),
                    (S1[0], "/news/singapore-framework", "2025-02-20T06:00:00Z"),
                ],
            ),
        ),
        "/news/eu-ai-office-consultation": ("text/html; charset=utf-8", article(A1, "Policy Wire")),
        "/news/uk-aisi-test-results": ("text/html; charset=utf-8", article(A2, "Policy Wire", "Sam Lee")),
        "/mirror/eu-ai-office": ("text/html; charset=utf-8", article(A1, "Policy Wire")),
        "/wire/g7-reporting-framework": ("text/html", article(W1, "Global Wire", "Kenji Sato")),
        "/news/singapore-framework": ("text/html", article(S1, "Asia Tech Review", "Mei Tan")),
        "/site-b/g7-framework": ("text/html", article(W2, "Capital Daily", "Kenji Sato")),
    }
    for path in web.pages:
        server.expect_request(path).respond_with_handler(_conditional(web, path))
    server.expect_request("/missing").respond_with_data("no such page", status=404)
    server.expect_request("/slow").respond_with_handler(_slow)
    server.expect_request("/huge").respond_with_handler(_huge)
    server.expect_request("/huge-declared").respond_with_data("x" * 200_000, content_type="text/html")
    server.expect_request("/to-private").respond_with_data(
        "", status=302, headers={"Location": "http://10.0.0.1/x"}
    )
    server.expect_request("/to-lan").respond_with_data(
        "", status=301, headers={"Location": "http://192.168.1.1/"}
    )
    server.expect_request("/to-metadata").respond_with_data(
        "", status=307, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    server.expect_request("/to-file").respond_with_data(
        "", status=302, headers={"Location": "file:///etc/passwd"}
    )
    server.expect_request("/hop").respond_with_data(
        "", status=302, headers={"Location": "/news/singapore-framework"}
    )
    for n in range(7):
        server.expect_request(f"/loop/{n}").respond_with_data(
            "", status=302, headers={"Location": f"/loop/{n + 1}"}
        )
    server.expect_request("/flaky").respond_with_handler(_flaky_handler())
    yield web
    server.clear()
    server.stop()


# -- the fetcher ------------------------------------------------------------------------------------


@pytest.fixture()
def fetcher():
    fetcher = Fetcher(POLICY)
    yield fetcher
    fetcher.close()


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


def test_duplicates_exact_and_near():
    dups = Duplicates()
    dups.add("wire/a", "\n\n".join(WIRE))
    dups.add("other", "\n\n".join(A1[2]))
    assert dups.find("  ".join(WIRE).upper()) == "wire/a"  # same words: exact
    assert dups.find("\n\n".join(W2[2])) == "wire/a"  # edited copy: near
    assert dups.find("\n\n".join(WIRE), exclude="wire/a") is None  # its own earlier version
    assert dups.find("\n\n".join(A2[2])) is None
    assert dups.find("\n\n".join(WIRE[:2])) is None  # half the story is not the story


# -- whole refreshes --------------------------------------------------------------------------------


def web_sources(site: Site) -> str:
    """sources.toml with an RSS feed, an Atom feed and single pages, all on the test server."""
    pages = ["/site-b/g7-framework", "/missing", "/slow", "/to-private", "/to-lan", "/huge"]
    return f"""
[fetch]
timeout = {POLICY.timeout}
max_bytes = {POLICY.max_bytes}
retries = {POLICY.retries}
backoff = {POLICY.backoff}

[[source]]
name = "policy-rss"
kind = "feed"
url = "{site.url("/feeds/policy.rss")}"
since = 2024-01-01
allow_hosts = ["127.0.0.1"]
jurisdiction = ["EU"]
topics = ["legislation"]

[[source]]
name = "wire-atom"
kind = "feed"
url = "{site.url("/feeds/wire.atom")}"
limit = 2
allow_hosts = ["127.0.0.1"]
jurisdiction = ["International"]

[[source]]
name = "pages"
kind = "url"
url = {json.dumps([site.url(p) for p in pages])}
allow_hosts = ["127.0.0.1"]
"""


def web_corpus(tmp: Path, site: Site):
    corpus = tmp / "corpus"
    corpus.mkdir()
    (corpus / "sources.toml").write_text(web_sources(site))
    return make_settings(corpus, tmp / "index")


def cli_refresh(settings, *args: str) -> tuple[int, dict]:
    result = runner.invoke(
        app,
        [
            "refresh",
            "--corpus",
            str(settings.corpus_dir),
            "--index-dir",
            str(settings.index_dir),
            "--json",
            *args,
        ],
    )
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def test_dry_run_fetches_and_compares_but_writes_nothing(site, tmp_path):
    settings = web_corpus(tmp_path, site)
    report = run_refresh(settings, dry_run=True)
    assert (report.counts()["added"], report.counts()["duplicate"], report.counts()["failed"]) == (4, 2, 5)
    assert report.index is None
    assert not (tmp_path / "corpus" / "fetched").exists() and not (tmp_path / "index").exists()


def test_from_url_reads_a_feed_or_a_page_with_allow_host(site, tmp_path, loopback_only):
    settings = make_settings(tmp_path / "corpus", tmp_path / "index")
    (tmp_path / "corpus").mkdir()
    refused = run_refresh(settings, origin=site.url("/news/singapore-framework"), dry_run=True)
    assert "private, loopback" in refused.failed[0][1]
    page = run_refresh(
        settings, origin=site.url("/news/singapore-framework"), dry_run=True, allow_hosts=["127.0.0.1"]
    )
    assert page.added == [
        "fetched/127-0-0-1/singapore-updates-its-model-governance-framework-for-generative-ai"
    ]
    feed = run_refresh(
        settings, origin=site.url("/feeds/small.atom"), dry_run=True, allow_hosts=["127.0.0.1"]
    )
    assert sorted(feed.added) == [f"fetched/127-0-0-1/{doc_id.split('/')[-1]}" for doc_id in (G7, SG)]
    assert not feed.failed
    assert loopback_only.blocked == []


EU = "fetched/policy-rss/eu-ai-office-opens-consultation-on-the-general-purpose-ai-code-of-practice"
UK = "fetched/policy-rss/uk-ai-security-institute-publishes-pre-deployment-test-results-for-two-frontier"
G7 = "fetched/wire-atom/g7-ministers-agree-common-ai-reporting-framework"
SG = "fetched/wire-atom/singapore-updates-its-model-governance-framework-for-generative-ai"


@pytest.fixture(scope="module")
def first_run(site, tmp_path_factory):
    settings = web_corpus(tmp_path_factory.mktemp("web"), site)
    return settings, *cli_refresh(settings)


@pytest.mark.slow
def test_first_refresh_adds_articles_reports_duplicates_and_failures(first_run, site, loopback_only):
    settings, code, report = first_run
    assert code == 1  # some items failed, the rest is applied
    assert report["counts"] == {
        "added": 4,
        "updated": 0,
        "unchanged": 0,
        "duplicate": 2,
        "skipped": 0,
        "failed": 5,
        "removed": 0,
    }
    assert sorted(report["added"]) == sorted([EU, UK, G7, SG])
    assert {d["item"]: d["of"] for d in report["duplicate"]} == {
        site.url("/mirror/eu-ai-office"): EU,  # exact copy
        site.url("/site-b/g7-framework"): G7,  # the same wire story, edited
    }
    reasons = {f["item"].rsplit("/", 1)[-1]: f["reason"] for f in report["failed"]}
    assert reasons["missing"] == "HTTP 404 NOT FOUND"
    assert reasons["slow"].startswith("timed out after 1s")
    assert reasons["to-private"].startswith("refused 10.0.0.1: 10.0.0.1 is a private")
    assert reasons["to-lan"].startswith("refused 192.168.1.1")
    assert reasons["huge"] == "larger than 100000 bytes"
    assert all("\n" not in r for r in reasons.values())
    assert (
        sorted(report["index"]["added"]) == sorted([EU, UK, G7, SG])
        and report["index"]["chunks_embedded"] > 0
    )
    assert site.requested("/news/old-story") == site.requested("/news/beyond-limit") == 0  # since, limit
    assert loopback_only.blocked == []

    body, meta = split_front_matter((Path(settings.corpus_dir) / f"{EU}.md").read_text())
    assert list(meta) == [
        "title",
        "date",
        "publisher",
        "author",
        "url",
        "jurisdiction",
        "topics",
        "fetched_at",
        "source",
    ]
    assert (meta["title"], str(meta["date"]), meta["publisher"], meta["author"]) == (
        A1[0],
        "2025-03-14",
        "Policy Wire",
        "Jane Doe",
    )
    assert (meta["url"], meta["jurisdiction"], meta["topics"], meta["source"]) == (
        site.url("/news/eu-ai-office-consultation"),
        ["EU"],
        ["legislation"],
        "policy-rss",
    )
    assert (
        body.lstrip().startswith(f"# {A1[0]}") and "harmonised standards" in body and "Subscribe" not in body
    )
    state = json.loads((Path(settings.index_dir) / "refresh-state.json").read_text())
    assert state["aliases"] == {
        EU: [site.url("/mirror/eu-ai-office")],
        G7: [site.url("/site-b/g7-framework")],
    }
    manifest = Manifest(Path(settings.index_dir) / "manifest.sqlite")
    assert manifest.info("last_refresh") and sorted(manifest.documents()) == sorted([EU, UK, G7, SG])
    manifest.close()


@pytest.mark.slow
def test_a_refresh_with_no_change_embeds_nothing(first_run, site, loopback_only):
    settings, _, _ = first_run
    served = len(site.served)
    code, report = cli_refresh(settings)
    assert code == 1  # the broken pages are still broken
    counts = report["counts"]
    assert (counts["added"], counts["updated"], counts["unchanged"], counts["duplicate"]) == (0, 0, 4, 2)
    assert (
        report["index"]["added"] == report["index"]["updated"] == []
        and report["index"]["chunks_embedded"] == 0
    )
    assert {status for _, status in site.served[served:]} == {304}  # conditional requests, feeds included
    assert loopback_only.blocked == []


@pytest.mark.slow
def test_a_changed_article_is_updated_and_prune_removes_what_the_feed_dropped(first_run, site):
    settings, _, _ = first_run
    original = dict(site.pages)
    try:
        _change_and_prune(settings, site)
    finally:
        site.pages.update(original)


def _change_and_prune(settings, site: Site) -> None:
    kind, html = site.pages["/news/eu-ai-office-consultation"]
    site.pages["/news/eu-ai-office-consultation"] = (
        kind,
        html.replace(
            "</article>",
            "<p>Update: the AI Office extended the deadline for comments by two weeks after "
            "requests from several member states.</p></article>",
        ),
    )
    kind, feed = site.pages["/feeds/policy.rss"]
    site.pages["/feeds/policy.rss"] = (
        kind,
        feed.replace(f"<link>{site.base}/news/uk-aisi-test-results</link>", ""),
    )

    _, dry = cli_refresh(settings, "--prune", "--dry-run")
    assert (dry["updated"], dry["removed"], dry["index"]) == ([EU], [UK], None)
    assert (Path(settings.corpus_dir) / f"{UK}.md").exists()

    _, report = cli_refresh(settings, "--prune")
    assert (report["updated"], report["removed"], report["counts"]["added"]) == ([EU], [UK], 0)
    assert (report["index"]["updated"], report["index"]["removed"]) == ([EU], [UK])
    assert not (Path(settings.corpus_dir) / f"{UK}.md").exists()
    assert "extended the deadline" in (Path(settings.corpus_dir) / f"{EU}.md").read_text()


@pytest.mark.slow
def test_refresh_from_the_seed_article_then_ask_cites_it(tmp_path):
    from briefing import service

    seeds = shared_or_skip("seeds")
    (tmp_path / "corpus").mkdir()
    settings = make_settings(tmp_path / "corpus", tmp_path / "index")
    report = service.refresh(settings, origin=str(seeds))
    doc_id = "fetched/seeds/000-35003594b13fc19b"
    assert (report.added, report.failed, report.index.added) == ([doc_id], [], [doc_id])
    _, meta = split_front_matter((tmp_path / "corpus" / f"{doc_id}.md").read_text())
    assert meta["title"].startswith("The world’s two most powerful AI nations")  # from the first line

    answer = service.ask("What did Bessent say about AI guardrails with China?", settings=settings)
    assert not answer.abstained and doc_id in {c.doc_id for c in answer.citations}
    assert "guardrails" in answer.answer


# -- configuration ----------------------------------------------------------------------------------

BAD = {
    "bad TOML": ("[[source]\nname = 'x'", "bad TOML"),
    "unknown kind": ("[[source]]\nname = 'x'\nkind = 'ftp-mirror'\n", "'ftp-mirror' found using 'kind'"),
    "missing folder": ("[[source]]\nname = 'x'\nkind = 'folder'\npath = '../nowhere'\n", "folder not found"),
    "folder in corpus": ("[[source]]\nname = 'x'\nkind = 'folder'\npath = '.'\n", "inside the corpus folder"),
    "typo": (
        "[[source]]\nname = 'x'\nkind = 'feed'\nurl = 'https://a.example/f'\nlimt = 3\n",
        "source 'x'.limt",
    ),
    "not http": ("[[source]]\nname = 'x'\nkind = 'url'\nurl = 'file:///etc/passwd'\n", "only http(s) URLs"),
    "same name": ("[[source]]\nname = 'x'\nkind = 'url'\nurl = 'https://a.example/'\n" * 2, "two sources"),
    "bad name": ("[[source]]\nname = 'A B'\nkind = 'url'\nurl = 'https://a.example/'\n", "source 'A B'.name"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_unusable_configuration_exits_2_with_one_line(tmp_path, case):
    text, message = BAD[case]
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "sources.toml").write_text(text)
    result = runner.invoke(
        app, ["refresh", "--corpus", str(tmp_path / "corpus"), "--index-dir", str(tmp_path / "index")]
    )
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "index").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "no/such/folder"], "no such file or folder"),
        (["--from", str(ROOT / "pyproject.toml"), "--prune"], "--prune needs a folder"),
        (["--from", "gopher://example.org/"], "only http(s) URLs"),
        ([], "no sources file"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path, args, message):
    (tmp_path / "corpus").mkdir()
    result = runner.invoke(
        app, ["refresh", "--corpus", str(tmp_path / "corpus"), "--index-dir", str(tmp_path / "index"), *args]
    )
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_the_project_sources_file_works_offline_through_the_cron_script(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ROOT / "corpus" / "sources.toml", corpus / "sources.toml")
    (corpus / "fetched" / "inbox").mkdir(parents=True)
    (corpus / "fetched" / "inbox" / ".note.md.x1y2.tmp").write_text("---\ntitle: half writ")  # a killed run's
    cmd = [
        str(ROOT / "scripts" / "refresh-corpus"),
        "--corpus",
        str(corpus),
        "--index-dir",
        str(tmp_path / "i"),
    ]
    result = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["skipped"] == [
        {"item": "inbox", "reason": f"folder {tmp_path / 'inbox'} not found (optional source)"}
    ]
    assert not list((corpus / "fetched").rglob("*.tmp"))

    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "notes.docx").write_bytes(b"PK\x03\x04")
    (tmp_path / "inbox" / "empty.txt").write_text("  \n")
    text = runner.invoke(app, ["refresh", *cmd[1:]]).stdout  # text report, in this process this time
    assert "0 added" in text and f"skipped   {tmp_path / 'inbox' / 'empty.txt'}: empty file" in text
    assert "notes.docx: not a .md, .txt, .html or .pdf file (.docx)" in text
