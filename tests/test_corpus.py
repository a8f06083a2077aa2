"""Corpus model: front matter, inference, doc_ids, and every bad-file case."""

from __future__ import annotations

from pathlib import Path

import pytest

from briefing.corpus import BadFile, load_corpus, load_document


def write(root: Path, name: str, content: str | bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_front_matter_fields_and_extra_metadata(tmp_path):
    write(
        tmp_path,
        "eu/ai-act.md",
        "---\ntitle: The AI Act\ndate: 2024-08-01\npublisher: Desk\n"
        "url: https://example.org/a\njurisdiction: [EU]\ntopics: [legislation]\nlicense: CC-BY\n---\n\n# Heading\n\nBody text here.\n",
    )
    doc = load_corpus(tmp_path).documents[0]
    assert doc.doc_id == "eu/ai-act"
    assert (doc.title, doc.date, doc.publisher, doc.url) == (
        "The AI Act",
        "2024-08-01",
        "Desk",
        "https://example.org/a",
    )
    assert doc.jurisdiction == ["EU"] and doc.topics == ["legislation"]
    assert doc.extra == {"license": "CC-BY"}
    assert doc.text.startswith("\n# Heading") and "---" not in doc.text
    assert len(doc.content_hash) == 64


def test_string_dates_are_normalised_and_bad_dates_become_unknown(tmp_path):
    write(tmp_path, "a.md", "---\ntitle: A\ndate: '2024-05-15'\n---\nText of a.\n")
    write(tmp_path, "b.md", "---\ntitle: B\ndate: sometime in May\n---\nText of b.\n")
    docs = {d.doc_id: d for d in load_corpus(tmp_path).documents}
    assert docs["a"].date == "2024-05-15"
    assert docs["b"].date is None


def test_missing_metadata_is_inferred_not_invented(tmp_path):
    write(tmp_path, "notes/heading.md", "Intro line\n\n## The real title\n\nText.\n")
    write(tmp_path, "plain.txt", "\n\nUS and China open talks on AI guardrails\nMore text follows here.\n")
    docs = {d.doc_id: d for d in load_corpus(tmp_path).documents}
    assert docs["notes/heading"].title == "The real title"
    assert docs["plain"].title == "US and China open talks on AI guardrails"
    assert docs["plain"].date is None and docs["plain"].publisher is None and docs["plain"].url is None


def test_html_file_is_reduced_to_its_main_text(tmp_path):
    body = " ".join(["The ministry published new rules on the labelling of synthetic content."] * 6)
    write(
        tmp_path,
        "page.html",
        f"<html><head><title>Labelling rules</title></head><body><nav>Menu</nav>"
        f"<article><h1>Labelling rules</h1><p>{body}</p><p>{body}</p></article></body></html>",
    )
    doc = load_corpus(tmp_path).documents[0]
    assert doc.doc_id == "page" and "labelling of synthetic content" in doc.text
    assert doc.title == "Labelling rules"


def test_pdf_file_is_read(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 8, "Compute thresholds in AI governance. The order set a reporting threshold.")
    pdf.output(str(tmp_path / "thresholds.pdf"))
    doc = load_corpus(tmp_path).documents[0]
    assert doc.doc_id == "thresholds" and "reporting threshold" in doc.text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.md", "", "empty file"),
        ("blank.txt", "  \n\n  ", "empty file"),
        ("binary.txt", b"abc\x00\x01\x02def", "binary content"),
        ("latin1.txt", "Caf\u00e9 na\u00efve".encode("latin-1"), "not valid UTF-8"),
        ("bad-yaml.md", "---\ntitle: [unclosed\n---\nText.\n", "malformed YAML front matter"),
        ("unclosed.md", "---\ntitle: x\nText without a closing fence.\n", "not closed"),
        ("list.md", "---\n- a\n- b\n---\nText.\n", "not a mapping"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "unreadable PDF"),
        ("only-front-matter.md", "---\ntitle: x\n---\n\n", "no text"),
    ],
)
def test_bad_files_are_skipped_with_a_reason(tmp_path, name, content, reason):
    write(tmp_path, "good.md", "---\ntitle: Good\n---\nFine text.\n")
    write(tmp_path, name, content)
    report = load_corpus(tmp_path)
    assert [d.doc_id for d in report.documents] == ["good"]
    assert len(report.skipped) == 1
    path, why = report.skipped[0]
    assert path == name and reason in why and "\n" not in why


def test_oversized_file_is_skipped(tmp_path):
    path = write(tmp_path, "big.txt", "word " * 300_000)
    with pytest.raises(BadFile, match="larger than 1 MB"):
        load_document(path, tmp_path, max_mb=1)
    assert load_corpus(tmp_path, max_mb=1).skipped == [("big.txt", "larger than 1 MB")]


def test_readme_hidden_and_other_files_are_not_documents(tmp_path):
    write(tmp_path, "README.md", "# About this folder\n")
    write(tmp_path, "SOURCES.md", "# Sources of the corpus fixes\n")
    write(tmp_path, ".hidden/x.md", "hidden")
    write(tmp_path, "sources.toml", "[x]")
    write(tmp_path, "image.png", b"\x89PNG")
    write(tmp_path, "a.md", "Text.")
    assert [d.doc_id for d in load_corpus(tmp_path).documents] == ["a"]


def test_missing_corpus_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="corpus folder not found"):
        load_corpus(tmp_path / "nope")
