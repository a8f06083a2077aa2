"""One place for silencing third-party output that is harmless and would only confuse a user.

Each entry says why it is harmless. Causes are fixed where we can (the ONNX export passes a ready
attention mask, so PyTorch's tracer no longer warns; the int8 model is pre-processed with
`quant_pre_process`, so ONNX Runtime no longer asks for it); what remains is filtered here.
"""

from __future__ import annotations

import logging


def _below_warning(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING


def install() -> None:
    """Apply the filters (idempotent); called when `briefing` is imported."""
    # bm25s sets its own logger to DEBUG at import ("Building index from tokens", …): once any
    # library has given the root logger a handler, those lines reach the console on every index
    # update. They describe normal operation; warnings and errors still pass. A filter on the logger
    # (created here if bm25s is not imported yet) survives bm25s's later setLevel(DEBUG).
    bm25s = logging.getLogger("bm25s")
    if _below_warning not in bm25s.filters:
        bm25s.addFilter(_below_warning)
