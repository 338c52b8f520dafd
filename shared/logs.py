"""JSON log lines: one object per line, with the request id when the record comes from a request."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from flask import g, has_request_context


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; fields passed as `extra={"fields": {...}}` join it."""

    def __init__(self, service: str = "") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
            "pid": record.process,
        }
        if has_request_context() and "request_id" in g:
            line["request_id"] = g.request_id
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        # ensure_ascii: control characters and newlines in a value can never split or fake a line.
        return json.dumps(line, default=str)


def logging_config(service: str) -> dict[str, Any]:
    """A logging.config.dictConfig setup: every logger, gunicorn's included, in JSON on stderr.

    Gunicorn's access logger is silenced: the app logs each request itself (shared/observability.py).
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter, "service": service}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
        },
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
    }
