"""Gunicorn's own error answers: the function shared/serve.py replaces is still the one gunicorn calls.

The e2e tests (tests/e2e/test_bad_input_e2e.py) see the JSON answers themselves; these fail
first, and by name, when a gunicorn upgrade moves or changes that function.
"""

from __future__ import annotations

import pytest
from gunicorn import util

from shared.serve import check_error_writer


def test_this_gunicorn_answers_unreadable_requests_through_the_function_we_replace():
    check_error_writer()


def test_a_gunicorn_whose_error_writer_changed_is_refused_loudly(monkeypatch):
    monkeypatch.setattr(util, "write_error", lambda sock, status_int, reason, mesg, headers: None)
    with pytest.raises(RuntimeError, match="no longer calls util.write_error"):
        check_error_writer()


def test_a_gunicorn_without_the_error_writer_is_refused_loudly(monkeypatch):
    monkeypatch.delattr(util, "write_error")
    with pytest.raises(RuntimeError, match="no longer calls util.write_error"):
        check_error_writer()
