"""The files a refresh writes: Markdown with YAML front matter, always replaced whole."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from briefing.corpus import BadFile, split_front_matter


def render(meta: dict[str, Any], body: str) -> str:
    """A Markdown file: YAML front matter without empty fields, then the body."""
    head = {k: v for k, v in meta.items() if v not in (None, "", [])}
    if isinstance(head.get("date"), str):
        head["date"] = dt.date.fromisoformat(head["date"])
    front = yaml.safe_dump(head, sort_keys=False, allow_unicode=True, width=10_000)
    return f"---\n{front}---\n\n{body.strip()}\n"


def write_atomic(path: Path, text: str) -> None:
    """Write a file under a hidden temporary name in its folder, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def hidden(path: Path, root: Path) -> bool:
    """Whether a part of `path` below `root` starts with a dot."""
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def fetched_at(text: str) -> object:
    """The `fetched_at` of a file written by an earlier refresh."""
    try:
        return split_front_matter(text)[1].get("fetched_at")
    except BadFile:
        return None
