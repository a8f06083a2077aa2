"""The `tokenizers`-only tokenizer gives exactly the transformers tokenizer's ids, and `ask` no longer
imports torch or transformers for it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from briefing.chunking import split_units
from briefing.corpus import load_corpus
from briefing.embedding import FastTokenizer, _hf_tokenizer, token_counter
from briefing.settings import Settings
from tests.conftest import ARTICLES

TRICKY = [
    "",
    " ",
    "Fines.",
    "Ünïcödé accents: café, naïve, Zürich, São Paulo, Øresund, İstanbul",
    "中华人民共和国网络安全法 and 人工智能生成合成内容标识办法 (GB 45438-2025)",
    "Emoji 🤖🇪🇺 and symbols ™ © € ≥ ≤ — – … «quotes» “curly” ‘single’",
    "Control\tchars\x00\x07 and\u200bzero\u00a0width\ufeff marks\r\n",
    "[CLS] [SEP] [PAD] [MASK] [UNK] look like special tokens",
    "ALL CAPS WORDS and MiXeD CaSe and snake_case and e-mail@example.org https://eur-lex.europa.eu/x?y=1",
    "word " * 700,
    "Supercalifragilisticexpialidocious antidisestablishmentarianism " * 40,
]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Every article whole, each of its sentences and units, and the tricky strings."""
    out = list(TRICKY)
    for doc in load_corpus(ARTICLES).documents:
        out.append(doc.text)
        out += [doc.text[u.start : u.end] for u in split_units(doc.text)]
    return out


@pytest.fixture(scope="module")
def model() -> str:
    return Settings().embed_model


def test_counts_and_ids_are_identical_to_transformers(texts, model):
    fast, hf = FastTokenizer(model), _hf_tokenizer(model)
    assert fast._hf is None  # the bundled model has a tokenizer.json: transformers is not used
    assert (
        fast.ids(texts, special_tokens=False)
        == hf(texts, add_special_tokens=False, truncation=False)["input_ids"]
    )
    assert fast.ids(texts) == hf(texts, truncation=False)["input_ids"]
    for max_length in (256, 16):
        assert (
            fast.ids(texts, max_length=max_length)
            == hf(texts, truncation=True, max_length=max_length)["input_ids"]
        )
    assert fast.pad_token_id == hf.pad_token_id
    counts = token_counter(Settings())(texts)
    assert counts == [len(x) for x in hf(texts, add_special_tokens=False)["input_ids"]]
    assert max(counts) > 1000  # whole articles: no truncation in counting


@pytest.mark.slow
def test_ask_imports_neither_torch_nor_transformers(mini_settings):
    code = (
        "import sys; from typer.testing import CliRunner; from briefing.cli import app\n"
        f"r = CliRunner().invoke(app, ['ask', '--json', '--index-dir', {str(mini_settings.index_dir)!r},"
        " 'What is the maximum fine under the EU AI Act?'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print('CITED', '\"citations\": [{' in r.output)\n"
        "print('HEAVY', [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules])"
    )
    env = os.environ | {"BRIEFING_EMBED_BACKEND": "onnx-int8"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "CITED True" in proc.stdout and "HEAVY []" in proc.stdout, proc.stdout
