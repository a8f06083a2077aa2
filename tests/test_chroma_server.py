"""The same index, search and ask paths against a real `chroma run` server on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from briefing.index import update_index
from tests.conftest import ARTICLES, make_settings

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    """A `chroma run` server from the chromadb package, started for this module and stopped after."""
    chroma = Path(sys.executable).with_name("chroma")
    port = free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("chroma server did not start within 60 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture()
def server_settings(chroma_url, tmp_path, request):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ["cn-us-china-geneva-ai-talks-and-un-resolutions-2024", "eu-ai-act-penalties-and-fines"]:
        shutil.copy(ARTICLES / f"{name}.md", corpus / f"{name}.md")
    collection = f"t{abs(hash(request.node.name)) % 10**8}"
    return make_settings(corpus, tmp_path / "index", chroma_url=chroma_url, collection=collection)


def test_index_search_and_ask_through_the_server(server_settings):
    from briefing.answer import Answerer
    from briefing.vectorstore import get_collection

    report = update_index(server_settings, progress=False)
    assert len(report.added) == 2
    assert not (Path(server_settings.index_dir) / "chroma").exists(), "no embedded store in server mode"
    ids = set(get_collection(server_settings).get(include=[])["ids"])
    assert ids and all(i.split("#")[0] in report.added for i in ids)

    answer = Answerer(server_settings).ask("Where did the first US-China talks on AI risk take place?")
    assert not answer.abstained and "Geneva" in answer.answer


def test_incremental_update_and_delete_stay_consistent_with_the_server(server_settings):
    from briefing.manifest import Manifest
    from briefing.vectorstore import get_collection

    update_index(server_settings, progress=False)
    corpus = Path(server_settings.corpus_dir)
    (corpus / "eu-ai-act-penalties-and-fines.md").unlink()
    shutil.copy(ARTICLES / "intl-oecd-ai-principles.md", corpus / "intl-oecd-ai-principles.md")
    report = update_index(server_settings, progress=False)
    assert report.removed == ["eu-ai-act-penalties-and-fines"] and report.added == ["intl-oecd-ai-principles"]
    manifest = Manifest(Path(server_settings.index_dir) / "manifest.sqlite")
    try:
        assert set(manifest.chunk_ids()) == set(get_collection(server_settings).get(include=[])["ids"])
    finally:
        manifest.close()
