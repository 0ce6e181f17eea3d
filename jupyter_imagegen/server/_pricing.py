"""Simulated billing: the client's own price model (``_wire.prices``) with the counts known.

The lines are the real ones recorded from ``GET /images/models/{id}/endpoints`` (or the offline
models' own). The server bills nothing, but ``usage.cost`` follows the arithmetic the lines
describe, through the same code the client's spend guard and labels use (:func:`bill`): per image
by the variant that fits (tier, quality, size class), per megapixel, per token, per request, input
images and prompt text included. Image tokens follow the providers' documented counts
(``_wire.image_tokens``); a model none documents is drawn at 1290 tokens per megapixel, the rate of
the recorded gemini-2.5-flash-image answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from jupyter_imagegen._wire.image_tokens import image_tokens
from jupyter_imagegen._wire.listings import PriceLine
from jupyter_imagegen._wire.prices import Order, bill
from jupyter_imagegen._wire.sizes import chat_size

__all__ = ["charge", "order_of", "tokens_per_image"]

_TOKENS_PER_MEGAPIXEL = 1290 / (1024 * 1024 / 1e6)


@lru_cache(maxsize=256)
def _lines(lines: tuple[tuple[tuple[str, Any], ...], ...]) -> tuple[PriceLine, ...]:
    read = (PriceLine.from_json(dict(line)) for line in lines)
    return tuple(line for line in read if line is not None)


def price_lines(lines: Sequence[dict[str, Any]]) -> tuple[PriceLine, ...]:
    """The recorded JSON lines as the wire layer reads them (cached: the catalogue is fixed)."""
    return _lines(tuple(tuple(sorted(line.items())) for line in lines))


def order_of(count: int, size: tuple[int, int], tier: str, quality: str | None = None,
             inputs: Sequence[tuple[int, int]] = (), prompt: str = "") -> Order:
    """What one answered request was, exactly: its images, their size, inputs and prompt."""
    return Order(images=count, tier=chat_size(tier) or tier, width=size[0], height=size[1],
                 quality=quality, inputs=tuple(inputs), prompt_chars=len(prompt),
                 prompt_bytes=len(prompt.encode("utf-8", "replace")))


def tokens_per_image(model_id: str, order: Order) -> int:
    """Image tokens of one output image: the documented count, else by area."""
    guess = image_tokens(model_id, order)
    if guess is not None and guess.expected:
        return guess.expected
    area = order.megapixels or 1.0
    return max(1, round(_TOKENS_PER_MEGAPIXEL * area))


def charge(lines: Sequence[dict[str, Any]], order: Order, tokens: int) -> float:
    """USD for ``order`` done with ``tokens`` image tokens per image (0 with no images)."""
    if order.images == 0:
        return 0.0
    return bill(price_lines(lines), order, tokens)
