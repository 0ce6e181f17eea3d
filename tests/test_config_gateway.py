"""The kit finds a classroom gateway from the one variable a JupyterHub admin sets."""

from __future__ import annotations

from jupyter_imagegen._core.config import GATEWAY_ENV, Settings

GATEWAY = "http://127.0.0.1:8000/services/imagegen-gateway/api/v1"


def test_the_gateway_variable_brings_the_url_and_the_hub_token() -> None:
    settings = Settings.from_env(environ={GATEWAY_ENV: GATEWAY, "JUPYTERHUB_API_TOKEN": "abc123"})
    assert settings.base_url == GATEWAY and settings.api_key == "abc123"
    assert Settings.is_configured({GATEWAY_ENV: GATEWAY})
    assert "abc123" not in repr(settings)


def test_explicit_settings_and_openrouter_variables_win() -> None:
    env = {GATEWAY_ENV: GATEWAY, "JUPYTERHUB_API_TOKEN": "hub", "OPENROUTER_API_KEY": "sk-gw-own",
           "OPENROUTER_BASE_URL": "http://127.0.0.1:9/api/v1"}
    settings = Settings.from_env(environ=env)
    assert settings.base_url == "http://127.0.0.1:9/api/v1" and settings.api_key == "sk-gw-own"
    mine = Settings.from_env("sk-mine", "http://127.0.0.1:7/api/v1", environ=env)
    assert mine.api_key == "sk-mine" and mine.base_url == "http://127.0.0.1:7/api/v1"


def test_a_hub_token_alone_is_not_an_openrouter_key() -> None:
    settings = Settings.from_env(environ={"JUPYTERHUB_API_TOKEN": "hub"})
    assert settings.api_key is None and not Settings.is_configured({"JUPYTERHUB_API_TOKEN": "hub"})
