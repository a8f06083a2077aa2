"""What refreshes remember between runs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from briefing.refresh.fetch import Fetched
from briefing.refresh.files import write_atomic

STATE_FILE = "refresh-state.json"


@dataclass
class State:
    """What refreshes remember between runs: HTTP validators, feed items, duplicate aliases.

    An optimisation and a record, never the truth: lost or broken, it only costs full downloads.
    """

    path: Path
    http: dict[str, dict] = field(default_factory=dict)
    aliases: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> State:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        return cls(path, data.get("http") or {}, data.get("aliases") or {})

    def save(self) -> None:
        write_atomic(
            self.path, json.dumps({"http": self.http, "aliases": self.aliases}, indent=1, sort_keys=True)
        )

    def remember(self, url: str, fetched: Fetched, **extra: Any) -> None:
        self.http[url] = {"etag": fetched.etag, "last_modified": fetched.last_modified, **extra}

    def alias(self, doc_id: str, item: str) -> None:
        self.aliases[doc_id] = sorted(set(self.aliases.get(doc_id, [])) | {item})


def remove_temp_files(fetched: Path, index_dir: Path) -> None:
    """Temporary files left by a killed run (the files renamed into place are complete)."""
    for path in [*fetched.rglob(".*.tmp"), *index_dir.glob(f".{STATE_FILE}.*.tmp")]:
        path.unlink(missing_ok=True)
