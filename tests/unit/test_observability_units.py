"""The JSON log format, the gunicorn settings read from the environment, and the metrics directory."""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

import pytest
from flask import Flask, g

from shared import metrics
from shared.config import ConfigError
from shared.logs import JsonFormatter, logging_config
from shared.serve import gunicorn_settings


def auth_settings() -> dict[str, Any]:
    return gunicorn_settings("auth_service", env_prefix="AUTH", default_port=8001)


def record(message: str, *args: object, exc_info=None, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("shared.test", logging.WARNING, __file__, 1, message, args, exc_info)
    made.__dict__.update(extra)
    return made


def test_a_record_is_one_json_object_on_one_line_with_its_exception():
    try:
        raise ValueError("boom")
    except ValueError:
        line = JsonFormatter("auth_service").format(record("failed %s", "here", exc_info=sys.exc_info()))
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "failed here" and parsed["level"] == "WARNING"
    assert parsed["service"] == "auth_service" and parsed["logger"] == "shared.test"
    assert "ValueError: boom" in parsed["exception"]


def test_a_newline_in_a_value_cannot_start_a_forged_line():
    line = JsonFormatter().format(record('x\n{"level": "CRITICAL"}', fields={"path": "/a\r\nb"}))
    assert "\n" not in line and "\r" not in line
    assert json.loads(line)["path"] == "/a\r\nb"


def test_inside_a_request_every_record_carries_its_request_id():
    app = Flask(__name__)
    with app.test_request_context("/"):
        g.request_id = "req-7"
        assert json.loads(JsonFormatter().format(record("inside")))["request_id"] == "req-7"
    assert "request_id" not in json.loads(JsonFormatter().format(record("outside")))


def test_the_logging_config_silences_gunicorns_access_log_and_formats_the_rest_as_json():
    config = logging_config("auth_service")
    assert config["loggers"]["gunicorn.access"]["handlers"] == []
    assert config["loggers"]["gunicorn.error"]["handlers"] == config["root"]["handlers"] == ["stderr"]
    assert config["handlers"]["stderr"]["formatter"] == "json"


@pytest.fixture
def environ(monkeypatch):
    for name in ("AUTH_HOST", "AUTH_PORT", "WEB_CONCURRENCY", metrics.MULTIPROC_DIR):
        # setenv first, so that monkeypatch removes whatever the test sets again afterwards
        # (prepare_multiprocess_dir writes os.environ itself).
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return monkeypatch


def test_workers_default_to_twice_the_cores_plus_one_and_web_concurrency_overrides(environ):
    cores = len(os.sched_getaffinity(0))
    assert auth_settings()["workers"] == 2 * cores + 1
    environ.setenv("WEB_CONCURRENCY", "3")
    assert auth_settings()["workers"] == 3


@pytest.mark.parametrize("value", ["0", "many", "65"])
def test_a_bad_web_concurrency_names_the_variable(environ, value):
    environ.setenv("WEB_CONCURRENCY", value)
    with pytest.raises(ConfigError, match="WEB_CONCURRENCY"):
        auth_settings()


@pytest.mark.parametrize(("host", "port", "bind"), [
    (None, None, "127.0.0.1:8001"),
    ("0.0.0.0", "9001", "0.0.0.0:9001"),
    ("::1", "9001", "[::1]:9001"),
])
def test_the_address_comes_from_the_service_variables(environ, host, port, bind):
    if host:
        environ.setenv("AUTH_HOST", host)
    if port:
        environ.setenv("AUTH_PORT", port)
    assert auth_settings()["bind"] == bind


@pytest.fixture
def fresh_metrics_dir(environ, tmp_path):
    """prepare_multiprocess_dir as in a new server process, temporary directories made under tmp_path."""
    environ.setattr(metrics, "_prepared_dir", None)
    environ.setattr(metrics, "_created_dir", None)
    environ.setenv("TMPDIR", str(tmp_path))
    environ.setattr("tempfile.tempdir", None)
    return environ


def test_an_unset_metrics_directory_becomes_a_fresh_temporary_one_removed_at_exit(fresh_metrics_dir, tmp_path):
    path = metrics.prepare_multiprocess_dir("auth_service")
    assert os.path.dirname(path) == str(tmp_path) and os.listdir(path) == []
    assert os.environ[metrics.MULTIPROC_DIR] == path
    assert metrics.prepare_multiprocess_dir("auth_service") == path  # a config reload changes nothing
    metrics.remove_multiprocess_dir()
    assert not os.path.exists(path)


def test_a_given_metrics_directory_loses_the_last_runs_numbers_and_stays(fresh_metrics_dir, tmp_path):
    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_123.db").write_bytes(b"stale")
    (given / "notes.txt").write_text("not ours")
    fresh_metrics_dir.setenv(metrics.MULTIPROC_DIR, str(given))
    assert metrics.prepare_multiprocess_dir("auth_service") == str(given)
    assert sorted(os.listdir(given)) == ["notes.txt"]
    metrics.remove_multiprocess_dir()
    assert given.is_dir()


def test_an_unusable_metrics_directory_names_the_variable(fresh_metrics_dir, tmp_path):
    (tmp_path / "a-file").write_text("")
    fresh_metrics_dir.setenv(metrics.MULTIPROC_DIR, str(tmp_path / "a-file"))
    with pytest.raises(ConfigError, match=metrics.MULTIPROC_DIR):
        metrics.prepare_multiprocess_dir("auth_service")
