"""What a refresh did, item by item."""

from __future__ import annotations

from dataclasses import dataclass, field

from briefing.corpus_check import Finding
from briefing.index import IndexReport


@dataclass
class RefreshReport:
    """What a refresh did, item by item, and what the index update did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    duplicate: list[tuple[str, str]] = field(default_factory=list)  # (item, doc_id kept)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (item, reason)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (item, reason)
    removed: list[str] = field(default_factory=list)
    index: IndexReport | None = None
    checks: list[Finding] = field(default_factory=list)  # corpus lint of the files written
    dry_run: bool = False
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 when everything worked, 1 when some items failed (the rest is applied)."""
        return 1 if self.failed else 0

    def counts(self) -> dict[str, int]:
        names = ("added", "updated", "unchanged", "duplicate", "skipped", "failed", "removed")
        return {name: len(getattr(self, name)) for name in names}

    def to_json(self) -> dict:
        return {
            "counts": self.counts(),
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "duplicate": [{"item": i, "of": d} for i, d in self.duplicate],
            "skipped": [{"item": i, "reason": r} for i, r in self.skipped],
            "failed": [{"item": i, "reason": r} for i, r in self.failed],
            "removed": self.removed,
            "index": self.index.to_json() if self.index else None,
            "checks": [f.to_json() for f in self.checks],
            "dry_run": self.dry_run,
            "seconds": round(self.seconds, 2),
        }

    def lines(self) -> list[str]:
        """The report as text, one line per document that did not stay the same."""
        head = "Dry run (nothing changed): " if self.dry_run else "Refresh: "
        out = [head + ", ".join(f"{n} {k}" for k, n in self.counts().items()) + f" in {self.seconds:.1f}s"]
        out += [f"  added     {d}" for d in self.added] + [f"  updated   {d}" for d in self.updated]
        out += [f"  removed   {d}" for d in self.removed]
        out += [f"  duplicate {i} (same as {d})" for i, d in self.duplicate]
        out += [f"  skipped   {i}: {r}" for i, r in self.skipped] + [
            f"  failed    {i}: {r}" for i, r in self.failed
        ]
        out += [f"  lint      {f.line()}" for f in self.checks]
        if self.index:
            idx = self.index
            out.append(
                f"Index: {len(idx.added)} added, {len(idx.updated)} updated, {len(idx.removed)} removed, "
                f"{len(idx.unchanged)} unchanged · {idx.chunks_embedded} chunks embedded"
            )
            out += [f"  skipped   {p}: {r}" for p, r in idx.skipped]
        return out
