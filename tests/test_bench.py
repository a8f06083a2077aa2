"""bench/run.py on a 2-document slice of the project corpus: the JSON has every key, the values are sane.

No timing assertions: only that the measurements exist and are consistent with each other.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = ROOT / "corpus" / "articles"
DOCS = ["eu-ai-act-penalties-and-fines", "us-colorado-ai-act-sb24-205"]
QUESTIONS = [
    {
        "id": "b1",
        "type": "factual",
        "question": "What is the highest fine tier of the EU AI Act for prohibited practices?",
        "gold_docs": ["eu-ai-act-penalties-and-fines"],
        "evidence": "Engaging in a prohibited practice under Article 5",
    },
    {
        "id": "b2",
        "type": "factual",
        "question": "Who signed the Colorado AI Act SB 24-205 and when?",
        "gold_docs": ["us-colorado-ai-act-sb24-205"],
        "evidence": "Governor Jared Polis signed Colorado Senate Bill 24-205 on 17 May 2024",
    },
]


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_run", module)
    spec.loader.exec_module(module)
    return module


def test_missing_corpus_is_a_one_line_error(tmp_path, capsys):
    bench = _bench_module()
    assert bench.main(["--corpus", str(tmp_path / "nope"), "-o", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: corpus folder not found") and "\n" not in err
    assert bench.main(["--corpus", str(tmp_path), "--backends", "gpu"]) == 2


def test_token_stats_counts_truncation():
    stats = _bench_module().token_stats([10, 254, 300])
    assert stats["tokens_total"] == 12 + 256 + 302
    assert stats["tokens_embedded"] == 12 + 256 + 256
    assert stats["tokens_unembedded"] == 46 and stats["truncated_texts"] == 1


def test_load_test_tags_make_every_question_new_without_adding_a_number():
    sys.path.insert(0, str(ROOT / "bench"))
    from load import variant

    tags = [variant(i) for i in range(1000)]
    assert len(set(tags)) == 1000
    assert not any(ch.isdigit() for tag in tags for ch in tag)


def test_goals_compare_the_default_backend_with_each_target():
    bench = _bench_module()
    results = {
        "default_backend": "onnx-int8",
        "ours": {
            "onnx-int8": {
                "rebuild_no_change": {"ratio_to_full_build": 0.03},
                "latency": {"ask_p50_ms": 20.0, "ask_p95_ms": 30.0},
            }
        },
        "comparison": {
            "onnx-int8_vs_llamaindex": {"tokens_per_s_ratio": 3.1},
            "onnx-int8_vs_onnx": {"recall@5_delta": -0.0312, "evidence@5_delta": 0.0},
        },
        "load": {"errors": 0},
    }
    met = {g["goal"]: g["met"] for g in bench.goals(results)}
    assert met["index build tokens/s vs LlamaIndex default"] is True
    assert met["int8 recall@5 delta to fp32 (absolute)"] is False  # one question of 32 is 0.031
    assert met["int8 evidence@5 delta to fp32 (absolute)"] is True
    assert met["no-change rebuild / full build"] is False
    assert met["extractive answer p95 (ms)"] is True and met["load test errors"] is True
    assert met["serve start to first answer (s)"] is None  # not measured in this run


@pytest.mark.slow
def test_bench_on_two_documents(tmp_path):
    bench = _bench_module()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in DOCS:
        shutil.copy(ARTICLES / f"{name}.md", corpus / f"{name}.md")
    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n")

    results = bench.run_benchmark(
        corpus, questions, ["onnx"], skip_serve=True, work_dir=tmp_path / "work", log=lambda msg: None
    )
    results = json.loads(json.dumps(results))  # what results.json holds

    assert results["complete"] is True
    machine = results["machine"]
    assert machine["date"] and machine["cpu_model"] and machine["cores"] >= 1

    ours = results["ours"]["onnx"]
    build = ours["build"]
    assert build["documents"] == 2 and build["chunks"] >= 2 and build["sentences"] >= build["chunks"]
    assert build["seconds"] > 0 and build["tokens_per_s"] > 0 and build["peak_rss_mb"] > 50
    assert build["chunk_tokens"]["max_tokens"] <= 256 and build["unembedded_share"] == 0.0
    assert build["tokens_embedded"] == (
        build["chunk_tokens"]["tokens_embedded"] + build["sentence_tokens"]["tokens_embedded"]
    )
    rebuild = ours["rebuild_no_change"]
    assert rebuild["chunks_embedded"] == 0 and rebuild["unchanged"] == 2
    assert 0 <= rebuild["ratio_to_full_build"] < 1
    latency = ours["latency"]
    assert latency["questions"] == 2 and 0 < latency["search_p50_ms"] <= latency["search_p95_ms"]
    assert 0 < latency["ask_p50_ms"] <= latency["ask_p95_ms"]
    assert set(ours["quality"]) == {"mode", "recall@5", "mrr@10", "evidence@5"}
    assert ours["quality"]["recall@5"] >= 0.5  # two documents, five passages each

    base = results["llamaindex_default"]["build"]
    assert base["documents"] == 2 and base["chunks"] >= 2 and base["tokens_per_s"] > 0
    assert 0 <= base["unembedded_share"] < 1 and base["peak_rss_mb"] > 50
    assert {g["goal"]: g["met"] for g in results["goals"]}["serve start to first answer (s)"] is None
    ratio = results["comparison"]["onnx_vs_llamaindex"]
    assert ratio["tokens_per_s_ratio"] > 0
    assert ratio["unembedded_share"] == {"ours": 0.0, "llamaindex": base["unembedded_share"]}
    assert "serve" not in results and "load" not in results

    bench.print_tables(results)  # renders without error
