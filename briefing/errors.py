"""The exceptions Briefing raises on purpose; each carries a one-line message for the user."""

from __future__ import annotations


class BriefingError(Exception):
    """Base class: the CLI, API and UI show `str(error)` as one line, never a traceback."""


class ModelFileError(BriefingError):
    """A learned model file is missing, unreadable or fitted on other features."""


class IndexMissing(BriefingError, RuntimeError):
    """No index has been built at the configured location."""


class IndexMismatch(BriefingError, RuntimeError):
    """The index was built with another embedding model or backend."""


class IndexBusy(BriefingError, RuntimeError):
    """Another process is updating this index."""


class ConfigError(BriefingError, ValueError):
    """The sources or options cannot be used; nothing was done."""


class FetchError(BriefingError):
    """A URL could not be fetched; the message is the one-line reason."""


class LLMUnavailable(BriefingError, RuntimeError):
    """The LLM backend cannot be created (missing extra, model or setting)."""


class BackendFailed(BriefingError, RuntimeError):
    """The LLM backend failed while answering; the message names the error type."""


class BadFile(BriefingError):
    """A corpus file that cannot be used; the message is the one-line reason."""
