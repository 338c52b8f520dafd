"""JSON log lines: one object per line, with the request id when the record comes from a request."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from flask import g, has_request_context

# ensure_ascii (the default): control characters and newlines in a value can never split or
# fake a line. Made once: json.dumps(default=...) would build an encoder for every line.
_ENCODER = json.JSONEncoder(default=str)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; fields passed as `extra={"fields": {...}}` join it."""

    def __init__(self, service: str = "") -> None:
        super().__init__()
        self.service = service
        self._second = -1
        self._second_text = ""

    def _time(self, created: float) -> str:
        """ISO 8601 in UTC with milliseconds, as datetime.isoformat writes it; the date and time
        of day are made once a second (a line a request would make them thousands of times)."""
        second = int(created)
        if second != self._second:
            self._second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = second
        return f"{self._second_text}.{int((created - second) * 1000):03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None) or {}
        line: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
            "pid": record.process,
        }
        if "request_id" not in fields and has_request_context() and "request_id" in g:
            line["request_id"] = g.request_id
        line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return _ENCODER.encode(line)


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
