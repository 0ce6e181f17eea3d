"""``GET /key`` parsed: what the service says about the key in use (its limit, what is left).

The shape is OpenRouter's "Get current API key" (its API reference, and ``@openrouter/sdk``'s
``GetCurrentKeyResponse``): ``{"data": {"label", "limit", "limit_remaining", "limit_reset",
"usage", ...}}``, money in USD, ``limit`` ``null`` for a key without one. A classroom gateway
answers the same shape for a student's token, with the budget as ``limit``. Pure, stdlib only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._exceptions import ResponseError
from .common import as_float, as_str

__all__ = ["KeyInfo", "parse_key_info"]


@dataclass(frozen=True)
class KeyInfo:
    """The key's ``limit`` and ``usage`` (USD), what is left, and its label."""

    label: str | None = None
    limit: float | None = None
    limit_remaining: float | None = None
    usage: float | None = None
    limit_reset: str | None = None

    @property
    def left(self) -> float | None:
        """USD that can still be spent (``None``: no limit, or the service does not say)."""
        if self.limit_remaining is not None:
            return self.limit_remaining
        if self.limit is not None and self.usage is not None:
            return max(0.0, self.limit - self.usage)
        return None

    def describe(self) -> str:
        """One line for people: ``$0.92 left of $1.00 (alice)``; no limit: what was used."""
        label = self.label if self.label and not self.label.startswith("sk-") else None
        who = f" ({label})" if label else ""
        if self.limit is None or self.left is None:
            used = f"${self.usage:.2f} used" if self.usage is not None else "usage not reported"
            return f"no limit on this key ({used}){who}"
        reset = f", resets {self.limit_reset}" if self.limit_reset else ""
        return f"${self.left:.2f} left of ${self.limit:.2f}{reset}{who}"


def parse_key_info(obj: Any) -> KeyInfo:
    """Read ``GET /key``'s answer leniently (a field it lacks is unknown)."""
    data = obj.get("data") if isinstance(obj, Mapping) else None
    if not isinstance(data, Mapping):
        raise ResponseError("the key information has no 'data' object")
    label = as_str(data.get("label"))
    return KeyInfo(label=label[:100] if label else None, limit=as_float(data.get("limit")),
                   limit_remaining=as_float(data.get("limit_remaining")),
                   usage=as_float(data.get("usage")),
                   limit_reset=(as_str(data.get("limit_reset")) or None))
