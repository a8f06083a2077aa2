"""Whole refreshes (`briefing refresh`) against a real HTTP server on 127.0.0.1: feeds, pages, failures,
duplicates, prune, and the cron script."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from briefing.cli import app
from briefing.corpus import split_front_matter
from briefing.manifest import Manifest
from briefing.refresh import run_refresh
from tests.conftest import ROOT, make_settings, shared_or_skip
from tests.refresh_site import A1, POLICY, Site

runner = CliRunner()


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
