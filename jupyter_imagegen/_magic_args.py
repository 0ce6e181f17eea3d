"""The ``%%imagegen`` argument types and the notebook namespace the prompt may read.

Argument types check spelling only (``16x9`` becomes ``16:9``): what a model takes is the
catalogue's to say, checked against the chosen model before anything is sent.
"""

from __future__ import annotations

import argparse
import keyword
import re
from collections.abc import Iterator, Mapping
from typing import Any

from ._protocol import ASPECT_RATIOS, IMAGE_SIZES

__all__ = ["PublicVariables", "identifier", "normalize_aspect_ratio", "normalize_image_size", "seconds"]


def normalize_aspect_ratio(value: str) -> str:
    """``16:9`` (also ``16x9`` / ``16/9``), ``9:19.5`` or ``auto``; junk is an error.

    Only the spelling is checked here: which ratios a model takes is the catalogue's to say, and
    the request is checked against the chosen model's record before anything is sent.
    """
    ratio = re.sub(r"\s*[x/]\s*", ":", value.strip().lower())
    if ratio != "auto" and not re.fullmatch(r"\d{1,3}(\.\d{1,2})?:\d{1,3}(\.\d{1,2})?", ratio):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an aspect ratio; write it like 16:9 (see `%imagegen models` for "
            f"what each model takes, e.g. {', '.join(list(ASPECT_RATIOS)[:4])})")
    return ratio


def normalize_image_size(value: str) -> str:
    """``1K`` (any case; ``512`` is ``0.5K``) or an error listing the size tiers."""
    size = value.strip().upper()
    size = "0.5K" if size == "512" else size
    if size not in IMAGE_SIZES:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a supported size; use one of {', '.join(IMAGE_SIZES)}")
    return size


def identifier(value: str) -> str:
    if not value.isidentifier() or keyword.iskeyword(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a valid Python variable name")
    return value


def seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number of seconds")
    return seconds


class PublicVariables(Mapping[str, Any]):
    """The user's variables as seen by ``{name}``: no IPython internals, no ``_`` names."""

    def __init__(self, namespace: Mapping[str, Any], hidden: Mapping[str, Any]) -> None:
        self._ns, self._hidden = namespace, hidden

    def _visible(self, name: str) -> bool:
        if name.startswith("_") or name not in self._ns:
            return False
        return not (name in self._hidden and self._hidden[name] is self._ns[name])

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._visible(name)

    def __getitem__(self, name: str) -> Any:
        if not self._visible(name):
            raise KeyError(name)
        return self._ns[name]

    def __iter__(self) -> Iterator[str]:
        return (name for name in list(self._ns) if self._visible(name))

    def __len__(self) -> int:
        return sum(1 for _ in self)
