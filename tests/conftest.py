"""Shared fixtures: a real local OpenRouter-compatible server on 127.0.0.1 and clients bound to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import jupyter_imagegen as ig
from jupyter_imagegen._core.policies import _class_guard
from jupyter_imagegen.server import LocalServer


@pytest.fixture(autouse=True)
def _isolate_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test ever sees a real key or base URL, and the shared default client starts fresh."""
    for name in ("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "JUPYTER_IMAGEGEN_MODEL",
                 "JUPYTER_IMAGEGEN_GATEWAY", "JUPYTERHUB_API_TOKEN",
                 "JUPYTER_IMAGEGEN_SPEND_LIMIT", "JUPYTER_IMAGEGEN_CLASS_MODE"):
        monkeypatch.delenv(name, raising=False)
    ig.set_default_client(None)
    _class_guard.clear()
    yield
    ig.set_default_client(None)
    _class_guard.clear()


@pytest.fixture(scope="session")
def shared_server() -> Iterator[LocalServer]:
    """One server for tests that do not change its state (no faults, no key)."""
    with LocalServer(port=0) as srv:
        yield srv


@pytest.fixture
def server() -> Iterator[LocalServer]:
    """A fresh server per test: its own request log and fault queue."""
    with LocalServer(port=0) as srv:
        yield srv


@pytest.fixture
def client(server: LocalServer) -> Iterator[ig.Client]:
    """A client bound to the per-test server; retries do not sleep."""
    with ig.Client(api_key="sk-or-v1-test-key-0123456789", base_url=server.base_url,
                   sleep=lambda _s: None) as c:
        yield c
