"""The exceptions Briefing raises on purpose; each carries a one-line message for the user."""

from __future__ import annotations


class BriefingError(Exception):
    """Base class: the CLI, API and UI show `str(error)` as one line, never a traceback."""


class ModelFileError(BriefingError):
    """A learned model file is missing, unreadable or fitted on other features."""
