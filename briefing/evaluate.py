"""The metrics of `shared/eval/README.md`, computed exactly as defined there."""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterable
from pathlib import Path

from briefing.answer.features import ENACTING
from briefing.answer.question import standalone_question
from briefing.corpus import corpus_files, doc_id_for
from briefing.retrieve import Searcher
from briefing.text import DATE
from briefing.types import Answer

MODES = ("dense", "bm25", "hybrid")


def normalise(text: str) -> str:
    """Case-folded, whitespace-normalised, without [n] markers and Markdown emphasis."""
    text = re.sub(r"\[\d+\]", " ", text)
    text = re.sub(r"[*_`]+", "", text)
    return re.sub(r"\s+", " ", text).strip().lower()


def _ws(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def hits(text: str, question: dict) -> bool:
    """The answer hits `answer_contains` and every `answer_contains_all` group."""
    norm = normalise(text)
    if not any(normalise(s) in norm for s in question.get("answer_contains", [])):
        return False
    return all(any(normalise(s) in norm for s in group) for group in question.get("answer_contains_all", []))


def trigrams(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def holds_evidence(passage: str, evidence: str) -> bool:
    """The passage holds at least half of the evidence quote's distinct word trigrams."""
    wanted = trigrams(evidence)
    return bool(wanted) and len(wanted & trigrams(passage)) / len(wanted) >= 0.5


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def corpus_texts(corpus_dir: Path) -> dict[str, str]:
    """doc_id → normalised full file text, for cite_valid."""
    return {
        doc_id_for(p, corpus_dir): _ws(p.read_text(encoding="utf-8", errors="ignore"))
        for p in corpus_files(corpus_dir)
    }


def retrieval_metrics(searcher: Searcher, questions: list[dict], mode: str) -> dict:
    """recall@5, mrr@10 and evidence@5 for one retrieval mode."""
    recall, mrr, evidence = [], [], []
    for q in questions:
        if q["type"] == "unanswerable":
            continue
        query = standalone_question(q["question"], q.get("history"))
        passages = searcher.search(query, k=10, mode=mode)
        ids = [p.doc_id for p in passages]
        gold = set(q["gold_docs"])
        recall.append(any(d in gold for d in ids[:5]))
        mrr.append(next((1 / r for r, d in enumerate(ids[:10], start=1) if d in gold), 0.0))
        evidence.append(any(holds_evidence(p.text, q.get("evidence", "")) for p in passages[:5]))
    return {"recall@5": _mean(recall), "mrr@10": _mean(mrr), "evidence@5": _mean(evidence)}


def answer_metrics(answers: Iterable[Answer], questions: list[dict], texts: dict[str, str]) -> dict:
    """answer_hit, supported, cite_valid, abstention rates, latency and answer length."""
    answerable, unanswerable, hit, supported, valid, lengths, latency = [], [], [], [], [], [], []
    for q, a in zip(questions, answers, strict=True):
        latency.append(a.latency_ms)
        for c in a.citations:
            valid.append(_ws(c.passage) in texts.get(c.doc_id, ""))
        if q["type"] == "unanswerable":
            unanswerable.append(a.abstained)
            continue
        answerable.append(a.abstained)
        ok = not a.abstained and hits(a.answer, q)
        hit.append(ok)
        supported.append(
            ok
            and any(
                normalise(s) in normalise(c.passage + " " + c.quote)
                for c in a.citations
                for s in q["answer_contains"]
            )
        )
        if not a.abstained:
            lengths.append(len(re.sub(r"\[\d+\]", "", a.answer).split()))
    return {
        "answer_hit": _mean(hit),
        "supported": _mean(supported),
        "cite_valid": _mean(valid) if valid else 1.0,
        "abstain_ok": _mean(unanswerable),
        "false_abstain": _mean(answerable),
        "median_words": statistics.median(lengths) if lengths else 0,
        "latency_p50_ms": _pct(latency, 50),
        "latency_p95_ms": _pct(latency, 95),
        "n_questions": len(questions),
    }


QUALITY = {  # what a brief must not show as a claim, by how it looks
    "fragments": lambda t: t[:1].islower() or not re.search(r"[.!?:;)\]\"”’]$", t) or len(t.split()) < 6,
    "headings": lambda t: len(t.split()) <= 12 and not re.search(r"[.!?;]$", t),
    "enacting_or_sponsors": lambda t: bool(ENACTING.search(t)),
}


def brief_quality(brief) -> dict:
    """Counts of items that read badly: fragments, headings, enacting clauses or sponsor lists, and
    key developments that state no date of their own (a source's date is not the event's)."""
    items = [item for section in brief.sections for item in section.items]
    counts = {name: sum(test(item.text) for item in items) for name, test in QUALITY.items()}
    developments = next((s.items for s in brief.sections if s.key == "developments"), [])
    counts["undated_developments"] = sum(not DATE.search(item.text) for item in developments)
    counts["items"] = len(items)
    return counts


def brief_metrics(settings, topics: list[dict]) -> dict:
    """must_cover and the quality counts per topic, and their totals."""
    from briefing.brief import make_brief
    from briefing.render import to_markdown
    from briefing.retrieve import Searcher

    searcher = Searcher(settings)
    rows = []
    for topic in topics:
        brief = make_brief(topic["topic"], settings=settings, searcher=searcher)
        coverage = brief_coverage(to_markdown(brief), topic["must_cover"])
        rows.append(
            {"id": topic["id"], "topic": topic["topic"], "must_cover": coverage} | brief_quality(brief)
        )
    totals = {key: sum(r[key] for r in rows) for key in [*QUALITY, "undated_developments", "items"]}
    return {"must_cover": _mean([r["must_cover"] for r in rows]), "quality": totals, "topics": rows}


def brief_coverage(text: str, must_cover: list[list[str]]) -> float:
    """Share of a topic's groups hit by the brief's text."""
    norm = normalise(text)
    return _mean([any(normalise(alt) in norm for alt in group) for group in must_cover])


def _mean(values: list) -> float:
    return round(sum(float(v) for v in values) / len(values), 4) if values else 0.0


def _pct(values: list[float], pct: int) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[idx], 1)


def run_eval(
    settings,
    question_paths: list[Path],
    briefs_paths: list[Path] | None = None,
    progress: bool = False,
    cv: int | None = None,
) -> dict:
    """Index the corpus, then score retrieval in every mode, answers, and optionally briefs; with
    `cv`, also the answer model's k-fold cross-validated figures (`briefing.answer.train`)."""
    from briefing import service
    from briefing.answer import train

    report = service.index(settings, progress=progress)
    questions = train.load_items(question_paths)
    engine = service.engine(settings)
    engine.ask("warm-up question on AI governance")  # models loaded before timing
    results: dict = {
        "corpus": str(settings.corpus_dir),
        "questions": [str(p) for p in question_paths],
        "index": {"documents": len(engine.searcher.documents()), "seconds": round(report.seconds, 1)},
        "retrieval": {mode: retrieval_metrics(engine.searcher, questions, mode) for mode in MODES},
    }
    answers = [engine.ask(q["question"], history=q.get("history"), qid=q["id"]) for q in questions]
    results["answers"] = answer_metrics(answers, questions, corpus_texts(Path(settings.corpus_dir)))
    # The shipped model's figures on the questions it was fitted on are not a result (see --cv).
    results["answers"]["in_sample"] = train.describe(questions)["ids_sha256"] == engine.model.fitted_on.get(
        "ids_sha256"
    )
    if cv:
        examples = train.collect(engine, questions)
        results["cv"] = train.cross_validate(
            examples, cv, corpus_texts(Path(settings.corpus_dir)), settings.answer_max_words
        )
    results["per_question"] = [
        {
            "id": q["id"],
            "abstained": a.abstained,
            "hit": hits(a.answer, q),
            "answer": a.answer,
            "docs": [p.doc_id for p in a.retrieved[:5]],
        }
        for q, a in zip(questions, answers, strict=True)
    ]
    if briefs_paths:
        results["briefs"] = brief_metrics(settings, [t for path in briefs_paths for t in load_jsonl(path)])
    return results
