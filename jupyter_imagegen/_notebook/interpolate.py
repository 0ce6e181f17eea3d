"""Safe ``{name}`` interpolation of notebook variables into prompts (pure, stdlib only).

``str.format`` raises on any brace it does not understand, and prompts are full of them (JSON,
code, style sheets). Here only ``{name}``, ``{name.attr}`` and ``{name:spec}`` whose ``name`` is a
known variable are replaced; every other brace stays exactly as written. ``{{`` gives a literal
``{`` and the ``}}`` that closes it a literal ``}`` (so ``{{name}}`` stays ``{name}``), while a
``}}`` that closes nothing (the end of nested JSON) is left alone.
"""

from __future__ import annotations

import os
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._exceptions import InvalidInputError

__all__ = ["Interpolated", "interpolate"]

# A field: an identifier, an optional public attribute chain and an optional format spec. The spec
# may not start with a space, so dict-like code such as ``{x: 1}`` is never taken for a field.
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z][A-Za-z0-9_]*)*)(?::([^{}\s][^{}]*))?\}")


@dataclass(frozen=True)
class Interpolated:
    """The prompt after interpolation and the variable names that were substituted."""

    text: str
    names: tuple[str, ...] = ()


def _private(value: Any) -> bool:
    """Whether ``value`` is a module or the environment, which are never expanded.

    ``{os.environ}`` would put a reader's secrets into a prompt that a shared notebook sends to a
    model (and stores in PNGs and the cache).
    """
    return isinstance(value, types.ModuleType) or value is os.environ or isinstance(
        value, type(os.environ))


def _lookup(name: str, attrs: str, namespace: Mapping[str, Any]) -> tuple[bool, Any]:
    """Resolve ``name.attr...``; ``(False, None)`` when any part is missing or private.

    The field then stays as written. Attribute names cannot start with ``_`` (the pattern).
    """
    if name not in namespace:
        return False, None
    value = namespace[name]
    if _private(value):
        return False, None
    for attr in attrs.split(".")[1:]:
        try:
            value = getattr(value, attr)
        except Exception:  # a property may raise anything: leave the field as written
            return False, None
        if _private(value):
            return False, None
    return True, value


def _check_secret(field: str, text: str) -> None:
    key = os.environ.get("OPENROUTER_API_KEY", "").strip()
    if len(key) >= 8 and key in text:
        raise InvalidInputError(f"{{{field}}} would put your OpenRouter API key into the prompt; "
                                "the prompt is sent to the model and saved with the images. Use "
                                "another variable, or write {{" + field + "}} for a literal field")


def interpolate(template: str, namespace: Mapping[str, Any]) -> Interpolated:
    """Replace ``{name}`` fields with values from ``namespace``; never raises on odd braces.

    Raises :class:`InvalidInputError` when a value would put the API key into the prompt.
    """
    out: list[str] = []
    names: list[str] = []
    open_escapes = 0
    i, n = 0, len(template)
    while i < n:
        char = template[i]
        if template.startswith("{{", i):
            out.append("{")
            open_escapes += 1
            i += 2
        elif template.startswith("}}", i) and open_escapes:
            out.append("}")
            open_escapes -= 1
            i += 2
        elif char == "{" and (match := _FIELD.match(template, i)):
            name, attrs, spec = match.group(1), match.group(2), match.group(3)
            found, value = _lookup(name, attrs, namespace)
            text = match.group(0)
            if found:
                try:
                    text = format(value, spec or "")
                    names.append(name + attrs)
                except Exception:  # a bad spec for this value: keep the field as written
                    text = match.group(0)
                else:
                    _check_secret(name + attrs, text)
            out.append(text)
            i = match.end()
        else:
            out.append(char)
            i += 1
    return Interpolated("".join(out), tuple(dict.fromkeys(names)))
