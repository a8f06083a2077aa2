"""Reading corpus files (Markdown, text, HTML, PDF) into `Document`s, skipping bad files with a reason."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from briefing.errors import BadFile  # noqa: F401 (re-exported)
from briefing.types import Document

SUFFIXES = {".md", ".markdown", ".txt", ".html", ".htm", ".pdf"}
IGNORED_NAMES = {"readme.md", "sources.md"}  # folder documentation and source notes, not articles
KNOWN_FIELDS = {"title", "date", "publisher", "url", "jurisdiction", "topics"}


@dataclass
class LoadReport:
    """The documents read and the files skipped, each with its reason."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def corpus_files(root: Path) -> Iterator[Path]:
    """The files under `root` that are documents, in a stable order."""
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if path.suffix.lower() in SUFFIXES and path.name.lower() not in IGNORED_NAMES:
            yield path


def doc_id_for(path: Path, root: Path) -> str:
    """The file's path relative to the corpus folder, without its extension."""
    return path.relative_to(root).with_suffix("").as_posix()


def load_corpus(root: Path, max_mb: float = 20.0) -> LoadReport:
    """Read every document under `root`; bad files are reported, never raised."""
    report = LoadReport()
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {root}")
    for path in corpus_files(root):
        try:
            report.documents.append(load_document(path, root, max_mb))
        except BadFile as exc:
            report.skipped.append((path.relative_to(root).as_posix(), str(exc)))
    return report


def load_document(path: Path, root: Path, max_mb: float = 20.0) -> Document:
    """Read one file into a `Document`, or raise `BadFile` with a one-line reason."""
    raw = path.read_bytes()
    if len(raw) > max_mb * 1024 * 1024:
        raise BadFile(f"larger than {max_mb:g} MB")
    if not raw.strip():
        raise BadFile("empty file")
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        text, meta = _read_pdf(raw)
    else:
        if b"\x00" in raw[:8192]:
            raise BadFile("binary content in a text file")
        try:
            decoded = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise BadFile(f"not valid UTF-8 (byte {exc.start})") from None
        if suffix in {".html", ".htm"}:
            text, meta = _read_html(decoded)
        elif suffix in {".md", ".markdown"}:
            text, meta = split_front_matter(decoded)
        else:
            text, meta = decoded, {}
    if not text.strip():
        raise BadFile("no text after parsing")
    return _document(doc_id_for(path, root), text, meta, path, raw)


def split_front_matter(text: str) -> tuple[str, dict]:
    """Split YAML front matter from a Markdown body; malformed front matter raises `BadFile`."""
    if not text.startswith("---"):
        return text, {}
    match = re.match(r"^---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|$)", text, flags=re.S)
    if not match:
        raise BadFile("front matter is not closed by '---'")
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" (line {line + 2})" if line is not None else ""
        raise BadFile(f"malformed YAML front matter{where}") from None
    if not isinstance(meta, dict):
        raise BadFile("front matter is not a mapping")
    return text[match.end() :], meta


def _read_html(html: str) -> tuple[str, dict]:
    import trafilatura

    text = trafilatura.extract(html, include_comments=False, favor_precision=True) or ""
    meta = trafilatura.extract_metadata(html)
    info = {}
    if meta is not None:
        info = {"title": meta.title, "date": meta.date, "publisher": meta.sitename or meta.author}
        info["url"] = meta.url
    return text, {k: v for k, v in info.items() if v}


def _read_pdf(raw: bytes) -> tuple[str, dict]:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(raw))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata or {}).get("/Title") if reader.metadata else None
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise BadFile(f"unreadable PDF ({type(exc).__name__})") from None
    return "\n\n".join(pages), ({"title": str(title)} if title else {})


def _document(doc_id: str, text: str, meta: dict, path: Path, raw: bytes) -> Document:
    title = str(meta.get("title") or infer_title(text) or doc_id.rsplit("/", 1)[-1])
    extra = {k: _plain(v) for k, v in meta.items() if k not in KNOWN_FIELDS}
    return Document(
        doc_id=doc_id,
        text=text,
        title=title.strip(),
        date=normalise_date(meta.get("date")),
        publisher=str(meta["publisher"]) if meta.get("publisher") else None,
        url=str(meta["url"]) if meta.get("url") else None,
        jurisdiction=_as_list(meta.get("jurisdiction")),
        topics=_as_list(meta.get("topics")),
        extra=extra,
        path=str(path),
        content_hash=hashlib.sha256(raw).hexdigest(),
    )


def infer_title(text: str) -> str | None:
    """The first Markdown heading, else the first non-empty line (shortened)."""
    heading = re.search(r"^#{1,3}\s+(.+?)\s*#*\s*$", text, flags=re.M)
    if heading:
        return heading.group(1)
    for line in text.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= 120 else line[:117].rsplit(" ", 1)[0] + "…"
    return None


def normalise_date(value: object) -> str | None:
    """An ISO date string from a YAML date or a string; None when unknown or unparsable."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        match = re.match(r"^\s*(\d{4})-(\d{2})-(\d{2})", value)
        if match:
            try:
                return dt.date(*map(int, match.groups())).isoformat()
            except ValueError:
                return None
    return None


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _plain(value: object) -> object:
    """Front-matter values made JSON-safe (dates become ISO strings)."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
