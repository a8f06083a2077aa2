#!/usr/bin/env python
"""Benchmarks of Briefing against LlamaIndex defaults; writes bench/results.json and prints a table.

    .venv/bin/python bench/run.py --corpus ../shared/external-corpus \
        --questions ../shared/eval/dev-questions.jsonl [--backends torch,onnx,onnx-int8] [--limit N]

Measured in one run: the full index build per embedding backend (ours) and LlamaIndex's defaults
(SentenceSplitter 1024 tokens + HuggingFaceEmbedding, in-memory store), each in its own subprocess
so that its peak RSS is its own; a no-change rebuild; search/ask latency and retrieval quality on the
dev questions; `briefing serve` time to first answer and RSS; and the load test of bench/load.py.

Tokens are counted as the model embeds them: min(tokens + 2, 256) per embedded text ([CLS]/[SEP]
included, truncation at 256). Ours embeds each chunk (with its title + heading prefix) AND every
sentence on its own; both count. `--limit N` uses the first N documents only (for development).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MODEL_WINDOW = 256  # all-MiniLM-L6-v2 embeds at most 256 tokens, [CLS] and [SEP] included
BACKENDS = ("torch", "onnx", "onnx-int8")
RESULTS = ROOT / "bench" / "results.json"


# -- helpers -------------------------------------------------------------------------------------
def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def pct(values: list[float], p: float) -> float:
    from load import percentile

    return round(percentile(values, p), 1)


def machine_info() -> dict:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next(
            (
                ln.split(":", 1)[1].strip()
                for ln in cpuinfo.read_text().splitlines()
                if ln.startswith("model name")
            ),
            cpu,
        )
    versions = {}
    for pkg in (
        "llama-index-core",
        "chromadb",
        "sentence-transformers",
        "onnxruntime",
        "torch",
        "transformers",
    ):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu_model": cpu,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),  # the machine may be shared
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


def token_stats(counts: list[int]) -> dict:
    """Embedded and lost tokens for texts of `counts` tokens (without special tokens)."""
    raw = [n + 2 for n in counts]
    embedded = sum(min(n, MODEL_WINDOW) for n in raw)
    lost = sum(max(0, n - MODEL_WINDOW) for n in raw)
    return {
        "texts": len(raw),
        "tokens_total": sum(raw),
        "tokens_embedded": embedded,
        "tokens_unembedded": lost,
        "unembedded_share": round(lost / sum(raw), 4) if raw else 0.0,
        "truncated_texts": sum(n > MODEL_WINDOW for n in raw),
        "max_tokens": max(raw, default=0),
    }


def subset_corpus(corpus: Path, limit: int | None, tmp: Path) -> Path:
    """The corpus itself, or a copy of its first `limit` documents."""
    if not limit:
        return corpus
    from briefing.corpus import corpus_files

    target = tmp / "corpus"
    for path in list(corpus_files(corpus))[:limit]:
        dest = target / path.relative_to(corpus)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    return target


# -- workers (each runs in its own subprocess) ---------------------------------------------------
def worker_ours(corpus: str, index_dir: str, backend: str, questions: str | None) -> dict:
    """Full build, counts, no-change rebuild, then latency and retrieval quality, for one backend."""
    from briefing.chunking import embed_text
    from briefing.embedding import get_embed_model, token_counter
    from briefing.index import manifest_path, update_index
    from briefing.manifest import Manifest
    from briefing.settings import Settings

    settings = Settings(corpus_dir=Path(corpus), index_dir=Path(index_dir), embed_backend=backend)
    t0 = time.perf_counter()
    get_embed_model(settings)
    count = token_counter(settings)
    count(["warm-up"])
    model_load_s = time.perf_counter() - t0

    report = update_index(settings, progress=False)
    build_rss = peak_rss_mb()

    manifest = Manifest(manifest_path(settings))
    try:
        docs = manifest.documents()
        chunk_texts = [embed_text(docs[r[1]].title, r[4] or "", r[5]) for r in manifest.chunks()]
        texts = {d: manifest.document_text(d) or "" for d in docs}
        spans = manifest.conn.execute('SELECT doc_id, start, "end" FROM sentences').fetchall()
        sentence_texts = [texts[d][s:e] for d, s, e in spans]
    finally:
        manifest.close()
    chunks = token_stats(count(chunk_texts))
    sentences = token_stats(count(sentence_texts))
    embedded = chunks["tokens_embedded"] + sentences["tokens_embedded"]
    seconds = report.seconds
    out: dict = {
        "backend": backend,
        "model_load_s": round(model_load_s, 2),
        "build": {
            "seconds": round(seconds, 2),
            "documents": len(report.added) + len(report.updated),
            "skipped": len(report.skipped),
            "chunks": chunks["texts"],
            "sentences": sentences["texts"],
            "documents_per_s": round((len(report.added) + len(report.updated)) / seconds, 3),
            "chunks_per_s": round(chunks["texts"] / seconds, 2),
            "tokens_per_s": round(embedded / seconds, 1),
            "chunk_tokens_per_s": round(chunks["tokens_embedded"] / seconds, 1),
            "tokens_embedded": embedded,
            "peak_rss_mb": build_rss,
            "chunk_tokens": chunks,
            "sentence_tokens": sentences,
            "unembedded_share": chunks["unembedded_share"],
        },
    }

    again = update_index(settings, progress=False)
    out["rebuild_no_change"] = {
        "seconds": round(again.seconds, 3),
        "ratio_to_full_build": round(again.seconds / seconds, 4),
        "chunks_embedded": again.chunks_embedded,
        "unchanged": len(again.unchanged),
    }
    out["bm25_full_rebuild"] = _bm25_rebuild(settings)
    out["index_mb"] = _sizes_mb(Path(index_dir))
    if questions:
        out.update(_query_bench(settings, questions))
    out["peak_rss_mb_total"] = peak_rss_mb()
    return out


def _sizes_mb(index_dir: Path) -> dict:
    """Disk size of each part of the index (manifest, Chroma, BM25) in MB."""
    sizes = {}
    for part in sorted(index_dir.iterdir()):
        files = [part] if part.is_file() else [f for f in part.rglob("*") if f.is_file()]
        sizes[part.name] = round(sum(f.stat().st_size for f in files) / 2**20, 2)
    sizes["total"] = round(sum(sizes.values()), 2)
    return sizes


def _bm25_rebuild(settings) -> dict:
    """Seconds of the full BM25 rebuild that any change triggers (its stamp is made stale here)."""
    from briefing.index import BM25_DIR, ensure_bm25, manifest_path
    from briefing.manifest import Manifest

    (Path(settings.index_dir) / BM25_DIR / "generation").unlink(missing_ok=True)
    manifest = Manifest(manifest_path(settings))
    try:
        t0 = time.perf_counter()
        rebuilt = ensure_bm25(settings, manifest)
        seconds = time.perf_counter() - t0
        chunks = len(manifest.chunk_ids())
    finally:
        manifest.close()
    return {
        "seconds": round(seconds, 3),
        "rebuilt": rebuilt,
        "chunks": chunks,
        "ms_per_1000_chunks": round(seconds * 1e6 / max(chunks, 1), 1),
    }


def _query_bench(settings, questions_path: str) -> dict:
    from briefing import service
    from briefing.answer import standalone_question
    from briefing.embedding import _cached_query
    from briefing.evaluate import load_jsonl, retrieval_metrics

    questions = load_jsonl(Path(questions_path))
    eng = service.engine(settings)
    eng.ask("What does the EU AI Act say about high-risk AI systems?")  # models and index loaded first
    search_ms, ask_ms, abstained = [], [], 0
    for q in questions:
        query = standalone_question(q["question"], q.get("history"))
        _cached_query.cache_clear()  # both timings include embedding the question
        t0 = time.perf_counter()
        eng.searcher.search(query, k=10)
        search_ms.append((time.perf_counter() - t0) * 1000)
        _cached_query.cache_clear()
        t0 = time.perf_counter()
        answer = eng.ask(q["question"], history=q.get("history"), qid=q["id"])
        ask_ms.append((time.perf_counter() - t0) * 1000)
        abstained += int(answer.abstained)
    quality = retrieval_metrics(eng.searcher, questions, "hybrid")
    return {
        "latency": {
            "questions": len(questions),
            "search_p50_ms": pct(search_ms, 50),
            "search_p95_ms": pct(search_ms, 95),
            "search_mean_ms": round(statistics.fmean(search_ms), 1),
            "ask_p50_ms": pct(ask_ms, 50),
            "ask_p95_ms": pct(ask_ms, 95),
            "ask_mean_ms": round(statistics.fmean(ask_ms), 1),
            "abstained": abstained,
        },
        "quality": {"mode": "hybrid", **quality},
    }


def worker_llamaindex(corpus: str, embed_model: str) -> dict:
    """LlamaIndex defaults: SimpleDirectoryReader, SentenceSplitter (1024), HuggingFaceEmbedding, memory."""
    from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
    from llama_index.core.schema import MetadataMode
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from transformers import AutoTokenizer

    from briefing.corpus import corpus_files

    t0 = time.perf_counter()
    embed = HuggingFaceEmbedding(model_name=embed_model)
    model_load_s = time.perf_counter() - t0

    files = [str(p) for p in corpus_files(Path(corpus))]  # the same files as ours
    t0 = time.perf_counter()
    documents = SimpleDirectoryReader(input_files=files).load_data()
    index = VectorStoreIndex.from_documents(documents, embed_model=embed)
    seconds = time.perf_counter() - t0
    build_rss = peak_rss_mb()

    nodes = list(index.docstore.docs.values())
    texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    tokenizer = AutoTokenizer.from_pretrained(embed_model, local_files_only=True)
    counts = [len(x) for x in tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]]
    stats = token_stats(counts)
    return {
        "pipeline": "llamaindex-default",
        "model_load_s": round(model_load_s, 2),
        "embed_batch_size": embed.embed_batch_size,
        "max_length": getattr(embed, "max_length", None),
        "build": {
            "seconds": round(seconds, 2),
            "documents": len(documents),
            "chunks": len(nodes),
            "documents_per_s": round(len(documents) / seconds, 3),
            "chunks_per_s": round(len(nodes) / seconds, 2),
            "tokens_per_s": round(stats["tokens_embedded"] / seconds, 1),
            "tokens_embedded": stats["tokens_embedded"],
            "peak_rss_mb": build_rss,
            "chunk_tokens": stats,
            "unembedded_share": stats["unembedded_share"],
        },
    }


WORKERS = {"ours": worker_ours, "llamaindex": worker_llamaindex}


def run_worker(kind: str, tmp: Path, **kwargs) -> dict:
    """Run one worker in a fresh interpreter; its peak RSS is measured inside it (VmHWM)."""
    out = tmp / f"{kind}-{kwargs.get('backend', 'default')}.json"
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        kind,
        "--worker-args",
        json.dumps(kwargs),
        "--worker-out",
        str(out),
    ]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        raise RuntimeError(f"{kind} worker failed ({proc.returncode}):\n" + "\n".join(tail))
    result = json.loads(out.read_text())
    result["process_wall_s"] = round(time.perf_counter() - started, 1)
    return result


# -- the benchmark -------------------------------------------------------------------------------
def run_benchmark(
    corpus: Path,
    questions: Path | None,
    backends: list[str],
    limit: int | None = None,
    skip_baseline: bool = False,
    skip_serve: bool = False,
    skip_load: bool = False,
    load_clients: int = 16,
    load_requests: int = 160,
    load_time_cap: float = 120.0,
    work_dir: Path | None = None,
    log=print,
    checkpoint=lambda results: None,
) -> dict:
    """Every measurement, as the JSON document written to results.json."""
    from briefing.settings import Settings

    defaults = Settings()
    default_backend = defaults.embed_backend if defaults.embed_backend in backends else backends[0]
    results: dict = {
        "machine": machine_info(),
        "corpus": str(corpus),
        "limit": limit,
        "questions": str(questions) if questions else None,
        "embed_model": defaults.embed_model,
        "default_backend": default_backend,
        "token_counting": (
            "min(tokens+2, 256) per embedded text with the model tokenizer; ours counts chunk texts "
            "(title + heading prefix, briefing.chunking.embed_text) AND sentence texts, both embedded"
        ),
    }
    owned_tmp = work_dir is None
    tmp = Path(tempfile.mkdtemp(prefix="briefing-bench-")) if owned_tmp else work_dir
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        docs_dir = subset_corpus(corpus, limit, tmp)
        results["ours"] = {}

        def build(backend: str) -> None:
            log(f"building the index with backend {backend} …")
            results["ours"][backend] = run_worker(
                "ours",
                tmp,
                corpus=str(docs_dir),
                index_dir=str(tmp / f"index-{backend}"),
                backend=backend,
                questions=str(questions) if questions else None,
            )
            checkpoint(results)

        # The default backend first, then the baseline and the server: the key numbers land early.
        build(default_backend)
        if not skip_baseline:
            log("building LlamaIndex defaults (SentenceSplitter 1024 + HuggingFaceEmbedding) …")
            results["llamaindex_default"] = run_worker(
                "llamaindex", tmp, corpus=str(docs_dir), embed_model=defaults.embed_model
            )
            checkpoint(results)
        if not skip_serve:
            from load import load_questions, serve_and_load

            log(f"briefing serve ({default_backend}) and load test …")
            served = serve_and_load(
                tmp / f"index-{default_backend}",
                load_questions(questions),
                default_backend,
                tmp / "serve.log",
                load_clients,
                0 if skip_load else load_requests,
                load_time_cap,
            )
            results["serve"] = {"backend": default_backend, **served["serve"]}
            results["load"] = served["load"]
            checkpoint(results)
        for backend in backends:
            if backend != default_backend:
                build(backend)
        results["ours"] = {b: results["ours"][b] for b in backends}
    finally:
        if owned_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    results["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    results["comparison"] = compare(results)
    results["goals"] = goals(results)
    results["complete"] = True
    return results


def compare(results: dict) -> dict:
    """Ratios against the LlamaIndex-default baseline and int8-vs-fp32 deltas."""
    ours, base = results.get("ours", {}), results.get("llamaindex_default")
    out: dict = {}
    if base:
        b = base["build"]
        for backend, r in ours.items():
            o = r["build"]
            out[f"{backend}_vs_llamaindex"] = {
                "tokens_per_s_ratio": round(o["tokens_per_s"] / b["tokens_per_s"], 3),
                "chunk_tokens_per_s_ratio": round(o["chunk_tokens_per_s"] / b["tokens_per_s"], 3),
                "build_seconds_ratio": round(o["seconds"] / b["seconds"], 3),
                "documents_per_s_ratio": round(o["documents_per_s"] / b["documents_per_s"], 3),
                "peak_rss_ratio": round(o["peak_rss_mb"] / b["peak_rss_mb"], 3),
                "tokens_embedded_ratio": round(o["tokens_embedded"] / b["tokens_embedded"], 3),
                "unembedded_share": {"ours": o["unembedded_share"], "llamaindex": b["unembedded_share"]},
            }
    if "onnx" in ours and "onnx-int8" in ours:
        fp, q = ours["onnx"], ours["onnx-int8"]
        delta: dict = {
            "tokens_per_s_ratio": round(q["build"]["tokens_per_s"] / fp["build"]["tokens_per_s"], 3),
            "build_seconds_ratio": round(q["build"]["seconds"] / fp["build"]["seconds"], 3),
            "peak_rss_mb_delta": round(q["build"]["peak_rss_mb"] - fp["build"]["peak_rss_mb"], 1),
        }
        if "quality" in fp and "quality" in q:
            for key in ("recall@5", "mrr@10", "evidence@5"):
                delta[f"{key}_delta"] = round(q["quality"][key] - fp["quality"][key], 4)
            for key in ("search_p50_ms", "ask_p50_ms", "ask_p95_ms"):
                delta[f"{key}_ratio"] = round(q["latency"][key] / max(fp["latency"][key], 1e-9), 3)
        out["onnx-int8_vs_onnx"] = delta
    if "torch" in ours and "onnx" in ours:
        t, o = ours["torch"], ours["onnx"]
        out["onnx_vs_torch"] = {
            "tokens_per_s_ratio": round(o["build"]["tokens_per_s"] / t["build"]["tokens_per_s"], 3),
            **(
                {
                    f"{k}_delta": round(o["quality"][k] - t["quality"][k], 4)
                    for k in ("recall@5", "mrr@10", "evidence@5")
                }
                if "quality" in t and "quality" in o
                else {}
            ),
        }
    return out


def lookup(fn):
    """`fn()`, or None when the results lack what it reads (a skipped phase)."""
    try:
        return fn()
    except (KeyError, TypeError):
        return None


# The performance goals (bench goals, never timed assertions in tests): (name, measured, limit, met?).
def goals(results: dict) -> list[dict]:
    """Each goal with its measured value for the default backend, or None when not measured."""
    backend = results.get("default_backend")
    ours = results.get("ours", {}).get(backend, {})
    comp = results.get("comparison", {})
    int8 = comp.get("onnx-int8_vs_onnx", {})
    rows = [
        (
            "index build tokens/s vs LlamaIndex default",
            lookup(lambda: comp[f"{backend}_vs_llamaindex"]["tokens_per_s_ratio"]),
            ">=",
            2.5,
        ),
        ("int8 recall@5 delta to fp32 (absolute)", lookup(lambda: abs(int8["recall@5_delta"])), "<=", 0.01),
        (
            "int8 evidence@5 delta to fp32 (absolute)",
            lookup(lambda: abs(int8["evidence@5_delta"])),
            "<=",
            0.01,
        ),
        (
            "no-change rebuild / full build",
            lookup(lambda: ours["rebuild_no_change"]["ratio_to_full_build"]),
            "<=",
            0.02,
        ),
        ("extractive answer p50 (ms)", lookup(lambda: ours["latency"]["ask_p50_ms"]), "<=", 100),
        ("extractive answer p95 (ms)", lookup(lambda: ours["latency"]["ask_p95_ms"]), "<=", 250),
        ("serve start to first answer (s)", lookup(lambda: results["serve"]["ready_s"]), "<=", 10),
        ("load test errors", lookup(lambda: results["load"]["errors"]), "<=", 0),
    ]
    return [
        {
            "goal": name,
            "measured": value,
            "target": f"{op} {limit}",
            "met": None if value is None else (value >= limit if op == ">=" else value <= limit),
        }
        for name, value, op, limit in rows
    ]


# -- output --------------------------------------------------------------------------------------
def print_tables(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    m = results["machine"]
    title = f"Briefing benchmark · {m['date']} · {m['cpu_model']} · {m['cores']} cores"
    if "load_average_1m_at_start" in m:
        title += f" · load avg {m['load_average_1m_at_start']}→{m.get('load_average_1m_at_end', '?')}"
    if results.get("limit"):
        title += f" · first {results['limit']} documents"
    if not results.get("complete", True):
        title += " · INCOMPLETE"
    table = Table(title=title, title_justify="left")
    pipelines = [(f"ours · {b}", r) for b, r in results.get("ours", {}).items()]
    if results.get("llamaindex_default"):
        pipelines.append(("LlamaIndex default", results["llamaindex_default"]))
    table.add_column("metric")
    for name, _ in pipelines:
        table.add_column(name, justify="right")

    def row(label: str, fn) -> None:
        cells = []
        for _, r in pipelines:
            value = lookup(lambda r=r: fn(r))
            cells.append("–" if value is None else str(value))
        table.add_row(label, *cells)

    row("full build (s)", lambda r: r["build"]["seconds"])
    row("model load (s, not in build)", lambda r: r["model_load_s"])
    row("documents / s", lambda r: r["build"]["documents_per_s"])
    row("chunks (count)", lambda r: r["build"]["chunks"])
    row("chunks / s", lambda r: r["build"]["chunks_per_s"])
    row("sentences embedded (count)", lambda r: r["build"].get("sentences"))
    row("tokens embedded (chunks+sentences)", lambda r: r["build"]["tokens_embedded"])
    row("tokens / s (all embedded)", lambda r: r["build"]["tokens_per_s"])
    row("tokens / s (chunks only)", lambda r: r["build"].get("chunk_tokens_per_s"))
    row("unembedded share (beyond 256)", lambda r: f"{r['build']['unembedded_share']:.1%}")
    row("truncated chunks", lambda r: r["build"]["chunk_tokens"]["truncated_texts"])
    row("peak RSS build (MB)", lambda r: r["build"]["peak_rss_mb"])
    comp = results.get("comparison", {})
    row("tokens/s ratio vs LlamaIndex", lambda r: comp[f"{r['backend']}_vs_llamaindex"]["tokens_per_s_ratio"])
    row("no-change rebuild (s)", lambda r: r["rebuild_no_change"]["seconds"])
    row("no-change rebuild / full", lambda r: f"{r['rebuild_no_change']['ratio_to_full_build']:.2%}")
    row("BM25 full rebuild (s)", lambda r: r["bm25_full_rebuild"]["seconds"])
    row(
        "search p50 / p95 (ms)",
        lambda r: f"{r['latency']['search_p50_ms']} / {r['latency']['search_p95_ms']}",
    )
    row("ask p50 / p95 (ms)", lambda r: f"{r['latency']['ask_p50_ms']} / {r['latency']['ask_p95_ms']}")
    row("recall@5 (hybrid)", lambda r: r["quality"]["recall@5"])
    row("MRR@10 (hybrid)", lambda r: r["quality"]["mrr@10"])
    row("evidence@5 (hybrid)", lambda r: r["quality"]["evidence@5"])
    console.print(table)

    extra = Table(title="Serving, load test and deltas", title_justify="left", show_header=False)
    extra.add_column("metric")
    extra.add_column("value")
    if results.get("serve"):
        s = results["serve"]
        extra.add_row(f"serve ({s['backend']}): start → first /api/ask answer", f"{s['ready_s']} s")
        extra.add_row("serve RSS after first answer", f"{s['rss_mb_after_first_answer']} MB")
        if "peak_rss_mb" in s:
            extra.add_row(
                "serve RSS after load / peak", f"{s['rss_mb_after_load']} MB / {s['peak_rss_mb']} MB"
            )
    if results.get("load"):
        ld = results["load"]
        extra.add_row(
            f"load: {ld['clients']} clients, {ld['requests_sent']} requests",
            f"{ld['throughput_rps']} req/s · p50 {ld['latency_p50_ms']} ms · p95 {ld['latency_p95_ms']} ms"
            f" · {ld['errors']} errors · {ld['seconds']} s ({ld['stopped_by']})",
        )
    for key, value in comp.items():
        if not key.endswith("_vs_llamaindex"):
            extra.add_row(key, ", ".join(f"{k}={v}" for k, v in value.items()))
    if extra.row_count:
        console.print(extra)

    backend = results.get("default_backend")
    verdicts = Table(title=f"Goals (default backend: {backend})", title_justify="left")
    for column in ("goal", "measured", "target", "met"):
        verdicts.add_column(column)
    for g in results.get("goals") or goals(results):
        met = {True: "yes", False: "NO", None: "not measured"}[g["met"]]
        verdicts.add_row(g["goal"], "–" if g["measured"] is None else str(g["measured"]), g["target"], met)
    console.print(verdicts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmarks of Briefing against LlamaIndex defaults.")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "external-corpus")
    parser.add_argument(
        "--questions", type=Path, default=ROOT.parent / "shared" / "eval" / "dev-questions.jsonl"
    )
    parser.add_argument("--backends", default=",".join(BACKENDS), help="Comma-separated embedding backends.")
    parser.add_argument("--limit", type=int, default=None, help="Use only the first N documents.")
    parser.add_argument("--questions-limit", type=int, default=None, help="Use only the first N questions.")
    parser.add_argument("--skip-baseline", action="store_true", help="Skip the LlamaIndex-default build.")
    parser.add_argument("--skip-serve", action="store_true", help="Skip `briefing serve` and the load test.")
    parser.add_argument("--skip-load", action="store_true", help="Skip the load test only.")
    parser.add_argument("--load-clients", type=int, default=16)
    parser.add_argument("--load-requests", type=int, default=160)
    parser.add_argument("--load-time-cap", type=float, default=120.0)
    parser.add_argument("-o", "--out", type=Path, default=RESULTS)
    parser.add_argument("--show", type=Path, help="Only print the tables of an existing results.json.")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--worker-args", help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        result = WORKERS[args.worker](**json.loads(args.worker_args))
        args.worker_out.write_text(json.dumps(result))
        return 0

    def fail(message: str) -> int:
        print(f"error: {message}", file=sys.stderr)
        return 2

    if args.show:
        if not args.show.exists():
            return fail(f"no results file at {args.show}")
        print_tables(json.loads(args.show.read_text()))
        return 0

    if not args.corpus.is_dir():
        return fail(f"corpus folder not found: {args.corpus}")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not backends or any(b not in BACKENDS for b in backends):
        return fail(f"--backends must be a comma-separated subset of {','.join(BACKENDS)}")
    questions = args.questions if args.questions and args.questions.exists() else None
    if args.questions and questions is None:
        print(f"warning: no questions at {args.questions}: latency and quality are skipped", file=sys.stderr)
    tmp_questions = None
    if questions and args.questions_limit:
        lines = [ln for ln in questions.read_text(encoding="utf-8").splitlines() if ln.strip()]
        tmp_questions = Path(tempfile.mkstemp(prefix="briefing-q-", suffix=".jsonl")[1])
        tmp_questions.write_text("\n".join(lines[: args.questions_limit]) + "\n", encoding="utf-8")
        questions = tmp_questions
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def partial(results: dict) -> None:
        """Write what is measured so far (marked incomplete), so a long run is never all lost."""
        snapshot = {**results, "comparison": compare(results), "complete": False}
        args.out.write_text(json.dumps(snapshot, indent=2) + "\n")

    try:
        results = run_benchmark(
            args.corpus.resolve(),
            questions.resolve() if questions else None,
            backends,
            args.limit,
            args.skip_baseline,
            args.skip_serve,
            args.skip_load,
            args.load_clients,
            args.load_requests,
            args.load_time_cap,
            log=lambda msg: print(msg, file=sys.stderr, flush=True),
            checkpoint=partial,
        )
    except RuntimeError as exc:
        return fail(str(exc))
    finally:
        if tmp_questions:
            tmp_questions.unlink(missing_ok=True)
    if args.questions_limit:
        results["questions_limit"] = args.questions_limit
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print_tables(results)
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
