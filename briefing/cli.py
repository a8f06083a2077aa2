"""The `briefing` command line: a thin shell over `briefing.service`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from briefing.errors import BriefingError

app = typer.Typer(
    help="Briefing: cited answers and one-page briefs on AI governance, from a local corpus.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: flags show as `--json`, not `--json <bool>`, and text wraps to the terminal.
    rich_markup_mode=None,
)
out = Console()
err = Console(stderr=True)

CorpusOpt = Annotated[
    Path | None,
    typer.Option(
        "--corpus", metavar="DIR", help="Corpus folder (default: BRIEFING_CORPUS_DIR, else corpus/)."
    ),
]
IndexOpt = Annotated[
    Path | None,
    typer.Option(
        "--index-dir", metavar="DIR", help="Index folder (default: BRIEFING_INDEX_DIR, else index/)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
JurOpt = Annotated[
    list[str] | None,
    typer.Option("--jurisdiction", "-j", metavar="NAME", help="Only these jurisdictions (repeatable)."),
]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since",
        metavar="YYYY-MM-DD",
        help="Only documents dated (or with an event) on or after this ISO date.",
    ),
]
UntilOpt = Annotated[
    str | None,
    typer.Option(
        "--until",
        metavar="YYYY-MM-DD",
        help="Only documents dated (or with an event) on or before this ISO date.",
    ),
]
PubOpt = Annotated[
    list[str] | None, typer.Option("--publisher", metavar="NAME", help="Only these publishers (repeatable).")
]


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error and exit."""
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _settings(corpus: Path | None = None, index_dir: Path | None = None):
    from pydantic import ValidationError

    from briefing.service import configure

    try:
        return configure(corpus_dir=corpus, index_dir=index_dir)
    except ValidationError as exc:
        fail(f"bad setting: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}")


def _filters(jurisdiction, since, until, publisher):
    import datetime as dt

    from briefing.retrieve import Filters

    for value in (since, until):
        if value:
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                fail(f"not an ISO date (YYYY-MM-DD): {value}")
    return Filters(jurisdiction=jurisdiction or [], since=since, until=until, publisher=publisher or [])


@app.command()
def index(corpus: CorpusOpt = None, index_dir: IndexOpt = None, json_out: JsonOpt = False) -> None:
    """Build or update the index from the corpus folder.

    Only new or changed documents are embedded.
    """
    from briefing.index import IndexBusy
    from briefing.service import index as run_index

    settings = _settings(corpus, index_dir)
    try:
        report = run_index(settings, progress=not json_out)
    except (FileNotFoundError, IndexBusy, ValueError) as exc:
        fail(str(exc))
    if json_out:
        print(json.dumps(report.to_json(), indent=2))
        return
    out.print(
        f"[bold]{len(report.added)} added, {len(report.updated)} updated, {len(report.removed)} removed, "
        f"{len(report.unchanged)} unchanged, {len(report.skipped)} skipped[/bold] · "
        f"{report.chunks_embedded} chunks embedded in {report.seconds:.1f}s"
        + (f" · {report.repaired} vectors repaired" if report.repaired else "")
        + (f" · every document re-embedded with {report.reembedded_with}" if report.reembedded_with else ""),
        soft_wrap=True,
    )
    for path, reason in report.skipped:
        out.print(f"  skipped {path}: {reason}", highlight=False)


@app.command()
def search(
    query: Annotated[str, typer.Argument(metavar="QUERY", help="What to look for.")],
    index_dir: IndexOpt = None,
    k: Annotated[int, typer.Option("-k", metavar="N", help="How many passages.")] = 10,
    mode: Annotated[str, typer.Option(metavar="MODE", help="hybrid, dense or bm25.")] = "hybrid",
    jurisdiction: JurOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    publisher: PubOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show the passages that retrieval ranks highest for a query."""
    if mode not in ("hybrid", "dense", "bm25"):
        fail("--mode must be hybrid, dense or bm25")
    settings = _settings(index_dir=index_dir)
    passages = _call(
        lambda s: s.search(
            query, k=k, filters=_filters(jurisdiction, since, until, publisher), mode=mode, settings=settings
        )
    )
    if json_out:
        print(
            json.dumps(
                [p.summary() | {"rank": p.rank, "title": p.meta.get("title")} for p in passages], indent=2
            )
        )
        return
    for p in passages:
        out.print(
            f"[bold]{p.rank}. {escape(str(p.meta.get('title')))}[/bold] · score {p.score:.4f}"
            f" ({escape(p.doc_id)}, {p.meta.get('date') or 'date unknown'})",
            soft_wrap=True,
        )
        out.print("   " + " ".join(p.text.split())[:300] + "…", highlight=False)


@app.command()
def ask(
    question: Annotated[
        str | None, typer.Argument(metavar="QUESTION", help="The question (omit with --jsonl).")
    ] = None,
    index_dir: IndexOpt = None,
    history: Annotated[
        list[str] | None, typer.Option("--history", metavar="TURN", help="An earlier user turn (repeatable).")
    ] = None,
    jurisdiction: JurOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    publisher: PubOpt = None,
    json_out: JsonOpt = False,
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help="Read JSON lines {id, question, history} on stdin.")
    ] = False,
) -> None:
    """Answer a question with cited sentences from the corpus.

    When the corpus does not cover the question, it says so and lists the closest passages.
    """
    settings = _settings(index_dir=index_dir)
    filters = _filters(jurisdiction, since, until, publisher)
    if jsonl:
        _ask_jsonl(settings, filters)
        return
    if question is None:
        fail("give a question, or --jsonl to read questions from stdin")
    load_s = _load(settings)
    answer = _call(lambda s: s.ask(question, history=history, filters=filters, settings=settings))
    if json_out:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
        raise typer.Exit(2 if answer.error else 0)
    if answer.error:
        fail(answer.error)
    out.print(answer.answer, highlight=False)
    out.print()
    for c in answer.citations:
        out.print(
            f"[{c.n}] {c.title} — {c.publisher or 'unknown publisher'}, {c.date or 'date unknown'}"
            + (f" <{c.url}>" if c.url else ""),
            highlight=False,
        )
    out.print(
        f"[dim]{answer.mode} · models loaded in {load_s:.1f} s · answered in {answer.latency_ms:.0f} ms[/dim]"
    )


def _load(settings) -> float:
    """Load the index and the models with one tiny search (as `serve` does); returns the seconds taken.

    The answer's own latency then measures answering alone."""
    import time

    started = time.perf_counter()
    _call(lambda s: s.search("AI governance", k=1, settings=settings))
    return time.perf_counter() - started


def _ask_jsonl(settings, filters) -> None:
    _load(settings)
    for n, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            print(json.dumps({"id": None, "line": n, "error": f"bad JSON line: {exc}"}), flush=True)
            continue
        history = item.get("history") if isinstance(item.get("history"), list) else None
        answer = _call(
            lambda s, i=item, h=history: s.ask(
                i.get("question"), history=h, filters=filters, settings=settings, qid=i.get("id")
            )
        )
        print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)


@app.command()
def stats(index_dir: IndexOpt = None, json_out: JsonOpt = False) -> None:
    """Documents and chunks in the index, by jurisdiction, topic and publisher."""
    settings = _settings(index_dir=index_dir)
    info = _call(lambda s: s.stats(settings))
    if json_out:
        print(json.dumps(info, indent=2))
        return
    out.print(
        f"[bold]{info['documents']} documents, {info['chunks']} chunks[/bold] in {info['index_dir']}"
        f" (last indexed {info['last_indexed']})"
    )
    for key in ("by_jurisdiction", "by_topic", "by_publisher"):
        table = Table(key.replace("by_", "by "), "documents")
        for name, count in info[key].items():
            table.add_row(name, str(count))
        out.print(table)


@app.command("check-corpus")
def check_corpus(
    folder: Annotated[
        Path | None, typer.Argument(help="Corpus folder (default: the configured one).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Lint a corpus: front matter, vocabulary, dates, sources, duplicate titles, conflicting facts.

    One line per finding (`path: kind: message`); kind `check` is a warning. Exit 1 when any error.
    """
    from briefing.corpus_check import check_corpus as run_check
    from briefing.corpus_check import summary

    root = folder or Path(_settings().corpus_dir)
    try:
        findings = run_check(root)
    except FileNotFoundError as exc:
        fail(str(exc))
    if json_out:
        print(json.dumps([f.to_json() for f in findings], indent=2, ensure_ascii=False))
    else:
        for finding in findings:
            out.print(finding.line(), highlight=False, markup=False, soft_wrap=True)
        out.print(summary(findings), highlight=False)
    raise typer.Exit(1 if any(f.is_error for f in findings) else 0)


def _call(fn):
    """Run a library call; known failures become one-line errors."""
    from briefing import service

    try:
        return fn(service)
    except (BriefingError, FileNotFoundError) as exc:  # every error Briefing raises on purpose
        fail(str(exc))


QuestionsOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--questions",
        metavar="FILE",
        help="Question set, JSON lines as in shared/eval/README.md (repeatable; default: the shared "
        "train and dev sets).",
    ),
]
SHARED_EVAL = Path("../shared/eval")


def _question_files(questions: list[Path] | None) -> list[Path]:
    files = questions or [SHARED_EVAL / "train-questions.jsonl", SHARED_EVAL / "dev-questions.jsonl"]
    for path in files:
        if not path.is_file():
            fail(f"question file not found: {path}")
    return files


@app.command("eval")
def evaluate(
    corpus: CorpusOpt = None,
    questions: QuestionsOpt = None,
    briefs: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="FILE", help="Brief topics (JSON lines) to score must_cover and quality (repeatable)."
        ),
    ] = None,
    cv: Annotated[
        int | None,
        typer.Option(
            "--cv",
            metavar="K",
            min=2,
            help="Also cross-validate the answer model: fit it on K-1 folds of the questions, score the "
            "held-out fold, and report the mean and range over folds.",
        ),
    ] = None,
    index_dir: IndexOpt = None,
    output: Annotated[
        Path, typer.Option("-o", "--output", metavar="FILE", help="Where to write the JSON results.")
    ] = Path("eval-results/eval.json"),
) -> None:
    """Score retrieval, answers and briefs on a question set.

    Indexes the corpus first; retrieval is scored dense, BM25 and hybrid; answers use the shipped
    answer model. Figures on questions the model was fitted on are not a result: use --cv.
    """
    from briefing.evaluate import run_eval

    files = _question_files(questions)
    for path in briefs or []:
        if not path.is_file():
            fail(f"brief topic file not found: {path}")
    settings = _settings(corpus, index_dir)
    try:
        results = run_eval(settings, files, briefs, progress=True, cv=cv)
    except (FileNotFoundError, ValueError, BriefingError) as exc:
        fail(str(exc))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2))
    _eval_table(results)
    out.print(f"results written to {output}")


@app.command()
def train(
    corpus: CorpusOpt = None,
    questions: QuestionsOpt = None,
    cv: Annotated[int, typer.Option("--cv", metavar="K", min=2, help="Folds of the cross-validation.")] = 5,
    index_dir: IndexOpt = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", metavar="FILE", help="Where to write the model (default: the shipped one)."
        ),
    ] = None,
) -> None:
    """Fit the answer model (unit ranker, composition, abstention) on a question set.

    Cross-validates first and prints the held-out figures, then fits on every question and writes
    the model file. Default: the shared train and dev sets over the shared external corpus.
    """
    from rich.progress import Progress

    from briefing.answer.model import MODEL_PATH
    from briefing.answer.train import train as fit_model

    files = _question_files(questions)
    settings = _settings(
        corpus or SHARED_EVAL.parent / "external-corpus", index_dir or Path(".cache/eval-index")
    )
    with Progress(transient=True) as bar:
        task = bar.add_task("Collecting answer units", total=None)
        try:
            model, report = fit_model(
                settings,
                files,
                cv,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        except (FileNotFoundError, ValueError, BriefingError) as exc:
            fail(str(exc))
    path = output or MODEL_PATH
    model.save(path)
    _cv_table(report)
    out.print(f"model written to {path}")


def _cv_table(report: dict) -> None:
    table = Table(
        "metric",
        "mean",
        "min",
        "max",
        title=f"{report['k']}-fold cross-validation ({report['n_questions']} questions)",
    )
    for key, value in report["metrics"].items():
        table.add_row(key, f"{value['mean']:.3f}", f"{value['min']:.3f}", f"{value['max']:.3f}")
    out.print(table)


def _eval_table(results: dict) -> None:
    table = Table("retrieval", "recall@5", "mrr@10", "evidence@5", title="Retrieval")
    for mode, m in results["retrieval"].items():
        table.add_row(mode, f"{m['recall@5']:.3f}", f"{m['mrr@10']:.3f}", f"{m['evidence@5']:.3f}")
    out.print(table)
    fitted = (
        " · in-sample: the model was fitted on these questions, see --cv"
        if results["answers"].get("in_sample")
        else ""
    )
    answers = Table(
        "metric", "value", title=f"Answers ({results['answers']['n_questions']} questions{fitted})"
    )
    for key, value in results["answers"].items():
        answers.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    out.print(answers)
    if results.get("cv"):
        _cv_table(results["cv"])
    if results.get("briefs"):
        briefs = Table("topic", "must_cover", "fragments", "headings", "enacting", "undated", title="Briefs")
        for row in results["briefs"]["topics"]:
            briefs.add_row(
                row["topic"],
                f"{row['must_cover']:.2f}",
                *(
                    str(row[k])
                    for k in ("fragments", "headings", "enacting_or_sponsors", "undated_developments")
                ),
            )
        q = results["briefs"]["quality"]
        briefs.add_row(
            f"mean / totals ({q['items']} items)",
            f"{results['briefs']['must_cover']:.3f}",
            *(str(q[k]) for k in ("fragments", "headings", "enacting_or_sponsors", "undated_developments")),
        )
        out.print(briefs)


@app.command()
def refresh(
    corpus: CorpusOpt = None,
    index_dir: IndexOpt = None,
    origin: Annotated[
        str | None,
        typer.Option(
            "--from", metavar="PATH_OR_URL", help="A file, folder or URL to read instead of sources.toml."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Fetch and compare; change nothing.")] = False,
    prune: Annotated[bool, typer.Option("--prune", help="Remove documents their source dropped.")] = False,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host", metavar="HOST", help="A host or address allowed although private (repeatable)."
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Update the corpus from its sources, then the index.

    The sources (folders, pages, feeds) are listed in corpus/sources.toml.

    \b
    Exit codes:
      0  done
      1  some items failed (the rest is applied)
      2  nothing done (bad configuration, busy)
    """
    from briefing.index import IndexBusy
    from briefing.refresh import ConfigError
    from briefing.service import refresh as run_refresh

    settings = _settings(corpus, index_dir)
    try:
        report = run_refresh(
            settings,
            origin=origin,
            dry_run=dry_run,
            prune=prune,
            allow_hosts=allow_host,
            progress=not json_out,
        )
    except Exception as exc:
        # Config or lock: nothing was done (2). A crash: the documents finished before it stay applied (1).
        code = 2 if isinstance(exc, (ConfigError, IndexBusy)) else 1
        message = str(exc) if code == 2 else f"refresh stopped: {type(exc).__name__}: {exc}"
        # soft_wrap: one line even in a cron log, where the console is 80 columns wide
        err.print(f"[red]error:[/red] {escape(' '.join(message.split()))}", highlight=False, soft_wrap=True)
        raise typer.Exit(code) from None
    if json_out:
        print(json.dumps(report.to_json(), indent=2))
    else:
        for line in report.lines():
            out.print(line, highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(report.exit_code)


@app.command()
def serve(
    host: Annotated[
        str | None,
        typer.Option(metavar="HOST", help="Address to listen on (default: BRIEFING_HOST, else 127.0.0.1)."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, metavar="PORT", help="Port (default: BRIEFING_PORT, else 7860)."),
    ] = None,
    index_dir: IndexOpt = None,
) -> None:
    """Serve the browser UI and the REST API.

    The UI is at http://HOST:PORT/, the API under /api; the models are loaded first.
    """
    from briefing.api import serve as run_server
    from briefing.index import manifest_path
    from briefing.retrieve import IndexMismatch

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = _settings(index_dir=index_dir).model_copy(update=overrides)
    if not manifest_path(settings).exists():
        fail(f"no index at {settings.index_dir}: run `briefing index` first")
    try:
        run_server(settings)
    except (OSError, IndexMismatch) as exc:
        fail(str(exc))


@app.command()
def brief(
    topic: Annotated[str, typer.Argument(metavar="TOPIC", help="What the brief is about.")],
    index_dir: IndexOpt = None,
    jurisdiction: JurOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    publisher: PubOpt = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format", "-f", metavar="FORMAT", help="md, pdf, docx or html (default: -o suffix, or md)."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", metavar="FILE", help="File to write; without it, Markdown is printed."
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the brief as JSON (and write -o).")] = False,
) -> None:
    """Write a one-page brief on a topic, every sentence cited.

    Every sentence is quoted from a source and cited [n].

    \b
    Exit codes:
      0  brief written
      2  bad input (empty topic, bad date, unknown format)
      3  insufficient coverage: a short note instead of a brief
    """
    from briefing.brief import validate_topic
    from briefing.render import FORMATS, render, to_markdown

    fmt = (fmt or (output.suffix.lstrip(".") if output and output.suffix else "md")).lower()
    if fmt not in FORMATS:
        fail(f"unknown format '{fmt}': use one of {', '.join(FORMATS)}")
    if fmt != "md" and output is None and not json_out:
        fail(f"--format {fmt} needs an output file: -o FILE")
    try:
        validate_topic(topic)
    except ValueError as exc:
        fail(str(exc))
    filters = _filters(jurisdiction, since, until, publisher)
    settings = _settings(index_dir=index_dir)
    result = _call(lambda s: s.brief(topic, filters=filters, settings=settings))
    if output is not None:
        try:
            render(result, fmt, output)
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror or exc}")
    if json_out:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    elif output is None:
        out.print(to_markdown(result), highlight=False, markup=False)
    else:
        err.print(f"wrote {output} ({fmt})", highlight=False)
    if result.insufficient:
        err.print(result.note or "insufficient coverage", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(3)


def main() -> None:
    """Entry point of the `briefing` script."""
    app()


if __name__ == "__main__":
    main()
