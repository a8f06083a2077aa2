"""Corpus refresh: copy folders, web pages and feeds into `corpus/fetched/<source>/`, then update the index.

The package is split by concern: `sources` (the configuration), `fetch` (the checked HTTP client),
`extract` (feeds and pages), `dedup` (duplicate stories), `files` and `state` (what is written and
remembered), `report` and `run` (one handler per kind of source).
"""

from briefing.refresh.dedup import Duplicates
from briefing.refresh.extract import Article, FeedItem, extract_page, parse_feed
from briefing.refresh.fetch import USER_AGENT, Access, Fetched, Fetcher, FetchError
from briefing.refresh.files import render, write_atomic
from briefing.refresh.report import RefreshReport
from briefing.refresh.run import run_refresh
from briefing.refresh.sources import (
    FETCHED_DIR,
    SOURCES_FILE,
    ConfigError,
    FeedSource,
    FetchPolicy,
    FolderSource,
    SourcesFile,
    UrlSource,
    load_sources,
    slugify,
)
from briefing.refresh.state import STATE_FILE, State

__all__ = [
    "FETCHED_DIR",
    "SOURCES_FILE",
    "STATE_FILE",
    "USER_AGENT",
    "Access",
    "Article",
    "ConfigError",
    "Duplicates",
    "FeedItem",
    "FeedSource",
    "FetchError",
    "FetchPolicy",
    "Fetched",
    "Fetcher",
    "FolderSource",
    "RefreshReport",
    "SourcesFile",
    "State",
    "UrlSource",
    "extract_page",
    "load_sources",
    "parse_feed",
    "render",
    "run_refresh",
    "slugify",
    "write_atomic",
]
