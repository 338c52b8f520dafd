"""The demo page's server (web/serve.py): the services' URLs it hands the page."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SERVE = Path(__file__).resolve().parents[2] / "web" / "serve.py"


def load_serve() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_serve", SERVE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("host", ["[", "[::1", "a]b:1"])
def test_a_host_header_that_is_no_host_falls_back_to_loopback(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    # urlsplit raises ValueError on these: the handler died and the page got no answer at all.
    monkeypatch.delenv("AUTH_URL", raising=False)
    monkeypatch.delenv("AUTH_PORT", raising=False)
    assert load_serve().service_url(host, "AUTH_URL", "AUTH_PORT", 8001) == "http://127.0.0.1:8001"


def test_the_page_host_names_the_services(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTH_URL", raising=False)
    monkeypatch.delenv("AUTH_PORT", raising=False)
    assert load_serve().service_url("localhost:8000", "AUTH_URL", "AUTH_PORT", 8001) == "http://localhost:8001"
