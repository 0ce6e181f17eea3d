"""Figures for the offline renderer's scenes: animals and objects a prompt names.

Each figure is a few Pillow primitives in a box, recognisable at thumbnail size (a fox has ears
and a white-tipped tail, a lighthouse red bands and a lamp), so a class sees its nouns appear.
They are drawn in the prompt's colour for the noun when it gives one ("a blue cat"), else in the
noun's usual colour, and outlined darker except in the poster style (flat fills).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from PIL import ImageDraw

__all__ = ["DEFAULT_COLOURS", "FIGURES", "LAMP", "draw_figure", "mix"]

RGB = tuple[int, int, int]
Box = tuple[float, float, float, float]
LAMP: RGB = (255, 236, 140)
_WHITE: RGB = (245, 245, 240)
DEFAULT_COLOURS: dict[str, RGB] = {
    "fox": (225, 105, 30), "cat": (120, 120, 130), "dog": (150, 100, 55), "bird": (50, 110, 210),
    "fish": (245, 140, 30), "lighthouse": (245, 245, 240), "boat": (140, 85, 45),
    "car": (220, 40, 40), "flower": (240, 120, 180), "hat": (30, 30, 35),
    "cloud": (240, 242, 248),
}


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """``a`` moved a fraction ``t`` of the way to ``b``."""
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t),
            round(a[2] + (b[2] - a[2]) * t))


def _quadruped(draw: ImageDraw.ImageDraw, box: Box, colour: RGB, ink: RGB, ears: str,
               tail: str) -> None:
    """A side-on animal: body, head with ears, legs and a tail (fox, cat and dog share it)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    body = (x0 + w * 0.18, y0 + h * 0.4, x0 + w * 0.78, y0 + h * 0.78)
    for lx in (0.26, 0.38, 0.58, 0.7):
        draw.rectangle((x0 + w * lx, y0 + h * 0.7, x0 + w * (lx + 0.06), y1), fill=colour,
                       outline=ink)
    draw.ellipse(body, fill=colour, outline=ink, width=2)
    hx0, hy0, hx1, hy1 = x0 + w * 0.66, y0 + h * 0.16, x0 + w * 0.98, y0 + h * 0.52
    if ears == "pointed":
        for ex in (0.70, 0.84):
            draw.polygon([(x0 + w * ex, hy0 + h * 0.08), (x0 + w * (ex + 0.05), y0),
                          (x0 + w * (ex + 0.1), hy0 + h * 0.08)], fill=colour, outline=ink)
    else:  # floppy
        draw.ellipse((hx0 - w * 0.02, hy0 + h * 0.04, hx0 + w * 0.1, hy0 + h * 0.34), fill=ink)
    draw.ellipse((hx0, hy0, hx1, hy1), fill=colour, outline=ink, width=2)
    eye = max(2.0, w * 0.02)
    draw.ellipse((x0 + w * 0.86 - eye, y0 + h * 0.3 - eye, x0 + w * 0.86 + eye,
                  y0 + h * 0.3 + eye), fill=(20, 20, 20))
    if tail == "bushy":
        draw.ellipse((x0, y0 + h * 0.3, x0 + w * 0.3, y0 + h * 0.6), fill=colour, outline=ink)
        draw.ellipse((x0, y0 + h * 0.38, x0 + w * 0.1, y0 + h * 0.52), fill=_WHITE)
    else:
        draw.line((x0 + w * 0.2, y0 + h * 0.5, x0 + w * 0.04, y0 + h * 0.18), fill=colour,
                  width=max(3, round(w * 0.05)))


def _fox(draw: ImageDraw.ImageDraw, box: Box, colour: RGB, ink: RGB) -> None:
    _quadruped(draw, box, colour, ink, "pointed", "bushy")
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    draw.polygon([(x0 + w * 0.92, y0 + h * 0.38), (x1, y0 + h * 0.34), (x0 + w * 0.9,
                  y0 + h * 0.5)], fill=_WHITE)


def _cat(draw: ImageDraw.ImageDraw, box: Box, colour: RGB, ink: RGB) -> None:
    _quadruped(draw, box, colour, ink, "pointed", "thin")


def _dog(draw: ImageDraw.ImageDraw, box: Box, colour: RGB, ink: RGB) -> None:
    _quadruped(draw, box, colour, ink, "floppy", "thin")


def _bird(draw: ImageDraw.ImageDraw, box: Box, colour: RGB, ink: RGB) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    width = max(3, round(w * 0.1))
    draw.arc((x0, y0 + h * 0.2, x0 + w * 0.52, y1), 200, 340, fill=colour, width=width)
    draw.arc((x0 + w * 0.48, y0 + h * 0.2, x1, y1), 200, 340, fill=colour, width=width)
    draw.ellipse((x0 + w * 0.42, y0 + h * 0.4, x0 + w * 0.58, y0 + h * 0.62), fill=colour,
                 outline=ink)


def _fish(draw: ImageDraw.ImageDraw, box: Box, colour: RGB, ink: RGB) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    draw.polygon([(x0, y0 + h * 0.15), (x0 + w * 0.3, y0 + h * 0.5), (x0, y0 + h * 0.85)],
                 fill=colour, outline=ink)
    draw.ellipse((x0 + w * 0.2, y0 + h * 0.15, x1, y0 + h * 0.85), fill=colour, outline=ink,
                 width=2)
    eye = max(2.0, w * 0.04)
    draw.ellipse((x0 + w * 0.8 - eye, y0 + h * 0.4 - eye, x0 + w * 0.8 + eye,
                  y0 + h * 0.4 + eye), fill=(20, 20, 20))


def _lighthouse(draw: ImageDraw.ImageDraw, box: Box, colour: RGB, ink: RGB) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    top, bottom = y0 + h * 0.22, y1
    draw.polygon([(x0 + w * 0.3, top), (x0 + w * 0.7, top), (x0 + w * 0.82, bottom),
                  (x0 + w * 0.18, bottom)], fill=colour, outline=ink)
    for k in range(3):  # red bands
        a, b = top + (bottom - top) * (0.15 + 0.28 * k), top + (bottom - top) * (0.28 + 0.28 * k)
        inset_a, inset_b = 0.3 - 0.12 * (a - top) / (bottom - top), 0.3 - 0.12 * (b - top) / (
            bottom - top)
        draw.polygon([(x0 + w * inset_a, a), (x1 - w * inset_a, a), (x1 - w * inset_b, b),
                      (x0 + w * inset_b, b)], fill=(200, 40, 40))
    draw.rectangle((x0 + w * 0.26, y0 + h * 0.1, x0 + w * 0.74, top), fill=(40, 40, 45))
    draw.polygon([(x0 + w * 0.22, y0 + h * 0.1), (x0 + w * 0.5, y0), (x0 + w * 0.78,
                  y0 + h * 0.1)], fill=(200, 40, 40))


def _boat(draw: ImageDraw.ImageDraw, box: Box, colour: RGB, ink: RGB) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    draw.polygon([(x0, y0 + h * 0.65), (x1, y0 + h * 0.65), (x0 + w * 0.82, y1),
                  (x0 + w * 0.18, y1)], fill=colour, outline=ink)
    draw.line((x0 + w * 0.5, y0, x0 + w * 0.5, y0 + h * 0.65), fill=ink, width=max(2, round(w / 40)))
    draw.polygon([(x0 + w * 0.52, y0 + h * 0.04), (x0 + w * 0.52, y0 + h * 0.6),
                  (x0 + w * 0.9, y0 + h * 0.6)], fill=_WHITE, outline=ink)


def _car(draw: ImageDraw.ImageDraw, box: Box, colour: RGB, ink: RGB) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    draw.polygon([(x0 + w * 0.25, y0 + h * 0.4), (x0 + w * 0.35, y0), (x0 + w * 0.68, y0),
                  (x0 + w * 0.8, y0 + h * 0.4)], fill=colour, outline=ink)
    draw.polygon([(x0 + w * 0.36, y0 + h * 0.36), (x0 + w * 0.4, y0 + h * 0.08),
                  (x0 + w * 0.64, y0 + h * 0.08), (x0 + w * 0.72, y0 + h * 0.36)],
                 fill=(170, 210, 235))
    draw.rectangle((x0, y0 + h * 0.38, x1, y0 + h * 0.8), fill=colour, outline=ink, width=2)
    for cx in (0.22, 0.78):
        r = h * 0.2
        draw.ellipse((x0 + w * cx - r, y1 - 2 * r, x0 + w * cx + r, y1), fill=(25, 25, 25))


def _flower(draw: ImageDraw.ImageDraw, box: Box, colour: RGB, ink: RGB) -> None:
    x0, y0, x1, y1 = box
    w = x1 - x0
    cx, cy, r = x0 + w / 2, y0 + w / 2, w * 0.22
    draw.line((cx, cy, cx, y1), fill=(40, 130, 50), width=max(2, round(w / 12)))
    for k in range(6):
        a = k * math.pi / 3
        px, py = cx + r * 1.1 * math.cos(a), cy + r * 1.1 * math.sin(a)
        draw.ellipse((px - r, py - r, px + r, py + r), fill=colour, outline=ink)
    draw.ellipse((cx - r * 0.8, cy - r * 0.8, cx + r * 0.8, cy + r * 0.8), fill=(245, 205, 50))


def _hat(draw: ImageDraw.ImageDraw, box: Box, colour: RGB, ink: RGB) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    draw.rectangle((x0, y1 - h * 0.2, x1, y1), fill=colour, outline=ink)
    draw.rectangle((x0 + w * 0.22, y0, x1 - w * 0.22, y1 - h * 0.15), fill=colour, outline=ink)
    draw.rectangle((x0 + w * 0.22, y1 - h * 0.45, x1 - w * 0.22, y1 - h * 0.3),
                   fill=mix(colour, (200, 30, 30), 0.7))


def _cloud(draw: ImageDraw.ImageDraw, box: Box, colour: RGB, ink: RGB) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    for fx, fy, fr in ((0.3, 0.6, 0.28), (0.55, 0.45, 0.35), (0.75, 0.62, 0.25)):
        r = w * fr
        draw.ellipse((x0 + w * fx - r, y0 + h * fy - r * 0.7, x0 + w * fx + r,
                      y0 + h * fy + r * 0.7), fill=colour)


FIGURES: dict[str, Callable[[ImageDraw.ImageDraw, Box, RGB, RGB], None]] = {
    "fox": _fox, "cat": _cat, "dog": _dog, "bird": _bird, "fish": _fish,
    "lighthouse": _lighthouse, "boat": _boat, "car": _car, "flower": _flower, "hat": _hat,
    "cloud": _cloud,
}


def draw_figure(draw: ImageDraw.ImageDraw, kind: str, colour: RGB, box: Box,
                style: str = "photo") -> None:
    """Draw figure ``kind`` (a key of :data:`FIGURES`) into ``box``."""
    ink = colour if style == "poster" else mix(colour, (0, 0, 0), 0.55)
    FIGURES[kind](draw, box, colour, ink)
