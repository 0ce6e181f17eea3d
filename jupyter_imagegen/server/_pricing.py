"""Simulated billing from Image API price lines (``billable``/``unit``/``cost_usd``/``variant``).

The lines are the real ones recorded from ``GET /images/models/{id}/endpoints`` (or the offline
models' own); the server bills nothing, but ``usage.cost`` follows the same arithmetic the lines
describe: per image (by resolution ``variant`` when one matches), per megapixel, or per token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["image_cost", "input_cost"]


def _pick(lines: Sequence[dict[str, Any]], billable: str, tier: str) -> dict[str, Any] | None:
    matching = [line for line in lines if line.get("billable") == billable]
    wanted = tier.lower()
    exact = next((line for line in matching if line.get("variant") == wanted), None)
    plain = next((line for line in matching if not line.get("variant")), None)
    return exact or plain or (matching[0] if matching else None)


def _amount(line: dict[str, Any], count: int, size: tuple[int, int], tokens: int) -> float:
    unit, cost = line.get("unit"), float(line.get("cost_usd", 0.0))
    if unit == "megapixel":
        return count * cost * size[0] * size[1] / 1_000_000
    if unit == "token":
        return cost * tokens
    return count * cost


def image_cost(lines: Sequence[dict[str, Any]], count: int, size: tuple[int, int], tier: str,
               tokens: int) -> float:
    """USD for ``count`` output images of ``size`` (``tokens`` image tokens in all)."""
    line = _pick(lines, "output_image", tier)
    return 0.0 if line is None or count == 0 else round(_amount(line, count, size, tokens), 10)


def input_cost(lines: Sequence[dict[str, Any]], references: int, size: tuple[int, int]) -> float:
    """USD for ``references`` input images (258 tokens each when billed per token)."""
    line = _pick(lines, "input_reference", "") or _pick(lines, "input_image", "")
    if line is None or references == 0:
        return 0.0
    return round(_amount(line, references, size, 258 * references), 10)
