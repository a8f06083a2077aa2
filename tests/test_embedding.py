"""ONNX backends: same vectors as sentence-transformers (fp32), close to them (int8), batching-invariant."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import ARTICLES

from briefing.embedding import embed_texts
from briefing.settings import Settings

TEXTS = [
    "",
    "Fines.",
    "Fines.",
    "Who signed the Colorado AI Act and when?",
    "The AI Act sets fines of up to 35 million euros or 7% of worldwide annual turnover. " * 3,
    "Providers of general-purpose AI models with systemic risk must assess and mitigate those risks. " * 30,
] + [f"Sentence number {i} about export controls on advanced computing chips." for i in range(40)]


@pytest.mark.slow
def test_onnx_vectors_match_torch():
    torch = embed_texts(Settings(embed_backend="torch"), TEXTS)
    fp32 = embed_texts(Settings(embed_backend="onnx"), TEXTS)
    int8 = embed_texts(Settings(embed_backend="onnx-int8"), TEXTS)
    assert fp32.shape == int8.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(int8, axis=1), 1, atol=1e-4)
    assert np.sum(fp32 * torch, axis=1).min() > 0.9999
    cos = np.sum(int8 * torch, axis=1)
    assert cos.mean() > 0.998 and cos.min() > 0.99


@pytest.mark.slow
def test_onnx_batching_does_not_change_vectors():
    settings = Settings(embed_backend="onnx")
    together = embed_texts(settings, TEXTS)
    alone = np.concatenate([embed_texts(settings, [t]) for t in TEXTS])
    assert np.abs(together - alone).max() < 1e-4


@pytest.mark.slow
def test_first_index_prints_no_third_party_warnings(tmp_path):
    """A fresh machine's first `briefing index` (export, quantisation, BM25 build), then an update."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("eu-ai-act-penalties-and-fines", "intl-bletchley-ai-safety-summit-declaration"):
        shutil.copy(ARTICLES / f"{name}.md", corpus / f"{name}.md")
    env = os.environ | {"BRIEFING_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "200"}
    command = [sys.executable, "-m", "briefing.cli", "index", "--corpus", str(corpus)]
    command += ["--index-dir", str(tmp_path / "index")]
    outputs = []
    for _ in range(2):
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout + proc.stderr)
        (corpus / "eu-ai-act-penalties-and-fines.md").open("a").write("\nOne more line.\n")
    assert "Exporting the embedding model to ONNX" in outputs[0]
    for text in outputs:
        for noise in ("Warning", "WARNING", "DEBUG", "Finding newlines", "pre-processing"):
            assert noise not in text, text
    assert "1 updated" in outputs[1]
