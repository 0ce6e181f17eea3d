"""Image tokens per image, as each provider documents them, for models whose lines price tokens.

Token-priced image models (Gemini, GPT image, MAI) bill ``output_image`` per token, and the
count depends on the model, the size and the quality: one fixed estimate is 7x too high on one
model and too low on another. The counts here are the providers' own published tables (cited
per family); a model none of them covers has no count (its price is unknown, never guessed)
until a billed answer teaches one (``learned``: image tokens per image this session saw billed for
the same model, size and quality, which then also bounds the worst case from below).

Pure data and lookup; :func:`jupyter_imagegen._wire.prices.quote` multiplies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from .prices import Order, TokenGuess

__all__ = ["gpt_image_2_tokens", "image_tokens", "shape_key"]

#: Gemini image models: output tokens per image by size tier, tokens per input image.
#: gemini-2.5-flash-image: "Output images up to 1024x1024px consume 1290 tokens" (Google's Gemini
#: API pricing page), as the recorded OpenRouter answers bill (1290 ``image_tokens``,
#: AbdelrahmanRizq97/bld-skeleton-expo-v2@4038c863 openrouter-smoke.ts); it makes about 1K only.
#: gemini-3-pro-image: "560 input image tokens per input image ... 1120 tokens for 1K ... and 2K
#: ..., and 2000 tokens for 4K"; gemini-3.1-flash-image: "1120 input image tokens per input image
#: ... 747 output image tokens for 512 ..., 1120 tokens for 1K ..., 1680 tokens for 2K ..., and
#: 2520 tokens for 4K" (Google Cloud's model pages for both). Real Image API answers billed 1120
#: at 2K and 2000 at 4K (clostaunau/holiday-card@0cd1cfc7, openrouter-image-api-snapshot.md).
#: An unset size is Gemini's default, 1K. ``None`` as the input count: by 768 px tiles (2.5).
_GEMINI: dict[str, tuple[dict[str, int], int | None]] = {
    "google/gemini-2.5-flash-image": ({"0.5K": 1290, "1K": 1290, "2K": 1290, "4K": 1290}, None),
    "google/gemini-3-pro-image": ({"0.5K": 1120, "1K": 1120, "2K": 1120, "4K": 2000}, 560),
    "google/gemini-3.1-flash-image": ({"0.5K": 747, "1K": 1120, "2K": 1680, "4K": 2520}, 1120),
}

#: GPT image models before gpt-image-2: output tokens by quality and size (OpenAI's image
#: generation guide, "Cost and latency": low 272/408/400, medium 1056/1584/1568, high
#: 4160/6240/6208 for 1024x1024 / 1024x1536 / 1536x1024; gpt-image-1 bills them at $40/M,
#: gpt-image-1.5 at about $32/M, which its per-image prices match). gpt-image-1-mini's prices do
#: not fit this table, so it has no count here. These models make only those three sizes.
#: openai/gpt-5-image makes its images with the same counts: a recorded answer (relayed through
#: the Kilo gateway) billed 4,175 image tokens, within the table's high row.
_GPT_TABLE: dict[str, dict[str, int]] = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}
_GPT_TABLE_MODELS = ("openai/gpt-image-1", "openai/gpt-image-1.5", "openai/gpt-5-image")
#: Input image tokens for these: up to 1,445 for the vision tiles of one image (85 + 170 per 512 px
#: tile, at most 8 tiles; OpenAI's vision guide) plus 4,160 for high input fidelity, expected 765
#: (a 1024x1024 input); a measured gpt-image-1 edit billed 194 for a 1024x1025 input.
_GPT_INPUT = (1445 + 4160, 765)
#: gpt-image-2: tokens from the output size and quality, by the formula that reproduces OpenAI's
#: per-image prices and both recorded OpenRouter answers to the token (181 for 1152x1536 low, 213
#: for 1328x1824 low; holiday-card@0cd1cfc7), published on OpenAI's community forum
#: ("gpt-image-2 output pricing calculator"). Its inputs: a 1,536-patch budget (community notes).
_GPT2_FACTORS = {"low": 16, "medium": 48, "high": 96}
_GPT2_MODELS = ("openai/gpt-image-2",)
_GPT2_INPUT = (2000, 1536)
#: The largest output gpt-image-2 makes (3840x2160), bounding a size the request leaves open.
_GPT2_MAX_AREA = 3840 * 2160
#: The quality an unset or ``auto`` request is expected at (its worst case is the highest).
_GPT_DEFAULT = "medium"


def _base(model_id: str) -> str:
    """``google/gemini-3-pro-image-preview:free`` → ``google/gemini-3-pro-image``."""
    base = model_id.split(":", 1)[0]
    return base.removesuffix("-preview")


def _gemini_input(base: str, order: Order) -> int | None:
    """Input tokens of the largest input: 258 per 768 px tile for 2.5 (258 up to 384 px)."""
    per_input = _GEMINI[base][1]
    if per_input is not None or not order.inputs:
        return per_input
    sizes = [size for size in order.inputs if size is not None]
    if len(sizes) < len(order.inputs):
        return None
    tiles = [1 if max(w, h) <= 384 else math.ceil(w / 768) * math.ceil(h / 768) for w, h in sizes]
    return 258 * max(tiles)


def _gemini(base: str, order: Order) -> TokenGuess | None:
    if base not in _GEMINI:
        return None
    tiers = _GEMINI[base][0]
    count = tiers.get(order.tier or "1K")
    inputs = _gemini_input(base, order)
    return TokenGuess(count, count, "Google's documented tokens per image", inputs, inputs)


def _qualities(order: Order, known: tuple[str, ...], listed: tuple[str, ...]) -> tuple[str, ...] | None:
    """The qualities the answer may be made at; ``None`` when one of them has no count here."""
    if order.quality not in (None, "auto"):
        return (order.quality,) if order.quality in known else None
    offered = [q for q in listed if q != "auto"] or list(known)
    return None if any(q not in known for q in offered) else tuple(offered)


def _gpt_table(order: Order, listed: tuple[str, ...]) -> TokenGuess | None:
    qualities = _qualities(order, tuple(_GPT_TABLE), listed)
    if qualities is None:
        return None
    width, height = order.width or 1024, order.height or 1024
    near = "1024x1024" if abs(width - height) < 0.1 * max(width, height) else (
        "1536x1024" if width > height else "1024x1536")
    shapes = [f"{width}x{height}"] if order.sized and f"{width}x{height}" in _GPT_TABLE["low"] \
        else list(_GPT_TABLE["low"])
    worst = max(_GPT_TABLE[q][shape] for q in qualities for shape in shapes)
    expected_quality = order.quality if order.quality in _GPT_TABLE else _GPT_DEFAULT
    expected = _GPT_TABLE[expected_quality][near if not order.sized else shapes[0]]
    return TokenGuess(worst, expected, "OpenAI's documented tokens per quality and size", *_GPT_INPUT)


def gpt_image_2_tokens(width: int, height: int, quality: str) -> int:
    """gpt-image-2's output tokens for one ``width`` x ``height`` image at ``quality``."""
    factor = _GPT2_FACTORS[quality]
    short, long = sorted((width, height))
    short_factor = (2 * factor * short + long) // (2 * long)
    return (factor * short_factor * (2_000_000 + width * height) + 4_000_000 - 1) // 4_000_000


def _gpt2(order: Order, listed: tuple[str, ...]) -> TokenGuess | None:
    qualities = _qualities(order, tuple(_GPT2_FACTORS), listed)
    if qualities is None:
        return None
    width, height = order.width or 1024, order.height or 1024
    if order.sized:
        worst = max(gpt_image_2_tokens(width, height, q) for q in qualities)
    else:  # the size is the model's choice: bounded by a square of 1.5x the tier's side
        scale = {"0.5K": 0.5, "2K": 2.0, "4K": 4.0}.get(order.tier or "1K", 1.0)
        side = int(min(1536 * scale, math.sqrt(_GPT2_MAX_AREA)))
        worst = max(gpt_image_2_tokens(side, side, q) for q in qualities)
    expected_quality = order.quality if order.quality in _GPT2_FACTORS else _GPT_DEFAULT
    expected = gpt_image_2_tokens(width, height, expected_quality)
    return TokenGuess(max(worst, expected), expected,
                      "gpt-image-2's token formula (matches recorded answers)", *_GPT2_INPUT)


def image_tokens(model_id: str, order: Order, learned: Mapping[str, int] | None = None,
                 qualities: tuple[str, ...] = ()) -> TokenGuess | None:
    """Output (and input) image tokens per image for ``model_id`` at ``order``'s size and quality.

    ``qualities`` are the ones the model's descriptor lists: an open quality is worst at the
    dearest, and one with no documented count makes the count unknown. ``learned`` maps a shape
    key (:func:`shape_key`) to the image tokens per image a billed answer of this model carried;
    the learned count is expected, and the worst case never below it.
    """
    base = _base(model_id)
    guess = _gemini(base, order)
    if guess is None and base in _GPT_TABLE_MODELS:
        guess = _gpt_table(order, qualities)
    if guess is None and base in _GPT2_MODELS:
        guess = _gpt2(order, qualities)
    seen = (learned or {}).get(shape_key(order))
    if seen is None:
        return guess
    if guess is None:
        return TokenGuess(seen, seen, "image tokens billed for this size this session")
    return TokenGuess(max(seen, guess.worst or 0), seen,
                      f"{guess.source}; {seen:,} billed this session", guess.input_worst,
                      guess.input_expected)


def shape_key(order: Order) -> str:
    """What a billed answer's price depends on: the size tier (or pixels), quality and inputs."""
    size = f"{order.width}x{order.height}" if order.sized else (order.tier or "default")
    inputs = f"/{len(order.inputs)} inputs" if order.inputs else ""
    return f"{size}/{order.quality or 'auto'}{inputs}"
