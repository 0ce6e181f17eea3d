"""Aspect ratios, size tiers and the pixel sizes they stand for (pure, stdlib only).

Both image APIs speak of the same two knobs under different names: chat completions take
``image_config.aspect_ratio`` and ``image_config.image_size`` (``0.5K``/``1K``/``2K``/``4K``), the
Image API takes ``aspect_ratio`` and ``resolution`` (``512``/``1K``/``2K``/``4K``). One table here
serves both, so a request object can carry one value and each API adapter spell it its own way.

Sources: OpenRouterTeam/docs ``guides/overview/multimodal/image-generation.mdx`` at 1c9b4627
(2026-06-16: the 1K pixel table, ``0.5K`` and the extended ratios of gemini-3.1-flash-image-preview)
and at c9878752 (2026-07-03: the Image API's 22 ``aspect_ratio`` values and ``resolution`` tiers).
"""

from __future__ import annotations

import math
import re

from .._exceptions import InvalidInputError

__all__ = [
    "ASPECT_RATIOS",
    "CHAT_SIZES",
    "IMAGES_ASPECT_RATIOS",
    "IMAGES_RESOLUTIONS",
    "IMAGE_SIZES",
    "chat_size",
    "images_pixel_size",
    "images_resolution",
    "parse_size",
    "pixel_size",
    "spell_ratio",
    "spell_tier",
]

#: ``image_config.aspect_ratio`` values and their pixel sizes at ``image_size="1K"`` (Gemini's table).
ASPECT_RATIOS: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}

#: ``image_config.image_size`` values and their scale relative to 1K.
IMAGE_SIZES: dict[str, float] = {"0.5K": 0.5, "1K": 1.0, "2K": 2.0, "4K": 4.0}
#: The chat path's size labels, in order.
CHAT_SIZES: tuple[str, ...] = tuple(IMAGE_SIZES)

#: The ``aspect_ratio`` values the Image API documents (a model accepts a subset).
IMAGES_ASPECT_RATIOS: tuple[str, ...] = (
    "1:1", "1:2", "1:4", "1:8", "2:1", "2:3", "3:2", "3:4", "4:1", "4:3", "4:5", "5:4", "8:1",
    "9:16", "16:9", "9:19.5", "19.5:9", "9:20", "20:9", "9:21", "21:9", "auto",
)
#: ``resolution`` tiers and their scale relative to 1K (1:1 at 1K is 1024x1024).
IMAGES_RESOLUTIONS: dict[str, float] = {"512": 0.5, "1K": 1.0, "2K": 2.0, "4K": 4.0}


_RATIO = re.compile(r"\d{1,3}(\.\d{1,2})?:\d{1,3}(\.\d{1,2})?")


def spell_ratio(value: object) -> str:
    """An aspect ratio in the one spelling both APIs take: ``16x9``, ``16/9``, ``16 : 9`` → ``16:9``.

    Only the spelling is checked: which ratios a model takes is its catalogue record's to say.
    Every front end (API, magic, widget, CLI) gets this through ``Request.build``.
    """
    ratio = re.sub(r"\s*[x/:]\s*", ":", str(value).strip().lower())
    if ratio != "auto" and not _RATIO.fullmatch(ratio):
        raise InvalidInputError(f"{value!r} is not an aspect ratio; write it like 16:9 "
                                f"(e.g. {', '.join(list(ASPECT_RATIOS)[:4])}, or auto)")
    return ratio


def spell_tier(value: object) -> str:
    """A size tier in the kit's spelling: ``512``/``0.5k`` → ``0.5K``, ``2k`` → ``2K``; junk raises."""
    text = str(value).strip().upper()
    text = chat_size(text) or text
    if text not in IMAGE_SIZES:
        raise InvalidInputError(f"unknown size {value!r}; use one of {', '.join(IMAGE_SIZES)} "
                                "(or WIDTHxHEIGHT on the Image API)")
    return text


def chat_size(tier: str | None) -> str | None:
    """The chat path's label for a tier: ``"512"`` is spelled ``"0.5K"`` there."""
    return "0.5K" if tier == "512" else tier


def images_resolution(tier: str | None) -> str | None:
    """The Image API's label for a tier: ``"0.5K"`` is spelled ``"512"`` there."""
    return "512" if tier == "0.5K" else tier


def pixel_size(aspect_ratio: str | None = None, image_size: str | None = None) -> tuple[int, int]:
    """Pixel size for an aspect ratio and size label, as documented (1:1 at 1K is 1024x1024)."""
    width, height = ASPECT_RATIOS[aspect_ratio or "1:1"]
    scale = IMAGE_SIZES[image_size or "1K"]
    return round(width * scale), round(height * scale)


def parse_size(size: str) -> tuple[int, int] | None:
    """``"1536x1024"`` → ``(1536, 1024)``; ``None`` for tiers (``"2K"``), ``"auto"`` or junk."""
    width, sep, height = size.strip().lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or len(width) > 6 or len(height) > 6:
        return None
    w, h = int(width), int(height)
    return (w, h) if w > 0 and h > 0 else None


def _ratio_value(aspect_ratio: str) -> float:
    left, sep, right = aspect_ratio.partition(":")
    try:
        value = float(left) / float(right)
    except (ValueError, ZeroDivisionError, OverflowError):
        value = float("nan")
    if not sep or not math.isfinite(value) or value <= 0:
        raise ValueError(f"not an aspect ratio: {aspect_ratio!r} (expected e.g. '16:9')")
    return value


def images_pixel_size(aspect_ratio: str | None = None,
                      resolution: str | None = None) -> tuple[int, int]:
    """Pixel size for an Image API ``aspect_ratio`` and ``resolution`` tier.

    Ratios in the documented Gemini table use its sizes (16:9 at 1K is 1344x768); their transposes
    are transposed (9:21 is 672x1536); any other ratio keeps the 1K area of about one megapixel,
    with sides rounded to multiples of 32. The tier scales the result (``"512"`` halves it).
    ``None`` and ``"auto"`` mean 1:1 and 1K.
    """
    ratio = "1:1" if aspect_ratio in (None, "", "auto") else str(aspect_ratio)
    tier = images_resolution(resolution) or "1K"
    if tier not in IMAGES_RESOLUTIONS:
        raise ValueError(f"unknown resolution {tier!r}; valid: {', '.join(IMAGES_RESOLUTIONS)}")
    scale = IMAGES_RESOLUTIONS[tier]
    if ratio in ASPECT_RATIOS:
        width, height = ASPECT_RATIOS[ratio]
    else:
        left, _, right = ratio.partition(":")
        flipped = f"{right}:{left}"
        if flipped in ASPECT_RATIOS:
            height, width = ASPECT_RATIOS[flipped]
        else:
            value = _ratio_value(ratio)
            width = max(32, round(math.sqrt(1024 * 1024 * value) / 32) * 32)
            height = max(32, round(1024 * 1024 / width / 32) * 32)
    return round(width * scale), round(height * scale)
