"""The REST API: the ask contract, briefs in every format, health, documents, and JSON 4xx for bad input."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from docx import Document as DocxDocument
from fastapi.testclient import TestClient
from pypdf import PdfReader

from briefing.api import create_app
from briefing.settings import Settings

ASK = "/api/ask"
WIDE = os.environ | {"COLUMNS": "300"}  # rich wraps stderr at 80 columns when it is not a terminal
FINES = "What are the maximum fines under the EU AI Act?"


@pytest.fixture(scope="module")
def bare(tmp_path_factory) -> TestClient:
    """The API over an index folder that does not exist: input checks must not need the index."""
    folder = tmp_path_factory.mktemp("no-index")
    return TestClient(create_app(Settings(index_dir=folder / "index", corpus_dir=folder), ui=False))


@pytest.fixture(scope="module")
def client(mini_settings) -> TestClient:
    return TestClient(create_app(mini_settings, ui=False))


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()["error"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"question": ""}, 400, "Please type a question"),
        ({"question": "   "}, 400, "Please type a question"),
        ({"question": "x" * 100_000}, 400, "too long"),
        ({"question": "ok?", "history": ["y" * 100_000]}, 400, "history turn is too long"),
        ({"question": 12}, 422, "question: Input should be a valid string"),
        ({"question": None}, 422, "question"),
        ({"question": ["a"]}, 422, "question"),
        ({"question": "ok?", "history": "not a list"}, 422, "history"),
        ({"question": "ok?", "filters": {"jurisdiction": [1]}}, 422, "filters.jurisdiction.0"),
        ({"question": "ok?", "filters": {"since": "May 2024"}}, 422, "filters.since"),
        ({"question": "ok?", "filters": {"country": "EU"}}, 422, "filters.country"),
        ({"questions": "typo?"}, 422, "question: Field required"),
        ([1, 2], 422, "body"),
    ],
)
def test_bad_ask_input_is_a_json_4xx(bare, body, status, message):
    assert message in error_of(bare.post(ASK, json=body), status)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"topic": "EU AI Act", "format": "odt"},
            422,
            "format: Input should be 'md', 'pdf', 'docx' or 'html'",
        ),
        ({"topic": ""}, 400, "Please give a topic"),
        ({"topic": "x" * 1000}, 400, "too long"),
        ({"topic": 5, "format": "md"}, 422, "topic"),
    ],
)
def test_bad_brief_input_is_a_json_4xx(bare, body, status, message):
    assert message in error_of(bare.post("/api/brief", json=body), status)


@pytest.mark.parametrize("raw", ['{"question": ', "not json", '{"question": "a",}'])
def test_malformed_json_is_a_400(bare, raw):
    response = bare.post(ASK, content=raw, headers={"content-type": "application/json"})
    assert error_of(response, 400).startswith("malformed JSON")


def test_wrong_method_unknown_path_huge_body_and_missing_index_are_json_errors(bare):
    assert "use POST /api/ask" in error_of(bare.get(ASK), 405)
    assert "no such endpoint" in error_of(bare.get("/api/nope"), 404)
    huge = json.dumps({"question": "x" * 2_000_000})
    assert "larger than" in error_of(
        bare.post(ASK, content=huge, headers={"content-type": "application/json"}), 413
    )
    assert "run `briefing index` first" in error_of(bare.get("/api/health"), 503)
    assert "run `briefing index` first" in error_of(bare.post(ASK, json={"question": FINES}), 503)


def test_serve_without_an_index_is_a_one_line_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "briefing.cli", "serve", "--index-dir", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=60,
        env=WIDE,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "run `briefing index` first" in result.stderr


def test_serve_on_a_busy_port_is_a_one_line_error(tmp_path):
    (tmp_path / "manifest.sqlite").touch()
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "briefing.cli",
                "serve",
                "--index-dir",
                str(tmp_path),
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=WIDE,
        )
    assert result.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr


@pytest.mark.slow
def test_ask_returns_the_cli_json_contract(client, mini_settings):
    response = client.post(ASK, json={"question": FINES, "id": "q1"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {
        "id",
        "question",
        "answer",
        "abstained",
        "mode",
        "citations",
        "retrieved",
        "latency_ms",
    }
    assert body["id"] == "q1" and not body["abstained"] and body["mode"] == "extractive"
    assert body["citations"][0]["doc_id"] == "articles/eu-ai-act-penalties-and-fines"
    assert {"n", "title", "publisher", "date", "url", "passage", "quote", "chunk_id", "jurisdiction"} <= set(
        body["citations"][0]
    )
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "briefing.cli",
            "ask",
            FINES,
            "--json",
            "--index-dir",
            str(mini_settings.index_dir),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert set(json.loads(cli.stdout)) == set(body)


@pytest.mark.slow
def test_ask_uses_history_and_filters(client):
    follow_up = client.post(
        ASK,
        json={
            "question": "When does it apply to them?",
            "history": ["What fines can the Commission impose on GPAI providers?"],
        },
    )
    assert follow_up.status_code == 200
    assert "GPAI" in follow_up.json().get("standalone_question", "")
    only_us = client.post(ASK, json={"question": FINES, "filters": {"jurisdiction": "US"}}).json()
    assert all("US" in c["jurisdiction"] for c in only_us["citations"])
    none = client.post(ASK, json={"question": FINES, "filters": {"until": "1990-01-01"}}).json()
    assert none["abstained"] and none["citations"] == []


@pytest.mark.slow
def test_many_clients_are_served_at_once(client):
    questions = [
        FINES,
        "What did the US and China agree in Geneva?",
        "What did the October 2022 chip controls do?",
    ]
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda q: client.post(ASK, json={"question": q}), questions * 2))
    assert [r.status_code for r in responses] == [200] * 6
    assert all(r.json()["citations"] for r in responses)


@pytest.mark.slow
def test_brief_in_every_format(client):
    topic = {"topic": "EU AI Act fines and enforcement"}
    md = client.post("/api/brief", json=topic)
    assert md.headers["content-type"] == "text/markdown; charset=utf-8"
    assert "# EU AI Act fines and enforcement" in md.text and "[1]" in md.text
    html = client.post("/api/brief", json=topic | {"format": "html"})
    assert html.headers["content-type"].startswith("text/html") and "<main>" in html.text
    pdf = client.post("/api/brief", json=topic | {"format": "pdf", "filters": {"jurisdiction": ["EU"]}})
    assert pdf.headers["content-type"] == "application/pdf"
    assert (
        pdf.headers["content-disposition"]
        == 'attachment; filename="brief-eu-ai-act-fines-and-enforcement.pdf"'
    )
    assert len(PdfReader(io.BytesIO(pdf.content)).pages) == 1
    docx = client.post("/api/brief", json=topic | {"format": "docx"})
    assert docx.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument")
    assert DocxDocument(io.BytesIO(docx.content)).paragraphs


@pytest.mark.slow
def test_health_and_documents(client, mini_settings):
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["documents"] == 8 and health["chunks"] > 8
    docs = client.get("/api/documents").json()
    assert len(docs) == 8
    penalties = next(d for d in docs if d["doc_id"] == "articles/eu-ai-act-penalties-and-fines")
    assert (
        penalties["jurisdiction"] == ["EU"]
        and penalties["chunks"] > 0
        and penalties["date"] == "2026-08-02"  # re-dated to its latest event (corpus audit)
    )
    assert {"doc_id", "title", "date", "publisher", "jurisdiction", "chunks"} <= set(penalties)
    assert penalties["as_of"] == (penalties["updated"] or penalties["date"])
    assert penalties["sources"] and all(s["url"].startswith("https://") for s in penalties["sources"])
    assert penalties["event_dates"] == sorted(penalties["event_dates"]) and penalties["event_dates"]
