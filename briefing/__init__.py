"""Briefing: cited answers and one-page briefs on AI governance from a local corpus.

The library API (`briefing.ask`, `briefing.search`, `briefing.brief`, `briefing.index`,
`briefing.refresh`, `briefing.stats`) lives in `briefing.service`; it is imported lazily so that
`import briefing` stays cheap.
"""

from __future__ import annotations

from typing import Any

# Importing the settings first sets the offline and quiet defaults (HF_HUB_OFFLINE, TQDM_DISABLE)
# before any library that reads them is imported.
from briefing import settings as _settings  # noqa: F401
from briefing.quiet import install as _quiet

_quiet()

__all__ = ["ask", "brief", "index", "refresh", "search", "stats"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from briefing import service

        return getattr(service, name)
    raise AttributeError(f"module 'briefing' has no attribute {name!r}")
