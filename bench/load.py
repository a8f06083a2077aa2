#!/usr/bin/env python
"""Load test of the REST API: N concurrent clients POST /api/ask to a `briefing serve` started here.

    .venv/bin/python bench/load.py --index-dir .cache/eval-index \
        --questions ../shared/eval/dev-questions.jsonl --clients 16 --requests 160 --time-cap 120

The server listens on 127.0.0.1 only, on a free port; the run is bounded by a request count and a
time cap (requests in flight at the cap get at most `--timeout` seconds), then the server is stopped.
Also used by bench/run.py, which measures the server's start-up time and RSS with the same helpers.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
WARM_QUESTION = "What does the EU AI Act say about high-risk AI systems?"


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def briefing_command() -> list[str]:
    """The `briefing` entry point of this interpreter's environment."""
    script = Path(sys.executable).parent / "briefing"
    return [str(script)] if script.exists() else [sys.executable, "-m", "briefing.cli"]


def start_server(index_dir: Path, port: int, backend: str | None, log: Path) -> subprocess.Popen:
    """Start `briefing serve --index-dir DIR --port PORT` on 127.0.0.1; output goes to `log`."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", BRIEFING_HOST=HOST)
    if backend:
        env["BRIEFING_EMBED_BACKEND"] = backend
    cmd = [*briefing_command(), "serve", "--index-dir", str(index_dir), "--host", HOST, "--port", str(port)]
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)


def wait_for_answer(base_url: str, proc: subprocess.Popen, timeout: float = 300.0) -> float:
    """Poll POST /api/ask until it answers (HTTP 200 with an answer); returns seconds since `started`."""
    import httpx

    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=30.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"briefing serve exited with code {proc.returncode} before answering")
            try:
                reply = client.post(f"{base_url}/api/ask", json={"question": WARM_QUESTION})
                if reply.status_code == 200 and "answer" in reply.json():
                    return time.monotonic()
            except (httpx.TransportError, ValueError):
                pass
            time.sleep(0.2)
    raise TimeoutError(f"briefing serve did not answer within {timeout:.0f}s")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory (VmRSS) or its peak (VmHWM) of a process, in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def stop_server(proc: subprocess.Popen) -> None:
    """Stop the server this module started (SIGINT, then SIGKILL after 15 s)."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct / 100 * len(ordered) // 1))))
    return ordered[rank - 1]


def variant(i: int) -> str:
    """A lower-case tag unique to request `i` ("req-b", "req-ba"…). Not a number: the answerer treats
    a number the passages lack as a sign that the corpus does not cover the question, and abstains."""
    letters = ""
    while True:
        i, digit = divmod(i, 26)
        letters += "abcdefghijklmnopqrstuvwxyz"[digit]
        if not i:
            return f"req-{letters}"


def run_load(
    base_url: str,
    questions: list[str],
    clients: int = 16,
    requests: int = 160,
    time_cap: float = 120.0,
    timeout: float = 60.0,
    distinct: bool = True,
) -> dict:
    """`clients` threads POST /api/ask (questions in turn) until `requests` are sent or `time_cap` passes.

    `distinct`: tag each question with a word of its own (`variant`) so that no request hits the
    server's query-embedding cache, as on a team server where most questions are new; False repeats
    the questions verbatim.
    """
    import httpx

    lock = threading.Lock()
    state = {"next": 0}
    latencies: list[float] = []
    errors: list[str] = []
    abstained = [0]
    started = time.monotonic()
    deadline = started + time_cap

    def client_loop() -> None:
        with httpx.Client(timeout=timeout) as client:
            while True:
                with lock:
                    i = state["next"]
                    if i >= requests or time.monotonic() >= deadline:
                        return
                    state["next"] += 1
                text = questions[i % len(questions)] + (f" ({variant(i)})" if distinct else "")
                t0 = time.perf_counter()
                try:
                    reply = client.post(
                        f"{base_url}/api/ask",
                        json={"question": text, "id": f"load-{i}"},
                    )
                    ok = reply.status_code == 200 and "answer" in reply.json()
                    problem = None if ok else f"HTTP {reply.status_code}: {reply.text[:120]}"
                    skipped = ok and reply.json().get("abstained", False)
                except Exception as exc:  # noqa: BLE001 - every failure is counted, none is fatal
                    problem, skipped = f"{type(exc).__name__}: {exc}"[:160], False
                elapsed = (time.perf_counter() - t0) * 1000
                with lock:
                    if problem:
                        errors.append(problem)
                    else:
                        latencies.append(elapsed)
                        abstained[0] += int(skipped)

    threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(time_cap + timeout + 5)
    wall = time.monotonic() - started
    return {
        "clients": clients,
        "requests_planned": requests,
        "distinct_questions": state["next"] if distinct else min(len(questions), state["next"]),
        "time_cap_s": time_cap,
        "requests_sent": state["next"],
        "ok": len(latencies),
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:5],
        "abstained": abstained[0],
        "seconds": round(wall, 2),
        "throughput_rps": round(len(latencies) / wall, 2) if wall else 0.0,
        "latency_p50_ms": round(percentile(latencies, 50), 1),
        "latency_p95_ms": round(percentile(latencies, 95), 1),
        "latency_mean_ms": round(statistics.fmean(latencies), 1) if latencies else 0.0,
        "stopped_by": "request count" if state["next"] >= requests else "time cap",
    }


def load_questions(path: Path | None) -> list[str]:
    """Questions of a dev-questions JSONL file (without history), or a few built-in ones."""
    if path and path.exists():
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        found = [r["question"] for r in rows if not r.get("history")]
        if found:
            return found
    return [WARM_QUESTION, "What fines does the EU AI Act set?", "What did the Bletchley declaration say?"]


def serve_and_load(
    index_dir: Path,
    questions: list[str],
    backend: str | None,
    log: Path,
    clients: int = 16,
    requests: int = 160,
    time_cap: float = 120.0,
    distinct: bool = True,
) -> dict:
    """Start a server, time it to its first answer, record its RSS, run the load test, stop it."""
    port = free_port()
    base_url = f"http://{HOST}:{port}"
    started = time.monotonic()
    proc = start_server(index_dir, port, backend, log)
    try:
        ready = wait_for_answer(base_url, proc) - started
        serve = {"ready_s": round(ready, 2), "rss_mb_after_first_answer": rss_mb(proc.pid), "port": port}
        load = (
            run_load(base_url, questions, clients, requests, time_cap, distinct=distinct)
            if requests
            else None
        )
        if load is not None:
            serve["rss_mb_after_load"] = rss_mb(proc.pid)
            serve["peak_rss_mb"] = rss_mb(proc.pid, "VmHWM")
    finally:
        stop_server(proc)
    return {"serve": serve, "load": load}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--index-dir", type=Path, default=ROOT / "index", help="A built index (briefing index)."
    )
    parser.add_argument("--questions", type=Path, default=ROOT.parent / "shared/eval/dev-questions.jsonl")
    parser.add_argument("--backend", default=None, help="BRIEFING_EMBED_BACKEND the index was built with.")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=160)
    parser.add_argument("--time-cap", type=float, default=120.0)
    parser.add_argument(
        "--repeat-questions",
        action="store_true",
        help="Send the questions verbatim (cache hits after one round).",
    )
    parser.add_argument("--log", type=Path, default=Path("/tmp") / f"briefing-load-{os.getpid()}.log")
    args = parser.parse_args(argv)
    if not (args.index_dir / "manifest.sqlite").exists():
        print(f"error: no index at {args.index_dir} (run `briefing index` first)", file=sys.stderr)
        return 2
    result = serve_and_load(
        args.index_dir,
        load_questions(args.questions),
        args.backend,
        args.log,
        args.clients,
        args.requests,
        args.time_cap,
        distinct=not args.repeat_questions,
    )
    print(json.dumps(result, indent=2))
    return 0 if result["load"]["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
