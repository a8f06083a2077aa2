"""Corpus refresh: copy folders, web pages and feeds into `corpus/fetched/<source>/`, then update the index.

Every item becomes a Markdown file with YAML front matter, written under a temporary name and renamed
into place, so a refresh killed at any moment leaves each file whole; the index is per-document atomic
(see index.py) and the next run completes what remains. The whole run holds the index lock.

Fetching is written on httpx by hand rather than with `follow_redirects=True` because every hop must be
checked before anything connects: the host is resolved, every address must be public unless the source
allows it, and the connection goes to the address just checked, so that a second DNS answer cannot
point it elsewhere (DNS rebinding).
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import io
import ipaddress
import json
import os
import re
import socket
import tempfile
import time
import tomllib
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from briefing.corpus import (
    SUFFIXES,
    BadFile,
    doc_id_for,
    infer_title,
    load_corpus,
    load_document,
    split_front_matter,
)
from briefing.corpus_check import Finding, check_corpus
from briefing.index import IndexReport, index_lock, manifest_path, update_index
from briefing.manifest import Manifest
from briefing.settings import Settings

SOURCES_FILE = "sources.toml"
FETCHED_DIR = "fetched"
STATE_FILE = "refresh-state.json"
USER_AGENT = "BriefingRefresh/0.1 (offline AI-governance briefing assistant; corpus refresh)"
ACCEPT = (
    "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,application/xml;q=0.9,*/*;q=0.5"
)
MAX_REDIRECTS = 5
REDIRECT_CODES = {301, 302, 303, 307, 308}
TRANSIENT_CODES = {408, 425, 429, 500, 502, 503, 504}
SHINGLE_WORDS = 5
NEAR_DUPLICATE = 0.6  # shingle Jaccard from which two texts are taken for one story
MIN_ARTICLE_WORDS = 40


class ConfigError(ValueError):
    """The sources or options cannot be used; nothing was done."""


class FetchError(Exception):
    """A URL could not be fetched; the message is the one-line reason."""


class _Transient(Exception):
    """A failure worth retrying (a 429 or 5xx answer)."""


# -- configuration ----------------------------------------------------------------------------------


def _http_url(url: str) -> str:
    if not re.match(r"^https?://[^/\s]+", url, flags=re.I):
        raise ValueError(f"only http(s) URLs are allowed: {url}")
    return url


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class FetchPolicy(BaseModel):
    """The `[fetch]` table: limits of every HTTP request."""

    model_config = ConfigDict(extra="forbid")
    timeout: float = Field(20.0, gt=0, description="Seconds to connect and between reads.")
    max_bytes: int = Field(5_000_000, gt=0, description="Larger responses are refused.")
    retries: int = Field(2, ge=0, le=10, description="Retries of transient errors.")
    backoff: float = Field(1.0, ge=0, description="Seconds before the first retry, doubled each time.")


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    jurisdiction: list[str] = []
    topics: list[str] = []
    allow_private: bool = False
    allow_hosts: list[str] = []


class FolderSource(_Source):
    """A local folder of .md/.txt/.html/.pdf files."""

    kind: Literal["folder"]
    path: Path
    pattern: str = "**/*"
    optional: bool = False


class UrlSource(_Source):
    """One or more article pages."""

    kind: Literal["url"]
    url: HttpUrl | list[HttpUrl]

    @property
    def urls(self) -> list[str]:
        return [self.url] if isinstance(self.url, str) else self.url


class FeedSource(_Source):
    """An RSS or Atom feed whose items link to article pages."""

    kind: Literal["feed"]
    url: HttpUrl
    limit: int = Field(20, ge=1, le=1000)
    since: dt.date | None = None


Source = Annotated[FolderSource | UrlSource | FeedSource, Field(discriminator="kind")]


class SourcesFile(BaseModel):
    """The whole of `sources.toml`."""

    model_config = ConfigDict(extra="forbid")
    fetch: FetchPolicy = FetchPolicy()
    source: list[Source] = []


def load_sources(path: Path) -> SourcesFile:
    """Read `sources.toml`; relative folder paths are taken from the file's folder."""
    if not path.is_file():
        raise ConfigError(f"no sources file at {path} (see docs/refresh.md), or use --from")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        config = SourcesFile.model_validate(raw)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: bad TOML: {exc}") from None
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_first_error(exc, raw)}") from None
    for source in config.source:
        if isinstance(source, FolderSource):
            source.path = (path.parent / source.path.expanduser()).resolve()
    return config


def _first_error(exc: ValidationError, raw: dict) -> str:
    """The first validation error as one line, naming the source it is in."""
    error = exc.errors()[0]
    loc = list(error["loc"])
    where = ".".join(map(str, loc))
    if loc[:1] == ["source"] and len(loc) > 1 and isinstance(loc[1], int):
        entry = raw["source"][loc[1]]
        name = entry.get("name", f"#{loc[1] + 1}") if isinstance(entry, dict) else f"#{loc[1] + 1}"
        fields = [p for p in loc[3:] if isinstance(p, int) or re.fullmatch(r"[a-z_]+", p)]  # not union tags
        where = f"source '{name}'" + "".join(f".{p}" for p in fields)
    return " ".join(f"{where}: {error['msg'].removeprefix('Value error, ')}".split())


def origin_sources(origin: str, prune: bool) -> list[Source]:
    """The one-off source of `--from`: a file, a folder or a URL."""
    if re.match(r"^[a-z][a-z0-9+.-]*://", origin, flags=re.I):
        try:
            return [UrlSource(kind="url", name=slugify(httpx.URL(origin).host) or "web", url=origin)]
        except (ValidationError, httpx.InvalidURL) as exc:
            raise ConfigError(
                f"--from: only http(s) URLs are allowed: {origin} ({type(exc).__name__})"
            ) from None
    path = Path(origin).expanduser().resolve()
    if not path.exists():
        raise ConfigError(f"--from: no such file or folder: {origin}")
    if path.is_dir():
        return [FolderSource(kind="folder", name=slugify(path.name) or "files", path=path)]
    if prune:
        raise ConfigError("--prune needs a folder, a URL or sources.toml, not a single file")
    name = slugify(path.parent.name) or "files"
    return [FolderSource(kind="folder", name=name, path=path.parent, pattern=glob.escape(path.name))]


def check_sources(sources: Sequence[Source], corpus: Path) -> None:
    """Refuse duplicate names, missing folders and folders whose files the index already reads."""
    names = [s.name for s in sources]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"two sources are named '{twice[0]}'")
    for source in sources:
        if not isinstance(source, FolderSource):
            continue
        if not source.path.exists() and not source.optional:
            raise ConfigError(f"source '{source.name}': folder not found: {source.path}")
        if source.path.exists() and not source.path.is_dir():
            raise ConfigError(f"source '{source.name}': not a folder: {source.path}")
        if source.path.resolve().is_relative_to(corpus.resolve()):
            rel = source.path.resolve().relative_to(corpus.resolve())
            if not any(part.startswith(".") for part in rel.parts):
                raise ConfigError(
                    f"source '{source.name}': {source.path} is inside the corpus folder, whose files are "
                    "indexed as they are; use a folder outside it (e.g. ../inbox)"
                )


# -- network --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """Which non-public hosts a source may reach."""

    allow_private: bool = False
    allow_hosts: frozenset[str] = frozenset()

    def check(self, host: str, address: str) -> None:
        """Raise `FetchError` unless `address` (of `host`) is public or explicitly allowed."""
        ip = ipaddress.ip_address(address)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        public = ip.is_global and not ip.is_multicast
        if not (
            public or self.allow_private or host.lower() in self.allow_hosts or str(ip) in self.allow_hosts
        ):
            raise FetchError(f"refused {host}: {ip} is a private, loopback, link-local or reserved address")


def resolve(url: httpx.URL, access: Access) -> list[str]:
    """Every address of the URL's host, each checked before any connection is made."""
    host = url.raw_host.decode("ascii")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve {host}: {exc.strerror}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        access.check(host, address)
    return addresses


@dataclass
class Fetched:
    """One HTTP answer: 200 with a body, 304 (not modified) or a redirect."""

    url: str
    status: int
    body: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    location: str | None = None


class Fetcher:
    """GET with size cap, timeouts, retries, conditional requests and checked, manual redirects."""

    def __init__(self, policy: FetchPolicy):
        self.policy = policy
        # trust_env=False: an environment proxy would make the address checks meaningless.
        self.client = httpx.Client(
            trust_env=False, timeout=policy.timeout, headers={"User-Agent": USER_AGENT, "Accept": ACCEPT}
        )

    def close(self) -> None:
        self.client.close()

    def get(self, url: str, access: Access, validators: dict | None = None) -> Fetched:
        """Fetch `url`, following at most 5 redirects, each checked like the first request."""
        headers = {}
        if validators and validators.get("etag"):
            headers["If-None-Match"] = validators["etag"]
        if validators and validators.get("last_modified"):
            headers["If-Modified-Since"] = validators["last_modified"]
        current = httpx.URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            fetched = self._retrying(current, access, headers)
            if fetched.status not in REDIRECT_CODES:
                return fetched
            current = current.join(fetched.location or "")
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")

    def _retrying(self, url: httpx.URL, access: Access, headers: dict) -> Fetched:
        reason = ""
        for attempt in range(self.policy.retries + 1):
            if attempt:
                time.sleep(self.policy.backoff * 2 ** (attempt - 1))
            try:
                return self._once(url, access, headers)
            except httpx.TimeoutException:
                reason = f"timed out after {self.policy.timeout:g}s"
            except (httpx.TransportError, _Transient) as exc:
                reason = " ".join(str(exc).split()) or type(exc).__name__
        raise FetchError(f"{reason} (after {self.policy.retries + 1} attempts)")

    def _once(self, url: httpx.URL, access: Access, headers: dict) -> Fetched:
        if url.scheme not in ("http", "https"):
            raise FetchError(f"refused {url}: only http(s) URLs are allowed")
        addresses = resolve(url, access)
        for n, address in enumerate(addresses, start=1):
            request = self.client.build_request(
                "GET",
                url.copy_with(host=address),
                headers=headers | {"Host": url.netloc.decode("ascii")},
                extensions={"sni_hostname": url.raw_host.decode("ascii")},
            )
            try:
                response = self.client.send(request, stream=True)
            except httpx.ConnectError:
                if n == len(addresses):
                    raise
                continue
            try:
                return self._read(url, response)
            finally:
                response.close()
        raise FetchError(f"no address for {url.host}")

    def _read(self, url: httpx.URL, response: httpx.Response) -> Fetched:
        status = response.status_code
        if status in REDIRECT_CODES:
            if not response.headers.get("location"):
                raise FetchError(f"HTTP {status} without a Location header")
            return Fetched(str(url), status, location=response.headers["location"])
        if status == 304:
            return Fetched(str(url), 304)
        if status in TRANSIENT_CODES:
            raise _Transient(f"HTTP {status} {response.reason_phrase}")
        if status != 200:
            raise FetchError(f"HTTP {status} {response.reason_phrase}".strip())
        return Fetched(
            str(url),
            200,
            self._body(response),
            response.headers.get("content-type", ""),
            response.headers.get("etag"),
            response.headers.get("last-modified"),
        )

    def _body(self, response: httpx.Response) -> bytes:
        cap = self.policy.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchError(f"larger than {cap} bytes (Content-Length {declared})")
        # The read timeout restarts with every chunk: a server trickling bytes is stopped by a deadline.
        deadline = time.monotonic() + 3 * self.policy.timeout
        parts, size = [], 0
        for part in response.iter_bytes():  # decoded bytes, so a compressed bomb is capped too
            size += len(part)
            if size > cap:
                raise FetchError(f"larger than {cap} bytes")
            if time.monotonic() > deadline:
                raise FetchError(f"download took longer than {3 * self.policy.timeout:g}s")
            parts.append(part)
        return b"".join(parts)


# -- normalising -----------------------------------------------------------------------------------


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


def slugify(text: str, limit: int = 80) -> str:
    """Lower-case ASCII words joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) <= limit:
        return slug
    cut = slug[: limit + 1]  # one more, so that a word ending exactly at the limit is kept
    return cut.rsplit("-", 1)[0] if "-" in cut else slug[:limit]


def render(meta: dict[str, Any], body: str) -> str:
    """A Markdown file: YAML front matter without empty fields, then the body."""
    head = {k: v for k, v in meta.items() if v not in (None, "", [])}
    if isinstance(head.get("date"), str):
        head["date"] = dt.date.fromisoformat(head["date"])
    front = yaml.safe_dump(head, sort_keys=False, allow_unicode=True, width=10_000)
    return f"---\n{front}---\n\n{body.strip()}\n"


def write_atomic(path: Path, text: str) -> None:
    """Write a file under a hidden temporary name in its folder, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- duplicates ------------------------------------------------------------------------------------


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


# -- state and report ------------------------------------------------------------------------------


@dataclass
class State:
    """What refreshes remember between runs: HTTP validators, feed items, duplicate aliases.

    An optimisation and a record, never the truth: lost or broken, it only costs full downloads.
    """

    path: Path
    http: dict[str, dict] = field(default_factory=dict)
    aliases: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> State:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        return cls(path, data.get("http") or {}, data.get("aliases") or {})

    def save(self) -> None:
        write_atomic(
            self.path, json.dumps({"http": self.http, "aliases": self.aliases}, indent=1, sort_keys=True)
        )

    def remember(self, url: str, fetched: Fetched, **extra: Any) -> None:
        self.http[url] = {"etag": fetched.etag, "last_modified": fetched.last_modified, **extra}

    def alias(self, doc_id: str, item: str) -> None:
        self.aliases[doc_id] = sorted(set(self.aliases.get(doc_id, [])) | {item})


@dataclass
class RefreshReport:
    """What a refresh did, item by item, and what the index update did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    duplicate: list[tuple[str, str]] = field(default_factory=list)  # (item, doc_id kept)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (item, reason)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (item, reason)
    removed: list[str] = field(default_factory=list)
    index: IndexReport | None = None
    checks: list[Finding] = field(default_factory=list)  # corpus lint of the files written
    dry_run: bool = False
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 when everything worked, 1 when some items failed (the rest is applied)."""
        return 1 if self.failed else 0

    def counts(self) -> dict[str, int]:
        names = ("added", "updated", "unchanged", "duplicate", "skipped", "failed", "removed")
        return {name: len(getattr(self, name)) for name in names}

    def to_json(self) -> dict:
        return {
            "counts": self.counts(),
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "duplicate": [{"item": i, "of": d} for i, d in self.duplicate],
            "skipped": [{"item": i, "reason": r} for i, r in self.skipped],
            "failed": [{"item": i, "reason": r} for i, r in self.failed],
            "removed": self.removed,
            "index": self.index.to_json() if self.index else None,
            "checks": [f.to_json() for f in self.checks],
            "dry_run": self.dry_run,
            "seconds": round(self.seconds, 2),
        }

    def lines(self) -> list[str]:
        """The report as text, one line per document that did not stay the same."""
        head = "Dry run (nothing changed): " if self.dry_run else "Refresh: "
        out = [head + ", ".join(f"{n} {k}" for k, n in self.counts().items()) + f" in {self.seconds:.1f}s"]
        out += [f"  added     {d}" for d in self.added] + [f"  updated   {d}" for d in self.updated]
        out += [f"  removed   {d}" for d in self.removed]
        out += [f"  duplicate {i} (same as {d})" for i, d in self.duplicate]
        out += [f"  skipped   {i}: {r}" for i, r in self.skipped] + [
            f"  failed    {i}: {r}" for i, r in self.failed
        ]
        out += [f"  lint      {f.line()}" for f in self.checks]
        if self.index:
            idx = self.index
            out.append(
                f"Index: {len(idx.added)} added, {len(idx.updated)} updated, {len(idx.removed)} removed, "
                f"{len(idx.unchanged)} unchanged · {idx.chunks_embedded} chunks embedded"
            )
            out += [f"  skipped   {p}: {r}" for p, r in idx.skipped]
        return out


# -- the run ---------------------------------------------------------------------------------------


class _Run:
    """One refresh: the corpus as it was at the start, the HTTP state, and the report being filled."""

    def __init__(self, settings: Settings, policy: FetchPolicy, dry_run: bool, hosts: frozenset[str]):
        self.corpus = Path(settings.corpus_dir)
        self.dry_run = dry_run
        self.hosts = hosts
        self.report = RefreshReport(dry_run=dry_run)
        self.docs = {d.doc_id: d for d in load_corpus(self.corpus, settings.max_file_mb).documents}
        self.dups = Duplicates()
        for doc in self.docs.values():
            self.dups.add(doc.doc_id, doc.text)
        self.seen: set[str] = set()  # doc_ids this run wrote or found unchanged
        self.state = State.load(Path(settings.index_dir) / STATE_FILE)
        self.fetcher = Fetcher(policy)
        self.max_mb = settings.max_file_mb

    def close(self) -> None:
        self.fetcher.close()

    def run(self, source: Source, bar: Progress, prune: bool, probe: bool = False) -> None:
        """Refresh one source, then remember its HTTP state; `probe`: a URL may be a page or a feed."""
        if isinstance(source, FolderSource):
            self._guarded(source.name, lambda: self._folder(source, bar, prune))
        elif isinstance(source, FeedSource):
            self._guarded(source.url, lambda: self._feed(source, bar, prune))
        elif probe:
            self._guarded(source.urls[0], lambda: self._page_or_feed(source, bar, prune))
        else:
            self._guarded(source.name, lambda: self._urls(source, bar, prune))
        if not self.dry_run:
            self.state.save()

    # -- folders
    def _folder(self, source: FolderSource, bar: Progress, prune: bool) -> None:
        if not source.path.is_dir():
            self.report.skipped.append((source.name, f"folder {source.path} not found (optional source)"))
            return
        files = [
            p for p in sorted(source.path.glob(source.pattern)) if p.is_file() and not _hidden(p, source.path)
        ]
        wanted = set()
        for path in bar.track(files, description=source.name):
            rel = path.relative_to(source.path)
            doc_id = f"{FETCHED_DIR}/{source.name}/" + "/".join(
                slugify(p) or "file" for p in rel.with_suffix("").parts
            )
            if path.suffix.lower() not in SUFFIXES:
                self.report.skipped.append(
                    (str(path), f"not a .md, .txt, .html or .pdf file ({path.suffix})")
                )
            elif doc_id in wanted:
                self.report.skipped.append(
                    (str(path), f"another file of the folder is copied to {doc_id}.md")
                )
            else:
                wanted.add(doc_id)
                self._guarded(str(path), lambda p=path, d=doc_id: self._copy(source, p, d))
        if prune:
            self._prune(source, wanted)

    def _copy(self, source: FolderSource, path: Path, doc_id: str) -> None:
        try:
            doc = load_document(path, source.path, self.max_mb)
        except BadFile as exc:
            self.report.skipped.append((str(path), str(exc)))
            return
        meta = {
            "title": doc.title,
            "date": doc.date,
            "publisher": doc.publisher,
            "url": doc.url,
            "jurisdiction": doc.jurisdiction or source.jurisdiction,
            "topics": doc.topics or source.topics,
        }
        extra = {k: v for k, v in doc.extra.items() if k not in {"fetched_at", "source"}}
        self._store(source, doc_id, meta, doc.text, str(path), extra)

    # -- web
    def _urls(self, source: UrlSource, bar: Progress, prune: bool) -> None:
        targets = self._targets(source)
        for url in bar.track(source.urls, description=source.name):
            self._guarded(url, lambda u=url: self._item(source, u, None, targets))
        if prune:
            self._prune(source, {targets[u] for u in source.urls if u in targets})

    def _feed(self, source: FeedSource, bar: Progress, prune: bool) -> None:
        record = self.state.http.get(source.url, {})
        fetched = self._get(source, source.url, record if "items" in record else None)
        if fetched is None:
            return
        if fetched.status == 304:
            items = [FeedItem(**item) for item in record["items"]]
        else:
            items = parse_feed(fetched.body, fetched.url)
            if items is None:
                self.report.failed.append((source.url, "not an RSS or Atom feed"))
                return
            self.state.remember(source.url, fetched, items=[asdict(i) for i in items])
        self._feed_items(source, items, bar, prune)

    def _feed_items(self, source: FeedSource, items: list[FeedItem], bar: Progress, prune: bool) -> None:
        since = source.since.isoformat() if source.since else ""
        items = [i for i in items if not (since and i.date and i.date < since)][: source.limit]
        targets = self._targets(source)
        for item in bar.track(items, description=source.name):
            self._guarded(item.url, lambda i=item: self._item(source, i.url, i, targets))
        if prune:
            self._prune(source, {targets[i.url] for i in items if i.url in targets})

    def _page_or_feed(self, source: UrlSource, bar: Progress, prune: bool) -> None:
        """`--from URL`: read it as a feed when it is one, else as an article page."""
        fetched = self._get(source, source.urls[0], None)
        items = parse_feed(fetched.body, fetched.url) if fetched else None
        if items is not None:
            feed = FeedSource(kind="feed", name=source.name, url=source.urls[0])
            self._feed_items(feed, items, bar, prune)
        elif fetched is not None:
            self._page(source, source.urls[0], fetched, None, self._targets(source))

    def _item(self, source: _Source, url: str, hint: FeedItem | None, targets: dict[str, str]) -> None:
        record = self.state.http.get(url, {})
        known = record.get("doc") in self.dups  # validators only help while the stored copy exists
        fetched = self._get(source, url, record if known else None)
        if fetched is None:
            return
        if fetched.status == 304:
            if record.get("duplicate"):
                self.report.duplicate.append((url, record["doc"]))
            else:
                self.report.unchanged.append(record["doc"])
                self.seen.add(record["doc"])
            return
        self._page(source, url, fetched, hint, targets)

    def _page(
        self, source: _Source, url: str, fetched: Fetched, hint: FeedItem | None, targets: dict[str, str]
    ) -> None:
        head = fetched.body[:512].lstrip().lower()
        if "html" not in fetched.content_type and not head.startswith((b"<!doctype html", b"<html")):
            self.report.skipped.append(
                (url, f"not an HTML page ({fetched.content_type or 'no content type'})")
            )
            return
        article = extract_page(fetched.body, fetched.url)
        if article is None:
            self.report.skipped.append((url, "no article text found"))
            return
        title = article.title or (hint and hint.title) or infer_title(article.text) or url
        meta = {
            "title": title,
            "date": article.date or (hint and hint.date),
            "publisher": article.publisher or (hint and hint.publisher) or httpx.URL(url).host,
            "author": article.author,
            "url": url,
            "jurisdiction": source.jurisdiction,
            "topics": source.topics,
        }
        body = article.text if article.text.lstrip().startswith("#") else f"# {title}\n\n{article.text}"
        doc_id = targets.get(url) or self._new_doc_id(source, title)
        kept = self._store(source, doc_id, meta, body, url)
        if kept == doc_id:
            targets[url] = doc_id
        self.state.remember(url, fetched, doc=kept, duplicate=kept != doc_id)

    def _get(self, source: _Source, url: str, validators: dict | None) -> Fetched | None:
        access = Access(source.allow_private, frozenset(h.lower() for h in source.allow_hosts) | self.hosts)
        try:
            return self.fetcher.get(url, access, validators)
        except FetchError as exc:
            self.report.failed.append((url, str(exc)))
            return None

    # -- writing
    def _store(
        self, source: _Source, doc_id: str, meta: dict, body: str, item: str, extra: dict | None = None
    ) -> str:
        """Write one document unless it duplicates another; returns the doc_id that holds its text."""
        kept = self.dups.find(body, exclude=doc_id)
        if kept:
            self.report.duplicate.append((item, kept))
            self.state.alias(kept, item)
            return kept
        path = self.corpus / f"{doc_id}.md"
        old = path.read_text(encoding="utf-8") if path.is_file() else None
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        tail = {"source": source.name, **(extra or {})}
        if old is not None and render(meta | {"fetched_at": _fetched_at(old)} | tail, body) == old:
            self.report.unchanged.append(doc_id)
        else:
            (self.report.updated if old is not None else self.report.added).append(doc_id)
            if not self.dry_run:
                write_atomic(path, render(meta | {"fetched_at": now} | tail, body))
        self.dups.add(doc_id, body)
        self.seen.add(doc_id)
        return doc_id

    def _new_doc_id(self, source: _Source, title: str) -> str:
        base = f"{FETCHED_DIR}/{source.name}/{slugify(title) or 'article'}"
        doc_id, n = base, 2
        while doc_id in self.docs or doc_id in self.seen or (self.corpus / f"{doc_id}.md").exists():
            doc_id, n = f"{base}-{n}", n + 1
        return doc_id

    def _targets(self, source: _Source) -> dict[str, str]:
        """url → doc_id of the files this source wrote before (from their front matter)."""
        prefix = f"{FETCHED_DIR}/{source.name}/"
        return {d.url: d.doc_id for d in self.docs.values() if d.doc_id.startswith(prefix) and d.url}

    def _prune(self, source: _Source, wanted: set[str]) -> None:
        folder = self.corpus / FETCHED_DIR / source.name
        for path in sorted(folder.rglob("*.md")):
            doc_id = doc_id_for(path, self.corpus)
            if doc_id not in wanted and not _hidden(path, folder):
                self.report.removed.append(doc_id)
                self.state.aliases.pop(doc_id, None)
                if not self.dry_run:
                    path.unlink()

    def _guarded(self, item: str, step: Callable[[], None]) -> None:
        # One bad item must not stop the others: any error becomes that item's one-line failure.
        try:
            step()
        except Exception as exc:
            self.report.failed.append((item, " ".join(f"{type(exc).__name__}: {exc}".split())))


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _fetched_at(text: str) -> object:
    try:
        return split_front_matter(text)[1].get("fetched_at")
    except BadFile:
        return None


def _remove_temp_files(fetched: Path, index_dir: Path) -> None:
    """Temporary files left by a killed run (the files renamed into place are complete)."""
    for path in [*fetched.rglob(".*.tmp"), *index_dir.glob(f".{STATE_FILE}.*.tmp")]:
        path.unlink(missing_ok=True)


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress]:
    columns = [
        TextColumn("[bold]Refreshing {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, disable=not enabled) as bar:
        yield bar


def run_refresh(
    settings: Settings,
    origin: str | None = None,
    dry_run: bool = False,
    prune: bool = False,
    allow_hosts: Sequence[str] = (),
    progress: bool = False,
) -> RefreshReport:
    """Copy or fetch every source into `corpus/fetched/`, then update the index, under the index lock.

    Raises `ConfigError` (or `IndexBusy`) before changing anything when the run cannot start.
    """
    started = time.perf_counter()
    corpus = Path(settings.corpus_dir)
    if not corpus.is_dir():
        raise ConfigError(f"corpus folder not found: {corpus}")
    sources = origin_sources(origin, prune) if origin else None
    config = SourcesFile(source=sources) if sources else load_sources(corpus / SOURCES_FILE)
    check_sources(config.source, corpus)
    with nullcontext() if dry_run else index_lock(settings):
        if not dry_run:
            _remove_temp_files(corpus / FETCHED_DIR, Path(settings.index_dir))
        run = _Run(settings, config.fetch, dry_run, frozenset(h.lower() for h in allow_hosts))
        try:
            with _progress(progress) as bar:
                for source in config.source:
                    run.run(source, bar, prune, probe=bool(origin))
        finally:
            run.close()
        if not dry_run:
            run.report.checks = check_corpus(corpus, only=[*run.report.added, *run.report.updated])
            run.report.index = update_index(settings, progress=progress, locked=True)
            _set_last_refresh(settings)
    run.report.seconds = time.perf_counter() - started
    return run.report


def _set_last_refresh(settings: Settings) -> None:
    manifest = Manifest(manifest_path(settings))
    try:
        manifest.set_info("last_refresh", dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    finally:
        manifest.close()
