"""One refresh: every source copied or fetched into `corpus/fetched/<source>/`, then the index updated.

Every item becomes a Markdown file with YAML front matter, written under a temporary name and renamed
into place, so a refresh killed at any moment leaves each file whole; the index is per-document atomic
(see index.py) and the next run completes what remains. The whole run holds the index lock.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from briefing.corpus import SUFFIXES, BadFile, doc_id_for, infer_title, load_corpus, load_document
from briefing.corpus_check import check_corpus
from briefing.index import index_lock, manifest_path, update_index
from briefing.manifest import Manifest
from briefing.refresh.dedup import Duplicates
from briefing.refresh.extract import FeedItem, extract_page, parse_feed
from briefing.refresh.fetch import Access, Fetched, Fetcher, FetchError
from briefing.refresh.files import fetched_at, hidden, render, write_atomic
from briefing.refresh.report import RefreshReport
from briefing.refresh.sources import (
    FETCHED_DIR,
    SOURCES_FILE,
    BaseSource,
    ConfigError,
    FeedSource,
    FetchPolicy,
    FolderSource,
    Source,
    SourcesFile,
    UrlSource,
    check_sources,
    load_sources,
    origin_sources,
    slugify,
)
from briefing.refresh.state import STATE_FILE, State, remove_temp_files
from briefing.settings import Settings


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
        kind = "probe" if probe and isinstance(source, UrlSource) else source.kind
        label = source.urls[0] if kind == "probe" else source.label
        handler = HANDLERS[kind]
        self.guarded(label, lambda: handler(self, source, bar, prune))
        if not self.dry_run:
            self.state.save()

    def get(self, source: BaseSource, url: str, validators: dict | None) -> Fetched | None:
        """The answer to a GET of `url`, or None after reporting why it failed."""
        access = Access(source.allow_private, frozenset(h.lower() for h in source.allow_hosts) | self.hosts)
        try:
            return self.fetcher.get(url, access, validators)
        except FetchError as exc:
            self.report.failed.append((url, str(exc)))
            return None

    def store(
        self, source: BaseSource, doc_id: str, meta: dict, body: str, item: str, extra: dict | None = None
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
        if old is not None and render(meta | {"fetched_at": fetched_at(old)} | tail, body) == old:
            self.report.unchanged.append(doc_id)
        else:
            (self.report.updated if old is not None else self.report.added).append(doc_id)
            if not self.dry_run:
                write_atomic(path, render(meta | {"fetched_at": now} | tail, body))
        self.dups.add(doc_id, body)
        self.seen.add(doc_id)
        return doc_id

    def new_doc_id(self, source: BaseSource, title: str) -> str:
        """A doc_id for a new article of `source`, taken by no other file."""
        base = f"{FETCHED_DIR}/{source.name}/{slugify(title) or 'article'}"
        doc_id, n = base, 2
        while doc_id in self.docs or doc_id in self.seen or (self.corpus / f"{doc_id}.md").exists():
            doc_id, n = f"{base}-{n}", n + 1
        return doc_id

    def targets(self, source: BaseSource) -> dict[str, str]:
        """url → doc_id of the files this source wrote before (from their front matter)."""
        prefix = f"{FETCHED_DIR}/{source.name}/"
        return {d.url: d.doc_id for d in self.docs.values() if d.doc_id.startswith(prefix) and d.url}

    def prune(self, source: BaseSource, wanted: set[str]) -> None:
        """Remove the files of `source` that this run did not want."""
        folder = self.corpus / FETCHED_DIR / source.name
        for path in sorted(folder.rglob("*.md")):
            doc_id = doc_id_for(path, self.corpus)
            if doc_id not in wanted and not hidden(path, folder):
                self.report.removed.append(doc_id)
                self.state.aliases.pop(doc_id, None)
                if not self.dry_run:
                    path.unlink()

    def guarded(self, item: str, step: Callable[[], None]) -> None:
        """Run `step`; one bad item must not stop the others: any error becomes its one-line failure."""
        try:
            step()
        except Exception as exc:
            self.report.failed.append((item, " ".join(f"{type(exc).__name__}: {exc}".split())))


# -- folders


def _folder(run: _Run, source: FolderSource, bar: Progress, prune: bool) -> None:
    if not source.path.is_dir():
        run.report.skipped.append((source.name, f"folder {source.path} not found (optional source)"))
        return
    files = [
        p for p in sorted(source.path.glob(source.pattern)) if p.is_file() and not hidden(p, source.path)
    ]
    wanted = set()
    for path in bar.track(files, description=source.name):
        rel = path.relative_to(source.path)
        doc_id = f"{FETCHED_DIR}/{source.name}/" + "/".join(
            slugify(p) or "file" for p in rel.with_suffix("").parts
        )
        if path.suffix.lower() not in SUFFIXES:
            run.report.skipped.append((str(path), f"not a .md, .txt, .html or .pdf file ({path.suffix})"))
        elif doc_id in wanted:
            run.report.skipped.append((str(path), f"another file of the folder is copied to {doc_id}.md"))
        else:
            wanted.add(doc_id)
            run.guarded(str(path), lambda p=path, d=doc_id: _copy(run, source, p, d))
    if prune:
        run.prune(source, wanted)


def _copy(run: _Run, source: FolderSource, path: Path, doc_id: str) -> None:
    try:
        doc = load_document(path, source.path, run.max_mb)
    except BadFile as exc:
        run.report.skipped.append((str(path), str(exc)))
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
    run.store(source, doc_id, meta, doc.text, str(path), extra)


# -- web


def _urls(run: _Run, source: UrlSource, bar: Progress, prune: bool) -> None:
    targets = run.targets(source)
    for url in bar.track(source.urls, description=source.name):
        run.guarded(url, lambda u=url: _item(run, source, u, None, targets))
    if prune:
        run.prune(source, {targets[u] for u in source.urls if u in targets})


def _feed(run: _Run, source: FeedSource, bar: Progress, prune: bool) -> None:
    record = run.state.http.get(source.url, {})
    fetched = run.get(source, source.url, record if "items" in record else None)
    if fetched is None:
        return
    if fetched.status == 304:
        items = [FeedItem(**item) for item in record["items"]]
    else:
        items = parse_feed(fetched.body, fetched.url)
        if items is None:
            run.report.failed.append((source.url, "not an RSS or Atom feed"))
            return
        run.state.remember(source.url, fetched, items=[asdict(i) for i in items])
    _feed_items(run, source, items, bar, prune)


def _feed_items(run: _Run, source: FeedSource, items: list[FeedItem], bar: Progress, prune: bool) -> None:
    since = source.since.isoformat() if source.since else ""
    items = [i for i in items if not (since and i.date and i.date < since)][: source.limit]
    targets = run.targets(source)
    for item in bar.track(items, description=source.name):
        run.guarded(item.url, lambda i=item: _item(run, source, i.url, i, targets))
    if prune:
        run.prune(source, {targets[i.url] for i in items if i.url in targets})


def _page_or_feed(run: _Run, source: UrlSource, bar: Progress, prune: bool) -> None:
    """`--from URL`: read it as a feed when it is one, else as an article page."""
    fetched = run.get(source, source.urls[0], None)
    items = parse_feed(fetched.body, fetched.url) if fetched else None
    if items is not None:
        feed = FeedSource(kind="feed", name=source.name, url=source.urls[0])
        _feed_items(run, feed, items, bar, prune)
    elif fetched is not None:
        _page(run, source, source.urls[0], fetched, None, run.targets(source))


def _item(run: _Run, source: BaseSource, url: str, hint: FeedItem | None, targets: dict[str, str]) -> None:
    record = run.state.http.get(url, {})
    known = record.get("doc") in run.dups  # validators only help while the stored copy exists
    fetched = run.get(source, url, record if known else None)
    if fetched is None:
        return
    if fetched.status == 304:
        if record.get("duplicate"):
            run.report.duplicate.append((url, record["doc"]))
        else:
            run.report.unchanged.append(record["doc"])
            run.seen.add(record["doc"])
        return
    _page(run, source, url, fetched, hint, targets)


def _page(
    run: _Run, source: BaseSource, url: str, fetched: Fetched, hint: FeedItem | None, targets: dict[str, str]
) -> None:
    head = fetched.body[:512].lstrip().lower()
    if "html" not in fetched.content_type and not head.startswith((b"<!doctype html", b"<html")):
        run.report.skipped.append((url, f"not an HTML page ({fetched.content_type or 'no content type'})"))
        return
    article = extract_page(fetched.body, fetched.url)
    if article is None:
        run.report.skipped.append((url, "no article text found"))
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
    doc_id = targets.get(url) or run.new_doc_id(source, title)
    kept = run.store(source, doc_id, meta, body, url)
    if kept == doc_id:
        targets[url] = doc_id
    run.state.remember(url, fetched, doc=kept, duplicate=kept != doc_id)


# One handler per kind of source; "probe" is a `--from URL` that may be a page or a feed.
HANDLERS: dict[str, Callable[[_Run, Any, Progress, bool], None]] = {
    "folder": _folder,
    "url": _urls,
    "feed": _feed,
    "probe": _page_or_feed,
}


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
            remove_temp_files(corpus / FETCHED_DIR, Path(settings.index_dir))
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
