"""Prometheus metrics, right across gunicorn's worker processes.

With PROMETHEUS_MULTIPROC_DIR set, prometheus_client keeps each process's numbers in files
there and /metrics sums them, so a scrape sees the whole service, not one worker. The
library chooses between memory and files when it is first imported, so this module imports
it only when an app is built: the gunicorn config sets the directory before that
(`prepare_multiprocess_dir`). Without the variable (Flask's test client, one process),
numbers stay in memory, in a registry of the app's own.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from typing import TYPE_CHECKING, Any, Literal

from flask import current_app

from shared.config import ConfigError

if TYPE_CHECKING:
    from prometheus_client import Counter, Gauge

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
# Any other method string is counted as "other": a client must not be able to mint label values.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_prepared_dir: str | None = None  # set once per server process
_created_dir: str | None = None  # a temporary directory of ours, removed at exit


class Metrics:
    """One app's metrics: requests and latency by route, rate-limit refusals, and the service's own."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.multiprocess = bool(os.environ.get(MULTIPROC_DIR))
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total", "HTTP requests answered, by route, method and status",
            ["route", "method", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds", "Time to answer an HTTP request, by route and method",
            ["route", "method"], registry=self.registry,
        )
        # (route, method, status) -> its counter and histogram: labels() locks and checks each time.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.rate_limits = Counter(
            "rate_limited_total", "Requests refused by a rate limit, by scope", ["scope"], registry=self.registry
        )

    def counter(self, name: str, documentation: str, labels: tuple[str, ...] = ()) -> Counter:
        """A further counter of this app."""
        from prometheus_client import Counter

        return Counter(name, documentation, labels, registry=self.registry)

    def gauge(self, name: str, documentation: str, multiprocess_mode: Literal["livemin", "livemax"]) -> Gauge:
        """A further gauge of this app; `multiprocess_mode` says how workers' values combine."""
        from prometheus_client import Gauge

        return Gauge(name, documentation, registry=self.registry, multiprocess_mode=multiprocess_mode)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        method = method if method in METHODS else "other"
        series = self._series.get((route, method, status))
        if series is None:
            # Routes, methods and statuses are few: the cache stays as small as the series.
            series = self._series[(route, method, status)] = (
                self.requests.labels(route, method, str(status)), self.latency.labels(route, method))
        series[0].inc()
        series[1].observe(seconds)

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The metrics in the format `accept` asks for (Prometheus text by default), and its content type."""
        from prometheus_client import CollectorRegistry, multiprocess
        from prometheus_client.exposition import choose_encoder

        registry = self.registry
        if self.multiprocess:
            # Every process's files, live workers and exited ones: counters never go backwards.
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        encode, content_type = choose_encoder(accept or "")
        return encode(registry), content_type


def rate_limited(scope: str) -> None:
    """Count one request the rate limiter of `scope` refused; call it inside a request.

    `scope` is a fixed name such as "login", never a value taken from the request.
    """
    metrics: Metrics = current_app.extensions["metrics"]
    metrics.rate_limits.labels(scope).inc()


def prepare_multiprocess_dir(service: str) -> str:
    """Make PROMETHEUS_MULTIPROC_DIR an empty directory, a fresh temporary one when unset; its path.

    Runs once per server process, before any app is built or worker forked: on a config
    reload it changes nothing, so the live workers' numbers stay.
    """
    global _prepared_dir, _created_dir
    if _prepared_dir:
        return _prepared_dir
    path = os.environ.get(MULTIPROC_DIR, "").strip()
    if path:
        try:
            os.makedirs(path, exist_ok=True)
            # The last run's numbers would be summed into this one's.
            for stale in glob.glob(os.path.join(path, "*.db")):
                os.remove(stale)
        except OSError as exc:
            raise ConfigError(f"{MULTIPROC_DIR}: cannot use {path!r}: {exc.strerror}") from None
    else:
        path = _created_dir = tempfile.mkdtemp(prefix=f"{service}-metrics-")
        os.environ[MULTIPROC_DIR] = path
    _prepared_dir = path
    return path


def remove_multiprocess_dir() -> None:
    """Remove the temporary directory `prepare_multiprocess_dir` made, if it made one."""
    if _created_dir:
        shutil.rmtree(_created_dir, ignore_errors=True)
