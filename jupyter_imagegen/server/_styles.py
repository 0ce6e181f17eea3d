"""The offline models' drawing styles: one scene, visibly different pictures.

Every offline model draws the same parsed scene (colours, shapes, counts), but in its own style,
so an offline comparison grid shows models apart the way real models differ: ``photo`` (lit
gradients, outlined shapes, film grain), ``poster`` (flat fills, few tones, a bold frame),
``sketch`` (coloured-pencil lines over a pale wash) and ``painterly`` (soft, saturated
brushwork). Each finish is a handful of whole-image Pillow operations, so a 1K picture stays fast.
"""

from __future__ import annotations

import math
import random

from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter, ImageOps

__all__ = ["STYLES", "draw_shape", "finish"]

RGB = tuple[int, int, int]
STYLES = ("photo", "poster", "sketch", "painterly")
_PAPER, _INK = (246, 240, 226), (52, 46, 40)


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t),
            round(a[2] + (b[2] - a[2]) * t))


def _star(cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    points = []
    for k in range(10):
        radius = r if k % 2 == 0 else r * 0.45
        angle = -math.pi / 2 + k * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return points


def draw_shape(draw: ImageDraw.ImageDraw, kind: str, colour: RGB, box: tuple[float, ...],
               rng: random.Random, style: str = "photo") -> None:
    """Draw one shape into ``box`` (flat fills without outlines in the poster style)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, min(w, h) / 2
    outline = colour if style == "poster" else _mix(colour, (0, 0, 0), 0.5)
    line = max(2, round(r / 20))
    if kind == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour, outline=outline, width=line)
    elif kind == "sun":
        for k in range(12):
            a = k * math.pi / 6
            draw.line((cx + r * 0.8 * math.cos(a), cy + r * 0.8 * math.sin(a),
                       cx + r * 1.25 * math.cos(a), cy + r * 1.25 * math.sin(a)),
                      fill=colour, width=line * 2)
        draw.ellipse((cx - r * 0.75, cy - r * 0.75, cx + r * 0.75, cy + r * 0.75), fill=colour)
    elif kind == "moon":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
        draw.ellipse((cx - r * 0.45, cy - r * 1.05, cx + r * 1.35, cy + r * 0.85),
                     fill=_mix(colour, (0, 0, 30), 0.8))
    elif kind == "star":
        draw.polygon(_star(cx, cy, r), fill=colour, outline=outline)
    elif kind == "square":
        draw.rectangle((cx - r * 0.8, cy - r * 0.8, cx + r * 0.8, cy + r * 0.8), fill=colour,
                       outline=outline, width=line)
    elif kind == "triangle":
        draw.polygon([(cx, cy - r), (cx + r, cy + r * 0.8), (cx - r, cy + r * 0.8)],
                     fill=colour, outline=outline)
    elif kind == "mountain":
        draw.polygon([(x0, y1), (cx, y0), (x1, y1)], fill=colour, outline=outline)
        draw.polygon([(cx - w * 0.12, y0 + h * 0.24), (cx, y0), (cx + w * 0.12, y0 + h * 0.24)],
                     fill=(245, 245, 245))
    elif kind == "tree":
        draw.rectangle((cx - w * 0.07, cy, cx + w * 0.07, y1), fill=(110, 70, 35))
        draw.ellipse((x0 + w * 0.1, y0, x1 - w * 0.1, cy + h * 0.15), fill=colour)
    elif kind == "house":
        draw.rectangle((x0 + w * 0.15, cy - h * 0.05, x1 - w * 0.15, y1), fill=colour,
                       outline=outline, width=line)
        draw.polygon([(x0, cy), (cx, y0), (x1, cy)], fill=_mix(colour, (120, 20, 20), 0.5))
        draw.rectangle((cx - w * 0.08, y1 - h * 0.3, cx + w * 0.08, y1), fill=outline)
    elif kind == "wave":
        step = max(4, round(w / 48))
        amp = h * (0.1 + 0.1 * rng.random())
        phase = rng.random() * 6.28
        pts = [(float(x), cy + amp * math.sin(phase + (x - x0) / w * 6.28 * 3))
               for x in range(round(x0), round(x1) + step, step)]
        draw.polygon([*pts, (x1, y1), (x0, y1)], fill=colour)
        draw.line(pts, fill=_mix(colour, (255, 255, 255), 0.6), width=line)
    elif kind == "grid":
        cells = 8
        for i in range(cells):
            for j in range(cells // 2):
                if (i + j) % 2 == 0:
                    draw.rectangle((x0 + w * i / cells, y0 + h * j * 2 / cells,
                                    x0 + w * (i + 1) / cells, y0 + h * (j * 2 + 1) / cells),
                                   fill=colour)




def flat(top: RGB, bottom: RGB, size: tuple[int, int]) -> Image.Image:
    """The poster style's background: one solid tone between the gradient's ends."""
    return Image.new("RGB", size, _mix(top, bottom, 0.5))


def finish(image: Image.Image, style: str) -> Image.Image:
    """Apply ``style``'s whole-image finish (``photo`` keeps the picture as drawn)."""
    width, height = image.size
    if style == "poster":
        out = ImageOps.posterize(image.convert("RGB"), 2)
        frame = max(4, round(min(width, height) / 40))
        ImageDraw.Draw(out).rectangle((0, 0, width - 1, height - 1), outline=_INK, width=frame)
        return out
    if style == "sketch":  # coloured pencil: ink lines over a pale wash of the scene's colours
        edges = image.convert("L").filter(ImageFilter.FIND_EDGES)
        lines = ImageOps.colorize(edges.point(lambda v: max(0, 255 - v * 5)), black=_INK,
                                  white=(255, 255, 255))
        wash = Image.blend(image.convert("RGB"), Image.new("RGB", image.size, _PAPER), 0.4)
        return ImageChops.multiply(wash, lines)
    if style == "painterly":
        small = image.resize((max(1, width // 5), max(1, height // 5)),
                             Image.Resampling.BILINEAR).filter(ImageFilter.SMOOTH_MORE)
        soft = small.resize((width, height), Image.Resampling.BICUBIC)
        return ImageEnhance.Color(soft).enhance(1.5)
    return image
