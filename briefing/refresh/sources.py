"""The sources of a refresh: `sources.toml` and `--from`, read into checked models."""

from __future__ import annotations

import datetime as dt
import glob
import re
import tomllib
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from briefing.errors import ConfigError  # noqa: F401 (re-exported)

SOURCES_FILE = "sources.toml"
FETCHED_DIR = "fetched"


def _http_url(url: str) -> str:
    if not re.match(r"^https?://[^/\s]+", url, flags=re.I):
        raise ValueError(f"only http(s) URLs are allowed: {url}")
    return url


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class FetchPolicy(BaseModel):
    """The `[fetch]` table: limits of every HTTP request."""

    model_config = ConfigDict(extra="forbid")
    timeout: float = Field(20.0, gt=0, description="Seconds to connect and between reads.")
    max_bytes: int = Field(5_000_000, gt=0, description="Larger responses are refused.")
    retries: int = Field(2, ge=0, le=10, description="Retries of transient errors.")
    backoff: float = Field(1.0, ge=0, description="Seconds before the first retry, doubled each time.")


class BaseSource(BaseModel):
    """What every kind of source has: a name, default metadata and network permissions."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    jurisdiction: list[str] = []
    topics: list[str] = []
    allow_private: bool = False
    allow_hosts: list[str] = []

    @property
    def label(self) -> str:
        """How the report names the source when it fails as a whole."""
        return self.name


class FolderSource(BaseSource):
    """A local folder of .md/.txt/.html/.pdf files."""

    kind: Literal["folder"]
    path: Path
    pattern: str = "**/*"
    optional: bool = False


class UrlSource(BaseSource):
    """One or more article pages."""

    kind: Literal["url"]
    url: HttpUrl | list[HttpUrl]

    @property
    def urls(self) -> list[str]:
        return [self.url] if isinstance(self.url, str) else self.url


class FeedSource(BaseSource):
    """An RSS or Atom feed whose items link to article pages."""

    kind: Literal["feed"]
    url: HttpUrl
    limit: int = Field(20, ge=1, le=1000)
    since: dt.date | None = None

    @property
    def label(self) -> str:
        return self.url


Source = Annotated[FolderSource | UrlSource | FeedSource, Field(discriminator="kind")]


class SourcesFile(BaseModel):
    """The whole of `sources.toml`."""

    model_config = ConfigDict(extra="forbid")
    fetch: FetchPolicy = FetchPolicy()
    source: list[Source] = []


def slugify(text: str, limit: int = 80) -> str:
    """Lower-case ASCII words joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) <= limit:
        return slug
    cut = slug[: limit + 1]  # one more, so that a word ending exactly at the limit is kept
    return cut.rsplit("-", 1)[0] if "-" in cut else slug[:limit]


def load_sources(path: Path) -> SourcesFile:
    """Read `sources.toml`; relative folder paths are taken from the file's folder."""
    if not path.is_file():
        raise ConfigError(f"no sources file at {path} (see docs/refresh.md), or use --from")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        config = SourcesFile.model_validate(raw)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: bad TOML: {exc}") from None
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_first_error(exc, raw)}") from None
    for source in config.source:
        if isinstance(source, FolderSource):
            source.path = (path.parent / source.path.expanduser()).resolve()
    return config


def _first_error(exc: ValidationError, raw: dict) -> str:
    """The first validation error as one line, naming the source it is in."""
    error = exc.errors()[0]
    loc = list(error["loc"])
    where = ".".join(map(str, loc))
    if loc[:1] == ["source"] and len(loc) > 1 and isinstance(loc[1], int):
        entry = raw["source"][loc[1]]
        name = entry.get("name", f"#{loc[1] + 1}") if isinstance(entry, dict) else f"#{loc[1] + 1}"
        fields = [p for p in loc[3:] if isinstance(p, int) or re.fullmatch(r"[a-z_]+", p)]  # not union tags
        where = f"source '{name}'" + "".join(f".{p}" for p in fields)
    return " ".join(f"{where}: {error['msg'].removeprefix('Value error, ')}".split())


def origin_sources(origin: str, prune: bool) -> list[Source]:
    """The one-off source of `--from`: a file, a folder or a URL."""
    if re.match(r"^[a-z][a-z0-9+.-]*://", origin, flags=re.I):
        try:
            return [UrlSource(kind="url", name=slugify(httpx.URL(origin).host) or "web", url=origin)]
        except (ValidationError, httpx.InvalidURL) as exc:
            raise ConfigError(
                f"--from: only http(s) URLs are allowed: {origin} ({type(exc).__name__})"
            ) from None
    path = Path(origin).expanduser().resolve()
    if not path.exists():
        raise ConfigError(f"--from: no such file or folder: {origin}")
    if path.is_dir():
        return [FolderSource(kind="folder", name=slugify(path.name) or "files", path=path)]
    if prune:
        raise ConfigError("--prune needs a folder, a URL or sources.toml, not a single file")
    name = slugify(path.parent.name) or "files"
    return [FolderSource(kind="folder", name=name, path=path.parent, pattern=glob.escape(path.name))]


def check_sources(sources: Sequence[Source], corpus: Path) -> None:
    """Refuse duplicate names, missing folders and folders whose files the index already reads."""
    names = [s.name for s in sources]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"two sources are named '{twice[0]}'")
    for source in sources:
        if not isinstance(source, FolderSource):
            continue
        if not source.path.exists() and not source.optional:
            raise ConfigError(f"source '{source.name}': folder not found: {source.path}")
        if source.path.exists() and not source.path.is_dir():
            raise ConfigError(f"source '{source.name}': not a folder: {source.path}")
        if source.path.resolve().is_relative_to(corpus.resolve()):
            rel = source.path.resolve().relative_to(corpus.resolve())
            if not any(part.startswith(".") for part in rel.parts):
                raise ConfigError(
                    f"source '{source.name}': {source.path} is inside the corpus folder, whose files are "
                    "indexed as they are; use a folder outside it (e.g. ../inbox)"
                )
