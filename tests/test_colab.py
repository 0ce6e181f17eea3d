"""The key from Colab's secrets, tested with a stand-in ``google.colab.userdata`` module."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import pytest

import jupyter_imagegen as ig
from jupyter_imagegen._core.config import Settings
from jupyter_imagegen.server import LocalServer

KEY = "sk-or-v1-colab-secret-0123456789abcdef"


class SecretNotFoundError(Exception):
    """What Colab raises for a secret the notebook does not have."""


def _colab(secrets: dict[str, str], error: type[Exception] | None = None) -> Iterator[list[str]]:
    asked: list[str] = []
    userdata = types.ModuleType("google.colab.userdata")

    def get(name: str) -> str:
        asked.append(name)
        if error is not None:
            raise error(name)
        if name not in secrets:
            raise SecretNotFoundError(name)
        return secrets[name]

    userdata.get = get  # type: ignore[attr-defined]
    colab = types.ModuleType("google.colab")
    colab.userdata = userdata  # type: ignore[attr-defined]
    google = types.ModuleType("google")
    google.colab = colab  # type: ignore[attr-defined]
    saved = {k: sys.modules.get(k) for k in ("google", "google.colab", "google.colab.userdata")}
    sys.modules.update({"google": google, "google.colab": colab, "google.colab.userdata": userdata})
    try:
        yield asked
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


@pytest.fixture
def colab_with_key() -> Iterator[list[str]]:
    yield from _colab({"OPENROUTER_API_KEY": f"  {KEY}\n"})


def test_the_key_comes_from_colab_secrets(colab_with_key: list[str]) -> None:
    settings = Settings.from_env(environ={})
    assert settings.api_key == KEY and colab_with_key == ["OPENROUTER_API_KEY"]
    assert Settings.is_configured(environ={})
    assert KEY not in repr(settings)


def test_the_environment_and_arguments_win(colab_with_key: list[str]) -> None:
    assert Settings.from_env(environ={"OPENROUTER_API_KEY": "sk-or-v1-from-env"}).api_key == \
        "sk-or-v1-from-env"
    assert Settings.from_env("sk-or-v1-explicit", environ={}).api_key == "sk-or-v1-explicit"
    assert not colab_with_key  # never asked when a key was already given


@pytest.mark.parametrize("error", [None, PermissionError, TimeoutError])
def test_a_missing_or_refused_secret_is_quiet(error: type[Exception] | None) -> None:
    for _ in _colab({}, error):
        assert Settings.from_env(environ={}).api_key is None
        assert not Settings.is_configured(environ={})


def test_outside_colab_nothing_is_imported() -> None:
    assert "google.colab" not in sys.modules
    assert Settings.from_env(environ={}).api_key is None
    assert "google.colab" not in sys.modules


def test_a_client_in_colab_sends_the_secret(colab_with_key: list[str]) -> None:
    # The server answers 401 to any other key (or none): a result proves the secret was sent.
    with LocalServer(port=0, api_key=KEY) as server, ig.Client(base_url=server.base_url) as client:
        assert client.generate("a lighthouse", "offline/sketch").image.size == (1024, 1024)
    assert client.has_key and KEY not in repr(client)
    with LocalServer(port=0, api_key=KEY) as server, ig.Client(base_url=server.base_url,
                                                                  api_key="sk-or-v1-wrong-key") as c, \
            pytest.raises(ig.AuthenticationError):
        c.generate("a lighthouse", "offline/sketch")
