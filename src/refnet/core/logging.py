"""Structured logs: one JSON object per line on stderr, UTC timestamps, snake_case event names.

Our own events go through structlog; everything that logs through the standard library (Celery,
SQLAlchemy, Python warnings) is rendered by the same processors, so a process writes nothing but
JSON lines (or, with LOG_FORMAT=console, readable lines for development). Every line passes the
secret scrubber (`log_scrub`) last before it is rendered, with the secrets the process loaded. Each
entry point (CLI, worker, beat, API) calls `configure_logging` once; importing a module never
changes logging.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

import structlog

from refnet.core.log_scrub import SecretScrubber

# Libraries that log every request at INFO: their news is ours to tell, with context.
QUIET_LIBRARIES = (
    "httpx",
    "httpcore",
    "httpx2",  # what the openai and anthropic SDKs use
    "httpcore2",
    "openai",
    "anthropic",
    "urllib3",
    "kombu.pidbox",
)


def _stderr_logger(*_: object) -> structlog.PrintLogger:
    # Looked up on every use, so a replaced sys.stderr (tests, daemonized workers) is honoured.
    return structlog.PrintLogger(file=sys.stderr)


class _StderrHandler(logging.Handler):
    """Writes each record as one line to whatever sys.stderr is at the time."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except Exception:  # a logging failure must never take the process down
            self.handleError(record)


def _renderer(fmt: str) -> structlog.typing.Processor:
    if fmt == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=False)


def configure_logging(
    *, level: str = "INFO", fmt: str = "json", secrets: Iterable[str] = ()
) -> None:
    """Log at `level` in `fmt` ("json" or "console"); `secrets` are values never to show, as
    `log_scrub.secrets_in(settings)` lists them."""
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    stamped: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # The scrubber runs after the exception is rendered to text, so a traceback is scrubbed too.
    finish: list[structlog.typing.Processor] = [
        structlog.processors.format_exc_info,
        SecretScrubber(secrets),
        _renderer(fmt),
    ]
    structlog.configure(
        processors=[*stamped, *finish],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*stamped, structlog.stdlib.add_logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *finish],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
    logging.captureWarnings(True)
