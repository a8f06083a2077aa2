"""The corpus lint: each kind of finding on a small corpus, the CLI, and the project's own corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from briefing.cli import app
from briefing.corpus_check import Finding, body_dates, check_corpus, is_http_url

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
BODY = "# {title}\n\n{text}\n\n## Sources\n\n- [Act](https://example.org/act)\n"
HEAD = """---
title: "{title}"
date: {date}
publisher: Briefing desk
jurisdiction: [EU]
topics: [legislation]
sources:
  - title: "Act"
    url: https://example.org/act
{extra}---

"""


def article(root: Path, name: str, title: str, text: str, date: str = "2025-01-10", extra: str = "") -> Path:
    path = root / "articles" / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEAD.format(title=title, date=date, extra=extra) + BODY.format(title=title, text=text))
    return path


def kinds(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.path, f.kind) for f in findings]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    (tmp_path / "README.md").write_text((ROOT / "corpus" / "README.md").read_text(encoding="utf-8"))
    return tmp_path


def test_a_well_formed_article_is_clean(corpus):
    article(
        corpus,
        "ok",
        "A clean article",
        "The Act was signed on 10 January 2025 and applies from 2 August 2026.",
    )
    assert check_corpus(corpus) == []


def test_missing_and_malformed_front_matter(corpus):
    (corpus / "articles").mkdir()
    (corpus / "articles" / "none.md").write_text("# No front matter\n\nText.\n")
    (corpus / "articles" / "open.md").write_text("---\ntitle: x\n\n# Never closed\n")
    article(corpus, "bad", "Bad", "Text.", date="10 January 2025", extra="updated: 2024-12\n")
    article(corpus, "month", "Month 13", "Text.", extra="updated: 2024-13-01\n")
    path = corpus / "articles" / "nokeys.md"
    path.write_text("---\ntitle: Keys missing\n---\n\n# Keys missing\n")
    found = check_corpus(corpus)
    assert ("articles/none.md", "front-matter") in kinds(found)
    assert ("articles/open.md", "front-matter") in kinds(found)
    assert ("articles/month.md", "front-matter") in kinds(found)
    messages = [f.message for f in found if f.path == "articles/bad.md"]
    assert any("'date' is not an ISO date" in m for m in messages)
    assert any("'updated' is not an ISO date" in m for m in messages)
    missing = {f.message for f in found if f.path == "articles/nokeys.md"}
    assert {"missing 'date'", "missing 'sources'", "missing 'topics'"} <= missing


def test_vocabulary_event_dates_and_date_order(corpus):
    path = article(
        corpus, "v", "Vocabulary", "Text.", extra="updated: 2024-12-01\nevent_dates:\n  - {date: 2025}\n"
    )
    path.write_text(path.read_text().replace("[EU]", "[Mars]").replace("[legislation]", "[astrology]"))
    found = [f for f in check_corpus(corpus) if f.path == "articles/v.md"]
    assert {f.message for f in found if f.kind == "vocabulary"} == {
        "unknown jurisdiction 'Mars'",
        "unknown topics 'astrology'",
    }
    assert any(f.kind == "date" and "later than updated" in f.message for f in found)
    assert any(f.kind == "front-matter" and "event_dates" in f.message for f in found)


def test_body_dates_later_than_date_or_updated(corpus):
    article(corpus, "late", "Late", "The order was signed on 3 March 2025. Parliament voted in May 2025.")
    article(
        corpus,
        "upd",
        "Updated",
        "The Council agreed on 29 June 2026. Talks resumed on 5 January 2027.",
        date="2026-06-29",
        extra="updated: 2026-12-02\n",
    )
    article(
        corpus, "plan", "Scheduled", "The rules will apply on 2 December 2027; they apply from 2 August 2028."
    )
    found = {(f.path, f.message.split(" (")[0]) for f in check_corpus(corpus) if f.kind == "body-date"}
    assert found == {
        ("articles/late.md", "mentions 3 March 2025"),
        ("articles/late.md", "mentions May 2025"),
        ("articles/upd.md", "mentions 5 January 2027"),
    }


def test_as_of_notes_are_held_to_updated_not_date(corpus):
    note = "The law was signed on 14 May 2026. {}"
    extra = "updated: 2026-12-02\n"
    for name, text in [
        ("paren", "**Current position (2 December 2026):** the duties never took effect."),
        ("update", "*Update, 2 December 2026:* the duties never started."),
        ("asof", "Position as of 2 December 2026."),
    ]:
        article(corpus, name, name, note.format(text), date="2026-05-14", extra=extra)
    article(corpus, "stale", "Stale", note.format("Position as of 2 December 2026."), date="2026-05-14")
    article(
        corpus,
        "ahead",
        "Ahead",
        note.format("*Update, 3 December 2026:* no change."),
        date="2026-05-14",
        extra=extra,
    )
    found = {(f.path, f.message) for f in check_corpus(corpus) if f.kind == "body-date"}
    assert found == {
        (
            "articles/stale.md",
            "mentions 2 December 2026 (2026-12-02) as the position's date, later than date 2026-05-14",
        ),
        (
            "articles/ahead.md",
            "mentions 3 December 2026 (2026-12-03) as the position's date, later than updated 2026-12-02",
        ),
    }


def test_a_date_opening_a_list_item_takes_its_tense_from_the_item():
    text = (
        "- **2 August 2027:** under the 2024 text, Article 6(1) applies to Annex I products.\n"
        "- **2 August 2027:** deadline for models already on the market.\n"
        "- **12 July 2027:** publication in the Official Journal.\n"
        "- **June 2027:** the Commerce Department recast the institute, as the later action plan says.\n"
    )
    assert [(m.text, m.scheduled) for m in body_dates(text)] == [
        ("2 August 2027", True),
        ("2 August 2027", True),
        ("12 July 2027", False),
        ("June 2027", False),
    ]


@pytest.mark.parametrize(
    ("text", "scheduled"),
    [
        ("It governs contracts under solicitations issued from the end of September 2025 onwards.", True),
        ("The Dialogue was to be launched in New York in September 2025.", True),
        ("Most of its obligations had a compliance date of 15 May 2025.", True),
        ("Article 113 sets a general application date of 2 August 2026.", True),
        ("By the end of June 2026 both co-legislators had approved it.", False),
        ("The dates ran to 2027; the Omnibus was adopted in June 2026.", False),
        ("America's AI Action Plan, published on 23 July 2025, asked NIST to act.", False),
        ("The AI Action Plan was released in July 2025.", False),
        ("The agency plans to publish guidance in July 2025.", True),
    ],
)
def test_scheduled_wording(text, scheduled):
    assert [m.scheduled for m in body_dates(text)] == [scheduled]


def test_a_date_without_a_year_takes_the_year_of_its_paragraph(corpus):
    text = (
        "Trump revoked the order on 20 January 2025, and on 23 January a new order followed.\n\n"
        "A statement of 30 January described it."
    )
    assert [(m.text, m.date.isoformat()) for m in body_dates(text)] == [
        ("20 January 2025", "2025-01-20"),
        ("23 January", "2025-01-23"),
    ]
    article(corpus, "late", "Late", text, date="2025-01-20")
    found = [f.message for f in check_corpus(corpus) if f.kind == "body-date"]
    assert found == [
        "mentions 23 January (2025-01-23), later than date 2025-01-20: date is the latest event reported"
    ]


def test_body_dates_skip_links_and_sources():
    text = "Signed on 14 May 2026 ([text](https://example.org/2027-01-01)).\n\n## Sources\n\n- 1 June 2027\n"
    assert [m.text for m in body_dates(text)] == ["14 May 2026"]


def test_sources_missing_malformed_or_not_listed(corpus):
    path = article(corpus, "s", "Sources", "Text.")
    text = path.read_text()
    text = text.replace(
        "    url: https://example.org/act\n",
        "    url: example.org/act\n  - title: Other\n    url: https://b.org/x\n",
    )
    path.write_text(text)
    nosrc = article(corpus, "n", "No sources", "Text.")
    nosrc.write_text(nosrc.read_text().replace("## Sources", "## Notes"))
    found = [f for f in check_corpus(corpus) if f.kind == "sources"]
    messages = {(f.path, f.message) for f in found}
    assert ("articles/s.md", "source 1 has no well-formed http(s) URL: 'example.org/act'") in messages
    assert ("articles/s.md", "source 2 is not in the Sources section: https://b.org/x") in messages
    assert ("articles/n.md", "no '## Sources' section") in messages


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://eur-lex.europa.eu/eli/reg/2024/1689/oj", True),
        ("ftp://x.org/a", False),
        ("https://x", False),
        ("https://a.org/b c", False),
        ("", False),
    ],
)
def test_is_http_url(url, ok):
    assert is_http_url(url) is ok


def test_duplicate_titles(corpus):
    article(corpus, "a", "Same Title", "Text.")
    article(corpus, "b", "same  title", "Text.")
    found = [f for f in check_corpus(corpus) if f.kind == "duplicate-title"]
    assert kinds(found) == [("articles/a.md", "duplicate-title"), ("articles/b.md", "duplicate-title")]


def test_conflicting_facts_are_checks_not_errors(corpus):
    article(corpus, "a", "A", "Executive Order 14179 was signed on 23 January 2025.", date="2025-01-23")
    article(
        corpus,
        "b",
        "B",
        "President Trump signed Executive Order 14179 on 23 January 2025.",
        date="2025-01-23",
    )
    article(corpus, "c", "C", "Executive Order 14179 was signed on 20 January 2025.", date="2025-01-23")
    article(corpus, "d", "D", "The Bletchley Declaration was endorsed by 28 countries.")
    article(corpus, "e", "E", "In all, 29 countries endorsed the Bletchley Declaration.")
    article(corpus, "f", "F", "Executive Order 14179 was signed in January 2025.", date="2025-01-23")
    text = "The report was published on 29 January 2025, ahead of the Paris AI Action Summit."
    article(corpus, "g", "G", text, date="2025-02-11")
    article(corpus, "h", "H", "The Paris AI Action Summit was held on 10 February 2025.", date="2025-02-11")
    text = "Trump signed Executive Order 14179 on 23 January 2025, revoking Executive Order 14110 of 2023."
    article(corpus, "i", "I", text, date="2025-01-23")
    found = check_corpus(corpus)
    assert all(not f.is_error for f in found)
    assert [(f.path, f.message) for f in found] == [
        (
            "articles/c.md",
            "Executive Order 14179: signed 2025-01-20 here, but 2025-01-23 in articles/a.md, articles/b.md, articles/i.md",
        ),
        ("articles/d.md", "Bletchley Declaration: 28 countries here, but 29 in articles/e.md"),
        ("articles/e.md", "Bletchley Declaration: 29 countries here, but 28 in articles/d.md"),
    ]


def test_only_reports_on_the_given_files(corpus):
    article(corpus, "a", "Dup", "Text.")
    fetched = corpus / "fetched" / "feed" / "x.md"
    fetched.parent.mkdir(parents=True)
    fetched.write_text("---\ntitle: Dup\ndate: 2025-01-01\nurl: not-a-url\n---\n\nPublished 3 March 2025.\n")
    found = check_corpus(corpus, only=["fetched/feed/x"])
    assert {(f.kind, f.message.split(" (")[0]) for f in found} == {
        ("duplicate-title", "title also used by articles/a.md"),
        ("sources", "url is not a well-formed http(s) URL: 'not-a-url'"),
        ("body-date", "mentions 3 March 2025"),
    }


def test_cli_text_json_and_exit_codes(corpus):
    article(corpus, "a", "A", "Executive Order 14179 was signed on 23 January 2025.", date="2025-01-23")
    article(corpus, "c", "C", "Executive Order 14179 was signed on 20 January 2025.", date="2025-01-23")
    result = runner.invoke(app, ["check-corpus", str(corpus)])
    assert result.exit_code == 0, result.output
    assert (
        "articles/a.md: check: Executive Order 14179: signed 2025-01-23 here, but 2025-01-20" in result.output
    )
    assert (
        "articles/c.md: check: Executive Order 14179: signed 2025-01-20 here, but 2025-01-23" in result.output
    )
    assert "0 errors, 2 checks in 2 files" in result.output
    article(corpus, "late", "Late", "It happened on 3 March 2025.")
    result = runner.invoke(app, ["check-corpus", str(corpus), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert {(d["path"], d["kind"], d["severity"]) for d in data} == {
        ("articles/a.md", "check", "warning"),
        ("articles/c.md", "check", "warning"),
        ("articles/late.md", "body-date", "error"),
    }
    assert runner.invoke(app, ["check-corpus", str(corpus / "absent")]).exit_code == 2


def test_the_project_corpus_has_no_errors():
    """`briefing check-corpus corpus/` is clean: no errors (heuristic checks may remain)."""
    errors = [f.line() for f in check_corpus(ROOT / "corpus") if f.is_error]
    assert not errors, "\n".join(errors)
    result = runner.invoke(app, ["check-corpus", str(ROOT / "corpus")])
    assert result.exit_code == 0, result.output
    assert "0 errors" in result.output


def test_refresh_report_lists_lint_findings():
    from briefing.refresh import RefreshReport

    finding = Finding(
        "fetched/feed/x.md", "body-date", "mentions 3 March 2025 (2025-03-03), later than date 2025-01-01"
    )
    report = RefreshReport(added=["fetched/feed/x"], checks=[finding])
    assert f"  lint      {finding.line()}" in report.lines()
    assert report.to_json()["checks"] == [finding.to_json()]
    assert report.exit_code == 0  # lint findings are reported, they do not fail a refresh
