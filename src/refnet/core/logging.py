"""Structured logs: one JSON object per line on stderr, UTC timestamps, snake_case event names.

Our own events go through structlog; everything that logs through the standard library (Celery,
SQLAlchemy, Python warnings) is rendered by the same processors, so a process writes nothing but
JSON lines. Each entry point (CLI, worker, beat, API) calls `configure_logging` once; importing a
module never changes logging.
"""

from __future__ import annotations

import logging
import sys

import structlog

# Libraries that log every request at INFO: their news is ours to tell, with context.
QUIET_LIBRARIES = ("httpx", "httpcore", "openai", "anthropic", "urllib3", "kombu.pidbox")


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


def configure_logging(*, level: str = "INFO", fmt: str = "json") -> None:
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    stamped: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*stamped, structlog.processors.format_exc_info, _renderer(fmt)],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*stamped, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _renderer(fmt),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
    logging.captureWarnings(True)
