"""Shared fixtures: one real index over a handful of project articles, built once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["tests.refresh_site"]  # the test web site of the refresh tests
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ARTICLES = ROOT / "corpus" / "articles"
# A small, varied slice of the project's own corpus: enough for retrieval to have distractors.
MINI = [
    "cn-us-china-geneva-ai-talks-and-un-resolutions-2024",
    "cn-us-china-woodside-summit-ai-2023",
    "cn-us-china-lima-human-control-nuclear-weapons-2024",
    "eu-ai-act-penalties-and-fines",
    "eu-gpai-model-obligations-systemic-risk",
    "xc-oct-2022-advanced-computing-chip-controls",
    "us-colorado-ai-act-sb24-205",
    "intl-bletchley-ai-safety-summit-declaration",
]


def shared_or_skip(*parts: str) -> Path:
    """A path under ../shared, or skip the test when the shared material is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs ../shared/{'/'.join(parts)} (shared material is absent in this checkout)")
    return path


def make_settings(corpus: Path, index_dir: Path, **extra):
    from briefing.settings import Settings

    return Settings(corpus_dir=corpus, index_dir=index_dir, **extra)


@pytest.fixture(scope="session")
def mini_corpus(tmp_path_factory) -> Path:
    corpus = tmp_path_factory.mktemp("mini-corpus")
    (corpus / "articles").mkdir()
    for name in MINI:
        shutil.copy(ARTICLES / f"{name}.md", corpus / "articles" / f"{name}.md")
    return corpus


@pytest.fixture(scope="session")
def mini_settings(mini_corpus, tmp_path_factory):
    """Settings of a real index (Chroma + BM25 + manifest) over the mini corpus, built once."""
    from briefing.index import update_index

    settings = make_settings(mini_corpus, tmp_path_factory.mktemp("mini-index"))
    update_index(settings, progress=False)
    return settings


@pytest.fixture(scope="session")
def mini_engine(mini_settings):
    from briefing import service

    return service.engine(mini_settings)
