"""``{name}`` interpolation cannot reach the environment or put the API key into a prompt (issue 12)."""

from __future__ import annotations

import os
import types

import pytest

import jupyter_imagegen as ig
from jupyter_imagegen._notebook.interpolate import interpolate

KEY = "sk-or-v1-0123456789abcdef"


@pytest.mark.parametrize("template", ["{os.environ}", "{os.environ.copy}", "{environ}",
                                      "{os.path.sep}", "{os}", "{mod.value}"])
def test_modules_and_the_environment_are_not_expanded(template: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    mod = types.ModuleType("mod")
    mod.value = "hidden"  # type: ignore[attr-defined]
    out = interpolate(f"a fox {template}", {"os": os, "environ": os.environ, "mod": mod})
    assert out.text == f"a fox {template}"
    assert out.names == ()


def test_attributes_of_plain_objects_still_expand() -> None:
    class Style:
        colour = "red"

    out = interpolate("a {style.colour} fox, {n:03d}", {"style": Style(), "n": 7})
    assert out.text == "a red fox, 007"


def test_a_value_holding_the_api_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)

    class Config:
        token = KEY

    for template, namespace in (("{k}", {"k": KEY}), ("see {cfg.token}", {"cfg": Config()}),
                                ("{d}", {"d": {"auth": f"Bearer {KEY}"}})):
        with pytest.raises(ig.InvalidInputError, match="API key") as info:
            interpolate(template, namespace)
        assert KEY not in str(info.value)
    assert interpolate("{{k}}", {"k": KEY}).text == "{k}"  # the literal escape still works
