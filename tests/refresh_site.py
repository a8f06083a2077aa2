"""The test web site of the refresh tests, on a real HTTP server on 127.0.0.1, and the loopback guard.

A pytest plugin (`pytest_plugins = ["tests.refresh_site"]`): under `loopback_only`, any connection to an
address other than 127.0.0.1 is refused and recorded, so no packet leaves the loopback interface and
refused redirects are proven to be refused before connecting.
"""

from __future__ import annotations

import hashlib
import socket
import time
from dataclasses import dataclass, field

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from briefing.refresh import Access, Fetcher, FetchPolicy

LOCAL = Access(allow_hosts=frozenset({"127.0.0.1"}))
POLICY = FetchPolicy(timeout=1.0, max_bytes=100_000, retries=1, backoff=0.05)

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


@pytest.fixture()
def fetcher():
    fetcher = Fetcher(POLICY)
    yield fetcher
    fetcher.close()
