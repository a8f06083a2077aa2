"""A refresh killed with SIGKILL, then run again: the three stores agree and nothing is lost or doubled.

Also: a second refresh is refused while one runs, and the lock of a killed holder is released.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from briefing.cli import app
from briefing.corpus import load_document, split_front_matter
from briefing.manifest import Manifest
from tests.conftest import ARTICLES, MINI, make_settings

BRIEFING = Path(sys.executable).with_name("briefing")
SOURCES = '[[source]]\nname = "drop"\nkind = "folder"\npath = "../drop"\noptional = true\n'


@pytest.fixture()
def drop(tmp_path):
    """A corpus whose sources.toml reads the folder `drop` beside it."""
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "sources.toml").write_text(SOURCES)
    (tmp_path / "drop").mkdir()
    return make_settings(tmp_path / "corpus", tmp_path / "index")


def refresh_cmd(settings) -> list[str]:
    return [
        str(BRIEFING),
        "refresh",
        "--corpus",
        str(settings.corpus_dir),
        "--index-dir",
        str(settings.index_dir),
        "--json",
    ]


def indexed(index_dir: Path) -> int:
    """Documents committed to the manifest so far (0 while it does not exist yet)."""
    path = index_dir / "manifest.sqlite"
    if not path.exists():
        return 0
    try:
        with closing(sqlite3.connect(path, timeout=1)) as conn:
            return conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    except sqlite3.Error:  # tables not created yet
        return 0


def stores(settings) -> tuple[dict[str, int], list[str], list[str], list[str]]:
    """Chunks per document (manifest), and the chunk ids of the manifest, Chroma and BM25."""
    from briefing.vectorstore import get_collection

    manifest = Manifest(Path(settings.index_dir) / "manifest.sqlite")
    try:
        n_chunks = {doc_id: rec.n_chunks for doc_id, rec in manifest.documents().items()}
        in_manifest = sorted(manifest.chunk_ids())
        assert Counter(manifest.chunk_ids().values()) == Counter(n_chunks)
    finally:
        manifest.close()
    in_chroma = sorted(get_collection(settings).get(include=[])["ids"])
    lines = (Path(settings.index_dir) / "bm25" / "corpus.jsonl").read_text().splitlines()
    in_bm25 = sorted(json.loads(line)["node_id"] for line in lines)
    return n_chunks, in_manifest, in_chroma, in_bm25


@pytest.mark.slow
def test_a_refresh_killed_mid_way_is_completed_by_the_next_one(drop):
    for name in MINI:  # the first paragraphs of eight articles: small, so that the test is quick
        body, meta = split_front_matter((ARTICLES / f"{name}.md").read_text())
        paragraphs = [p for p in body.split("\n\n") if p.strip() and not p.startswith("#")]
        head = "\n\n".join(paragraphs[:3])
        (Path(drop.corpus_dir).parent / "drop" / f"{name}.md").write_text(
            f"---\ntitle: {json.dumps(meta['title'])}\n---\n{head}\n"
        )
    expected = sorted(f"fetched/drop/{name}" for name in MINI)
    index_dir = Path(drop.index_dir)

    proc = subprocess.Popen(refresh_cmd(drop), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while indexed(index_dir) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the refresh ended before it could be killed"

    manifest = Manifest(index_dir / "manifest.sqlite")
    before = sorted(manifest.documents())
    manifest.close()
    assert 2 <= len(before) < len(expected), before
    fetched = Path(drop.corpus_dir) / "fetched" / "drop"
    assert sorted(p.name for p in fetched.iterdir()) == [f"{name}.md" for name in sorted(MINI)]  # whole files
    for path in fetched.iterdir():
        load_document(path, Path(drop.corpus_dir))

    rerun = CliRunner().invoke(app, refresh_cmd(drop)[1:])  # in this process: the model may be loaded already
    assert rerun.exit_code == 0, rerun.output
    report = json.loads(rerun.stdout)
    assert report["counts"]["unchanged"] == len(expected) and report["counts"]["added"] == 0
    assert sorted(before + report["index"]["added"]) == expected  # each document embedded exactly once
    assert report["index"]["updated"] == report["index"]["removed"] == []

    n_chunks, in_manifest, in_chroma, in_bm25 = stores(drop)
    assert sorted(n_chunks) == expected and all(n > 0 for n in n_chunks.values())
    assert in_manifest == in_chroma == in_bm25 and len(in_manifest) == sum(n_chunks.values())


def test_a_second_refresh_is_refused_and_a_killed_holder_frees_the_lock(drop):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(drop.corpus_dir), str(drop.index_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        args = ["refresh", "--corpus", str(drop.corpus_dir), "--index-dir", str(drop.index_dir)]
        busy = CliRunner().invoke(app, args)
        assert busy.exit_code == 2
        assert busy.stderr.strip() == f"error: another index update or refresh is running on {drop.index_dir}"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["failed"] == []


HOLD = """
import sys, time
from briefing.index import index_lock
from briefing.settings import Settings
with index_lock(Settings(corpus_dir=sys.argv[1], index_dir=sys.argv[2])):
    print("locked", flush=True)
    time.sleep(300)
"""
