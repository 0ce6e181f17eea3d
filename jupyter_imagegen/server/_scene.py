"""Scenes for the offline renderer: sky and ground by time of day, figures laid out, light, mood.

A prompt that names things ("a red fox at night by a lighthouse") is drawn as a small landscape:
a sky whose colours follow the time of day, grass or sea below, sky things (sun, moon, birds,
clouds) up high, the rest standing on the ground, a hat on the first animal's head. Figures are
lit by the time of day (dimmed and blued at night) while lights (sun, moon, stars, the lighthouse
lamp) are drawn after the light, so they stay bright: a night scene is darker, yet its yellow moon
is yellow. Moods are whole-picture treatments. The same functions relight an input image for
edits ("make it night with a yellow moon").
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter

from ._figures import DEFAULT_COLOURS, FIGURES, LAMP, draw_figure, mix
from ._styles import draw_shape

__all__ = ["GLOWS", "SCENERY", "apply_mood", "draw_figures", "landscape", "relight"]

RGB = tuple[int, int, int]
#: Sky (top, horizon) colours by time of day.
_SKY: dict[str, tuple[RGB, RGB]] = {
    "dawn": ((95, 115, 175), (250, 175, 140)), "day": ((70, 150, 230), (190, 225, 250)),
    "dusk": ((60, 40, 110), (245, 130, 70)), "night": ((6, 8, 30), (28, 36, 80)),
}
#: How each time of day lights what stands in it (a per-channel multiplier, 255 = unchanged).
_LIGHT: dict[str, RGB] = {"dawn": (250, 222, 212), "day": (255, 255, 255),
                          "dusk": (235, 185, 165), "night": (150, 150, 190)}
#: The ground's own, stronger dimming (grass is not a lit figure).
_GROUND_LIGHT: dict[str, RGB] = {"dawn": (215, 190, 185), "day": (255, 255, 255),
                                 "dusk": (170, 125, 115), "night": (55, 62, 105)}
_SKY_KINDS = {"sun", "moon", "star", "bird", "cloud"}
#: Figures that give light: drawn after the time of day's light, so they stay bright.
GLOWS = {"sun", "moon", "star"}
_SEA_KINDS = {"boat", "fish", "lighthouse", "wave"}
#: Nouns that make a prompt a scene (sky and ground) rather than abstract shapes on a gradient.
SCENERY = set(FIGURES) | {"sun", "moon", "mountain", "tree", "house", "star"}
_HORIZON = 0.66


def landscape(kinds: Sequence[str], time: str, tint: Sequence[RGB],
              size: tuple[int, int]) -> Image.Image:
    """Sky and ground for a scene at ``time``; free colour words (``tint``) tint the sky."""
    width, height = size
    top, horizon = _SKY[time]
    if tint:
        top, horizon = mix(top, tint[-1], 0.45), mix(horizon, tint[0], 0.45)
    strip = Image.new("RGB", (1, 256))
    sea = bool(_SEA_KINDS & set(kinds))
    ground = (35, 95, 165) if sea else (75, 150, 60)
    ground_far = mix(ground, horizon, 0.35)
    line = round(255 * _HORIZON)
    strip.putdata([mix(top, horizon, y / line) if y < line else
                   mix(ground_far, ground, (y - line) / (255 - line)) for y in range(256)])
    image = strip.resize(size, Image.Resampling.BILINEAR)
    ground_box = (0, round(height * _HORIZON), width, height)
    light = Image.new("RGB", (width, ground_box[3] - ground_box[1]), _GROUND_LIGHT[time])
    image.paste(ImageChops.multiply(image.crop(ground_box), light), ground_box)
    return image


def _boxes(kinds: Sequence[str], rng: random.Random,
           size: tuple[int, int]) -> list[tuple[float, float, float, float]]:
    """One box per figure: sky things spread across the top, the rest along the horizon."""
    width, height = size
    unit = min(width, height)
    ground_y = height * (_HORIZON + 0.1)
    sky = [k for k in kinds if k in _SKY_KINDS]
    land = [k for k in kinds if k not in _SKY_KINDS and k not in ("hat", "mountain")]
    boxes, seen_sky, seen_land = [], 0, 0
    for kind in kinds:
        if kind in _SKY_KINDS:
            x = width * (seen_sky + 0.5) / len(sky) + rng.uniform(-0.12, 0.12) * width / len(sky)
            seen_sky += 1
            r = unit * {"sun": 0.11, "moon": 0.11, "cloud": 0.12, "bird": 0.1}.get(kind, 0.07)
            y = height * rng.uniform(0.12, 0.3)
            boxes.append((x - r, y - r * (0.6 if kind == "bird" else 1), x + r,
                          y + r * (0.6 if kind == "bird" else 1)))
            continue
        if kind == "mountain":
            x = width * rng.uniform(0.15, 0.85)
            boxes.append((x - width * 0.35, height * rng.uniform(0.3, 0.42), x + width * 0.35,
                          height * _HORIZON + 2))
            continue
        slot = (seen_land + 0.5) / max(len(land), 1) if kind != "hat" else rng.random()
        seen_land += kind != "hat"
        # The seed moves and sizes each figure within its slot, so "4 more like this" (new
        # seeds) gives four visibly different compositions, as a real model's seeds do.
        x = width * slot + rng.uniform(-0.3, 0.3) * width / max(len(land), 1)
        r = unit * max(0.07, 0.16 / max(len(land), 1) ** 0.5) * rng.uniform(0.8, 1.15)
        tall, wide = {"lighthouse": (4.2, 0.9), "tree": (2.2, 1.0), "house": (2.0, 1.0),
                      "car": (1.0, 2.2), "boat": (1.6, 1.8), "fish": (0.7, 1.2),
                      "flower": (1.4, 0.5), "hat": (0.8, 0.8)}.get(kind, (1.4, 1.8))
        x = min(max(x, r * wide), width - r * wide)  # never off the picture
        base = ground_y + (unit * 0.12 if kind == "fish" else 0) - (
            unit * 0.04 if kind == "boat" else 0)
        boxes.append((x - r * wide, base - r * tall, x + r * wide, base))
    return boxes


def _on_head(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """Where a hat sits on an animal drawn in ``box`` (its head is at the front, top)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    return (x0 + w * 0.66, y0 - h * 0.3, x0 + w * 0.98, y0 + h * 0.08)


def draw_figures(image: Image.Image, figures: Sequence[tuple[str, RGB | None]], time: str | None,
                 rng: random.Random, style: str) -> Image.Image:
    """Draw ``(kind, colour)`` figures on ``image``, lit by ``time``; lights drawn last, bright."""
    kinds = [k for k, _ in figures]
    boxes = _boxes(kinds, rng, image.size)
    animals = [b for (k, _), b in zip(figures, boxes, strict=True) if k in ("fox", "cat", "dog")]
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    glows = []
    for (kind, colour), box in sorted(zip(figures, boxes, strict=True), key=lambda f: f[0][0] != "mountain"):
        if kind == "hat" and animals:
            box = _on_head(animals.pop(0))
        paint = colour or DEFAULT_COLOURS.get(kind) or {"sun": (250, 200, 40), "moon": (
            240, 235, 200), "star": (250, 240, 160), "tree": (40, 140, 60), "house": (
            220, 200, 160), "mountain": (120, 120, 140)}.get(kind, (200, 200, 200))
        if kind in GLOWS:
            glows.append((kind, paint, box))
        elif kind in FIGURES:
            draw_figure(draw, kind, paint, box, style)
        else:
            draw_shape(draw, kind, paint, box, rng, style)
    if time is not None:
        rgb = ImageChops.multiply(layer.convert("RGB"), Image.new("RGB", image.size, _LIGHT[time]))
        layer = Image.merge("RGBA", (*rgb.split(), layer.getchannel("A")))
    image = image.convert("RGB")
    image.paste(layer, (0, 0), layer)
    top = ImageDraw.Draw(image)
    for kind, paint, box in glows:
        draw_shape(top, kind, paint, box, rng, style)
        if kind == "moon":  # the bite uses the sky's colour so the crescent reads on any sky
            _crescent(image, box)
    if "lighthouse" in kinds and time in ("dusk", "night"):
        _beam(image, boxes[kinds.index("lighthouse")])
    if time == "night":
        _stars(top, rng, image.size)
    return image


def _crescent(image: Image.Image, box: tuple[float, float, float, float]) -> None:
    x0, y0, x1, y1 = box
    cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, min(x1 - x0, y1 - y0) / 2
    sx = min(image.width - 1, max(0, round(cx + r * 1.4)))
    sky = image.getpixel((sx, max(0, min(image.height - 1, round(cy)))))
    assert isinstance(sky, tuple)
    ImageDraw.Draw(image).ellipse((cx - r * 0.45, cy - r * 1.05, cx + r * 1.35, cy + r * 0.85),
                                  fill=sky[:3])


def _beam(image: Image.Image, box: tuple[float, float, float, float]) -> None:
    x0, y0, x1, _ = box
    cx, cy = (x0 + x1) / 2, y0 + (box[3] - y0) * 0.16
    glow = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(glow)
    reach = image.width * 0.45
    for side in (-1, 1):
        draw.polygon([(cx, cy), (cx + side * reach, cy - reach * 0.12),
                      (cx + side * reach, cy + reach * 0.12)], fill=(*LAMP, 90))
    r = (x1 - x0) * 0.18
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*LAMP, 255))
    image.paste(glow, (0, 0), glow)


def _stars(draw: ImageDraw.ImageDraw, rng: random.Random, size: tuple[int, int]) -> None:
    width, height = size
    for _ in range(40):
        x, y = rng.uniform(0, width), rng.uniform(0, height * _HORIZON * 0.8)
        r = max(1.0, min(width, height) / 400) * rng.uniform(0.6, 1.4)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(235, 235, 210))


def relight(image: Image.Image, time: str) -> Image.Image:
    """An input picture moved to ``time`` (for edits): night darkens and blues it, dusk warms."""
    factor = {"dawn": (235, 200, 190), "day": (255, 255, 255), "dusk": (215, 150, 130),
              "night": (70, 80, 130)}[time]
    out = ImageChops.multiply(image.convert("RGB"), Image.new("RGB", image.size, factor))
    if time == "day":
        out = ImageEnhance.Brightness(out).enhance(1.15)
    return out


def apply_mood(image: Image.Image, mood: str, rng: random.Random) -> Image.Image:
    """A whole-picture treatment for ``mood`` (stormy also draws clouds and rain)."""
    if mood == "cheerful":
        return ImageEnhance.Brightness(ImageEnhance.Color(image).enhance(1.45)).enhance(1.08)
    if mood == "gloomy":
        return ImageEnhance.Brightness(ImageEnhance.Color(image).enhance(0.45)).enhance(0.78)
    if mood == "calm":
        return ImageEnhance.Contrast(ImageEnhance.Color(image).enhance(0.75)).enhance(0.85)
    if mood == "dreamy":
        soft = image.filter(ImageFilter.GaussianBlur(max(2, image.width // 120)))
        return Image.blend(Image.blend(image, soft, 0.6), Image.new("RGB", image.size,
                                                                    (245, 225, 245)), 0.18)
    out = ImageEnhance.Brightness(ImageEnhance.Color(image).enhance(0.5)).enhance(0.7)
    draw = ImageDraw.Draw(out)
    width, height = out.size
    for k in range(5):  # stormy: low grey clouds and slanting rain
        cx, r = width * (k + 0.5) / 5, width * 0.14
        draw.ellipse((cx - r, -r * 0.6, cx + r, r * 0.7), fill=(90, 92, 100))
    for _ in range(120):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        draw.line((x, y, x - width * 0.01, y + height * 0.04), fill=(170, 180, 195),
                  width=max(1, round(width / 600)))
    return out

