"""The `briefing` command line: JSON contract, JSON lines, stats, and one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from briefing.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()


def test_ask_json(mini_settings):
    result = runner.invoke(
        app,
        [
            "ask",
            "--index-dir",
            str(mini_settings.index_dir),
            "--json",
            "Which chips did the October 2022 US export controls target?",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["mode"] == "extractive" and data["citations"] and len(data["retrieved"]) >= 10


def test_ask_jsonl_answers_in_order_and_reports_bad_lines(mini_settings):
    lines = "\n".join(
        [
            json.dumps({"id": "a", "question": "What did the Bletchley Declaration say?"}),
            "this is not json",
            json.dumps(
                {
                    "id": "b",
                    "question": "And where did the first talks take place?",
                    "history": ["US-China government talks on AI risk"],
                }
            ),
            json.dumps({"id": "c", "question": ""}),
        ]
    )
    result = runner.invoke(app, ["ask", "--index-dir", str(mini_settings.index_dir), "--jsonl"], input=lines)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r.get("id") for r in rows] == ["a", None, "b", "c"]
    assert "bad JSON line" in rows[1]["error"]
    assert "Geneva" in rows[2]["answer"]
    assert rows[3]["error"] == "Please type a question."


def test_stats_lists_documents_by_jurisdiction_and_topic(mini_settings):
    result = runner.invoke(app, ["stats", "--index-dir", str(mini_settings.index_dir), "--json"])
    data = json.loads(result.stdout)
    assert data["documents"] == 8 and data["by_jurisdiction"]["China"] >= 3
    assert "legislation" in data["by_topic"]


def test_search_json(mini_settings):
    result = runner.invoke(
        app,
        [
            "search",
            "--index-dir",
            str(mini_settings.index_dir),
            "--json",
            "-k",
            "3",
            "nuclear weapons human control",
        ],
    )
    rows = json.loads(result.stdout)
    assert len(rows) == 3 and "lima" in rows[0]["doc_id"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "--since", "May 2024", "question"], "not an ISO date"),
        (["search", "--mode", "fuzzy", "query"], "--mode must be"),
        (["ask"], "give a question"),
    ],
)
def test_bad_input_is_a_one_line_error(mini_settings, args, message):
    result = runner.invoke(app, [args[0], "--index-dir", str(mini_settings.index_dir), *args[1:]])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_the_installed_script_reports_a_missing_index_in_one_line(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "briefing.cli",
            "ask",
            "--index-dir",
            str(tmp_path / "none"),
            "What is the AI Act?",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "no index at" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_index_json_reports_what_it_did(mini_corpus, tmp_path):
    result = runner.invoke(
        app, ["index", "--corpus", str(mini_corpus), "--index-dir", str(tmp_path / "i"), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert len(report["added"]) == 8 and report["chunks_embedded"] > 0


def test_search_shows_scores_and_ask_separates_load_from_answer_time(mini_settings):
    result = runner.invoke(app, ["search", "--index-dir", str(mini_settings.index_dir), "-k", "2", "fines"])
    assert result.exit_code == 0 and result.stdout.count(" · score 0.") == 2, result.output
    result = runner.invoke(
        app, ["ask", "--index-dir", str(mini_settings.index_dir), "What fines does the EU AI Act set?"]
    )
    assert re.search(r"models loaded in \d+\.\d s · answered in \d+ ms", result.stdout), result.stdout


def test_help_shows_flags_plainly_and_needs_no_heavy_import():
    code = (
        "import sys; from typer.testing import CliRunner; from briefing.cli import app\n"
        "out = CliRunner().invoke(app, ['search', '--help']).output\n"
        "stats = CliRunner().invoke(app, ['stats', '--help']).output\n"
        "heavy = [m for m in ('torch', 'transformers', 'chromadb', 'llama_index.core') if m in sys.modules]\n"
        "print(out); print(stats); print('HEAVY', heavy)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "--json " in proc.stdout and "<bool>" not in proc.stdout, proc.stdout
    assert "-k N" in proc.stdout and "HEAVY []" in proc.stdout
