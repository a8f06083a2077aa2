"""The REST API (FastAPI) with the browser UI mounted at "/"; `serve` warms the engine, then runs uvicorn.

Endpoints are plain `def` functions, so FastAPI runs the blocking library calls in its thread pool
and serves many clients at once. Every error is JSON: {"error": "..."}.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from briefing import service
from briefing.answer import validate_question
from briefing.errors import BriefingError
from briefing.index import IndexBusy
from briefing.retrieve import Filters, IndexMismatch, IndexMissing
from briefing.settings import Settings, get_settings

MAX_BODY_BYTES = 1_000_000
MAX_HISTORY = 20
METHODS = {"ask": "POST", "brief": "POST", "health": "GET", "documents": "GET"}
MEDIA_TYPES = {
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


class FilterBody(BaseModel):
    """Document filters, as `briefing.retrieve.Filters`."""

    model_config = ConfigDict(extra="forbid")

    jurisdiction: list[StrictStr] = Field(default_factory=list, max_length=20)
    since: StrictStr | None = None
    until: StrictStr | None = None
    publisher: list[StrictStr] = Field(default_factory=list, max_length=20)

    @field_validator("jurisdiction", "publisher", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("since", "until")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError("not an ISO date (YYYY-MM-DD)") from None
        return value

    def to_filters(self) -> Filters:
        return Filters(
            jurisdiction=self.jurisdiction, since=self.since, until=self.until, publisher=self.publisher
        )


class AskBody(BaseModel):
    """The body of POST /api/ask (the `briefing ask --jsonl` line format, plus filters)."""

    model_config = ConfigDict(extra="forbid")

    question: StrictStr
    history: list[StrictStr] | None = Field(None, max_length=MAX_HISTORY)
    id: StrictStr | StrictInt | None = None
    filters: FilterBody | None = None


class BriefBody(BaseModel):
    """The body of POST /api/brief."""

    model_config = ConfigDict(extra="forbid")

    topic: StrictStr
    format: Literal["md", "pdf", "docx", "html"] = "md"
    filters: FilterBody | None = None


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(_settings)]
router = APIRouter(prefix="/api")


@router.post("/ask")
def ask(body: AskBody, settings: SettingsDep) -> dict[str, Any]:
    """A cited answer (or an abstention): the same JSON as `briefing ask --json`."""
    problem = validate_question(body.question, settings.max_question_chars)
    if not problem and any(len(turn) > settings.max_question_chars for turn in body.history or []):
        problem = f"A history turn is too long (the limit is {settings.max_question_chars:,} characters)."
    if problem:
        raise HTTPException(400, problem)
    filters = body.filters.to_filters() if body.filters else None
    answer = service.ask(body.question, history=body.history, filters=filters, settings=settings, qid=body.id)
    return answer.to_json()


@router.post("/brief")
def brief(body: BriefBody, settings: SettingsDep) -> Response:
    """A one-page brief as Markdown text, HTML, or a PDF or DOCX file."""
    from briefing import render
    from briefing.brief import validate_topic

    filters = body.filters.to_filters() if body.filters else None
    try:
        validate_topic(body.topic)
        result = service.brief(body.topic, filters=filters, settings=settings)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="briefing-api-") as tmp:
        data = render.render(result, body.format, Path(tmp) / f"brief.{body.format}").read_bytes()
    slug = re.sub(r"[^a-z0-9]+", "-", result.topic.lower()).strip("-")[:60] or "brief"
    disposition = "inline" if body.format in ("md", "html") else "attachment"
    headers = {"Content-Disposition": f'{disposition}; filename="brief-{slug}.{body.format}"'}
    return Response(data, media_type=MEDIA_TYPES[body.format], headers=headers)


@router.get("/health")
def health(settings: SettingsDep) -> dict[str, Any]:
    """Liveness and what the index holds."""
    info = service.stats(settings)
    return {
        "status": "ok",
        "documents": info["documents"],
        "chunks": info["chunks"],
        "last_indexed": info["last_indexed"],
        "last_refresh": info["last_refresh"],
        "answer_backend": settings.answer_backend,
    }


@router.get("/documents")
def documents(settings: SettingsDep) -> list[dict[str, Any]]:
    """Every indexed document with its metadata and number of chunks."""
    docs = service.engine(settings).searcher.documents().values()
    return [
        {
            "doc_id": d.doc_id,
            "title": d.title,
            "date": d.date,
            "publisher": d.publisher,
            "jurisdiction": d.jurisdiction,
            "topics": d.topics,
            "url": d.url,
            "chunks": d.n_chunks,
            "updated": d.updated,
            "as_of": d.as_of,
            "event_dates": d.event_dates,
            "sources": d.sources,
        }
        for d in docs
    ]


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def unknown(path: str, request: Request) -> None:
    """Any other /api/ request: a JSON 405 (known path, wrong method) or 404, instead of the UI's page."""
    if path in METHODS:
        raise HTTPException(405, f"use {METHODS[path]} /api/{path}")
    raise HTTPException(404, f"no such endpoint: {request.method} /api/{path} (see /api/docs)")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if bad_json:
        return _error(400, f"malformed JSON: {bad_json.get('ctx', {}).get('error', bad_json['msg'])}")
    parts = []
    for e in errors[:5]:
        where = ".".join(str(x) for x in e["loc"] if x != "body") or "body"
        parts.append(f"{where}: {e['msg']}")
    return _error(422, "; ".join(parts))


def _add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, lambda r, e: _error(e.status_code, str(e.detail)))
    app.add_exception_handler(IndexMissing, lambda r, e: _error(503, str(e)))
    app.add_exception_handler(IndexBusy, lambda r, e: _error(503, str(e)))
    app.add_exception_handler(IndexMismatch, lambda r, e: _error(503, str(e)))
    app.add_exception_handler(BriefingError, lambda r, e: _error(503, str(e)))  # e.g. no answer model
    app.add_exception_handler(Exception, lambda r, e: _error(500, f"internal error: {type(e).__name__}"))

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length", "")
        if request.url.path.startswith("/api/") and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return _error(413, f"the request body is larger than {MAX_BODY_BYTES:,} bytes")
        return await call_next(request)


def create_app(settings: Settings | None = None, ui: bool = True) -> FastAPI:
    """The FastAPI app: the REST API under /api, and (with `ui`) the Gradio UI at "/"."""
    app = FastAPI(title="Briefing API", docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json")
    app.state.settings = settings or get_settings()
    _add_error_handlers(app)
    app.include_router(router)
    if ui:
        from ui.app import mount

        mount(app, app.state.settings)
    return app


def warm_up(settings: Settings) -> float:
    """Load the index and the models and run one tiny search; returns the seconds it took."""
    started = time.perf_counter()
    service.engine(settings).searcher.search("AI governance", k=1)
    return time.perf_counter() - started


def check_port(host: str, port: int) -> None:
    """OSError with a clear message when the address cannot be bound."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def serve(settings: Settings) -> None:
    """Warm the engine (in a thread, while the UI is built), then serve with uvicorn until interrupted."""
    import uvicorn

    check_port(settings.host, settings.port)
    with ThreadPoolExecutor(1) as pool:
        warming = pool.submit(warm_up, settings)
        app = create_app(settings)
        seconds = warming.result()
    count = len(service.engine(settings).searcher.documents())
    print(
        f"Briefing: {count} documents, models loaded in {seconds:.1f}s; http://{settings.host}:{settings.port}/",
        flush=True,
    )
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False)
