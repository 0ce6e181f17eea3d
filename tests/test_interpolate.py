"""Safe ``{name}`` interpolation: known variables are replaced, every other brace survives."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyter_imagegen._notebook.interpolate import interpolate

NS = {"style": "watercolour", "n": 3, "price": 0.5, "cfg": SimpleNamespace(mood="calm", _secret="x")}


@pytest.mark.parametrize(
    ("template", "expected", "names"),
    [
        ("a {style} fox", "a watercolour fox", ("style",)),
        ("{n} foxes, {n} hens", "3 foxes, 3 hens", ("n",)),
        ("costs {price:.2f}", "costs 0.50", ("price",)),
        ("a {cfg.mood} sea", "a calm sea", ("cfg.mood",)),
        ("a {unknown} fox", "a {unknown} fox", ()),
        ("{cfg.missing} and {cfg._secret}", "{cfg.missing} and {cfg._secret}", ()),
        ("{{style}} stays", "{style} stays", ()),
        ("{{{style}}}", "{watercolour}", ("style",)),
        ('{"a": {"b": 1}}', '{"a": {"b": 1}}', ()),
        ("def f(): return {x: 1 for x in y}", "def f(): return {x: 1 for x in y}", ()),
        ("css {color: red}", "css {color: red}", ()),
        ("{n: 1}", "{n: 1}", ()),
        ("{style:>40x}", "{style:>40x}", ()),  # a bad spec for a str keeps the field
        ("open { only", "open { only", ()),
        ("close } only }}", "close } only }}", ()),
        ("{}", "{}", ()),
        ("{0}", "{0}", ()),
        ("", "", ()),
    ],
)
def test_interpolate(template: str, expected: str, names: tuple[str, ...]) -> None:
    got = interpolate(template, NS)
    assert got.text == expected
    assert got.names == names


def test_json_document_survives_untouched() -> None:
    doc = json.dumps({"scene": {"style": "{style}", "items": [{"n": 1}, {"n": 2}]}})
    # The only field is the string value "{style}" inside the JSON; nothing else moves.
    assert interpolate(doc, {}).text == doc


def test_properties_that_raise_leave_the_field() -> None:
    class Boom:
        @property
        def value(self) -> str:
            raise RuntimeError("no")

    assert interpolate("{b.value}", {"b": Boom()}).text == "{b.value}"


@given(st.text(alphabet="{}ab :.!0_\"'[]\n", max_size=60))
def test_never_raises_and_is_identity_without_variables(template: str) -> None:
    got = interpolate(template, {})
    # With no variables only the escapes change the text: removing one brace of each '{{' pair.
    if "{{" not in template:
        assert got.text == template
    assert got.names == ()


@given(st.text(max_size=40), st.text(max_size=40))
def test_values_are_inserted_verbatim(before: str, value: str) -> None:
    safe_before = before.replace("{", "").replace("}", "")
    got = interpolate(safe_before + "{v}", {"v": value})
    assert got.text == safe_before + value
