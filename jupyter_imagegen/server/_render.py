"""A procedural renderer: prompts in, Pillow pictures out (no neural model).

The picture is visibly driven by the prompt so that a class can see what each word does: nouns
from a small vocabulary (animals, objects; see :func:`vocabulary`) compose a scene with a sky
and ground, colour words colour the noun they precede (or tint the sky), a time of day sets the
light, mood and style words change the whole picture, a number repeats a noun, and the prompt is
written on the image as a caption. Prompts naming only abstract shapes ("a red circle above blue
waves") draw those shapes on a gradient of their colours. An input image is edited: relit to
the asked time of day, tinted by free colour words, with the named figures drawn over it.
The same (prompt, seed, size, inputs) always gives the same pixels; the server picks a fresh
seed when a request gives none, so an unseeded repeat differs, as real models do. A film grain
drawn from the seed makes the payload as large as a real 1K image.
"""

from __future__ import annotations

import hashlib
import random
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageOps

from ._cache import RenderCache, encode_image
from ._scene import SCENERY, apply_mood, draw_figures, landscape, relight
from ._styles import STYLES, draw_shape, finish, flat
from ._vocab import ANIMALS, COLOURS, MOODS, NUMBERS, OBJECTS, SHAPES, STYLE_WORDS, TIMES, vocabulary

__all__ = ["COLOURS", "SHAPES", "STYLES", "RenderCache", "Scene", "backdrop", "encode_image",
           "fresh_seed", "parse_prompt", "render", "seed_for", "vocabulary"]

RGB = tuple[int, int, int]
_NOUNS = {**SHAPES, **ANIMALS, **OBJECTS}
_WORD = re.compile(r"[a-z]+|\d+")
_GROUND = {"mountain", "wave", "grid", "tree", "house"}


@dataclass(frozen=True)
class Shape:
    """One noun of the prompt: what to draw, how many, in which colour (None: its own)."""

    kind: str
    count: int
    colour: RGB | None


@dataclass(frozen=True)
class Scene:
    """What the prompt asks for, as the renderer understands it (see :func:`vocabulary`)."""

    colours: tuple[RGB, ...]
    colour_words: tuple[str, ...]
    shapes: tuple[Shape, ...] = field(default=())
    #: Colours not attached to a noun ("make it red"): they tint the sky or an input image.
    free_colours: tuple[RGB, ...] = field(default=())
    time: str | None = None
    mood: str | None = None
    style: str | None = None

    @property
    def scenery(self) -> bool:
        """True when the prompt names things or a time of day: drawn as a landscape."""
        return self.time is not None or any(s.kind in SCENERY for s in self.shapes)

    def describe(self) -> str:
        """A short English description, used for the text and reasoning replies."""
        parts = [f"{s.count} {s.kind}{'s' if s.count > 1 else ''}" for s in self.shapes]
        what = ", ".join(parts) if parts else "abstract shapes"
        palette = " and ".join(self.colour_words) if self.colour_words else "a seeded palette"
        extra = "".join(f", {label} {value}" for label, value in (
            ("at", self.time), ("mood", self.mood), ("style", self.style)) if value)
        return f"{what} in {palette}{extra}"


def _noun_details(words: list[str], i: int) -> tuple[int, RGB | None]:
    """The count and colour the (up to three) words before noun ``i`` give it."""
    word = words[i]
    count: int = 3 if word.endswith("s") and word not in ("fish", "grass") else 1
    count = 5 if word == "forest" else count
    colour = None
    for back in words[max(0, i - 3):i][::-1]:
        if back in _NOUNS:
            break
        if colour is None and back in COLOURS:
            colour = COLOURS[back]
        if back.isdigit():
            count = int(back)
            break
        if back in NUMBERS:
            count = NUMBERS[back]
            break
    return max(1, min(count, 24)), colour


def parse_prompt(prompt: str) -> Scene:
    """Find colours, nouns (with the counts and colours before them), time, mood and style."""
    words = _WORD.findall(prompt.lower())
    colours: list[RGB] = []
    names: list[str] = []
    shapes: list[Shape] = []
    attached: set[int] = set()
    for i, word in enumerate(words):
        if word in COLOURS and word not in names:
            names.append(word)
            colours.append(COLOURS[word])
        kind = _NOUNS.get(word)
        if kind is None:
            continue
        count, colour = _noun_details(words, i)
        attached.update(j for j in range(max(0, i - 3), i) if words[j] in COLOURS
                        and COLOURS[words[j]] == colour)
        shapes.append(Shape(kind, count, colour))
    free = tuple(dict.fromkeys(COLOURS[w] for j, w in enumerate(words)
                               if w in COLOURS and j not in attached))

    def first(table: dict[str, str]) -> str | None:
        return next((table[w] for w in words if w in table), None)

    return Scene(tuple(colours), tuple(names), tuple(shapes[:12]), free, first(TIMES),
                 first(MOODS), first(STYLE_WORDS))


def fresh_seed() -> int:
    """A new random seed for a request that gives none: a repeat is a new picture, as online."""
    return secrets.randbelow(2 ** 31)


def seed_for(prompt: str, seed: int | None) -> int:
    """The effective seed: the given one, or one derived from the prompt (still deterministic)."""
    if seed is not None:
        return seed
    return int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:4], "big")


def _rng(*parts: object) -> random.Random:
    key = "\x1f".join(map(str, parts)).encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def _style_rng(prompt: str, seed: int, size: tuple[int, int], variant: int,
               style: str) -> random.Random:
    """The layout's random source; each style composes the scene its own way."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; use one of {', '.join(STYLES)}")
    return _rng(prompt, seed, size, variant) if style == "photo" else \
        _rng(prompt, seed, size, variant, style)


def backdrop(prompt: str, seed: int | None, size: tuple[int, int], variant: int = 0,
             style: str = "photo") -> Image.Image:
    """The background ``render`` draws the figures on (for transparent backgrounds)."""
    scene = parse_prompt(prompt)
    style = scene.style or style
    rng = _style_rng(prompt, seed_for(prompt, seed), size, variant, style)
    return finish(_background(scene, rng, size, style), style)


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t),
            round(a[2] + (b[2] - a[2]) * t))


def _gradient(size: tuple[int, int], top: RGB, bottom: RGB) -> Image.Image:
    strip = Image.new("RGB", (1, 256))
    strip.putdata([_mix(top, bottom, y / 255) for y in range(256)])
    return strip.resize(size, Image.Resampling.BILINEAR)


def _background(scene: Scene, rng: random.Random, size: tuple[int, int],
                style: str = "photo") -> Image.Image:
    if scene.scenery:
        return landscape([s.kind for s in scene.shapes], scene.time or "day", scene.free_colours,
                         size)
    if scene.colours:
        top = scene.colours[-1] if len(scene.colours) > 1 else scene.colours[0]
        bottom = _mix(scene.colours[0], (0, 0, 0), 0.35) if len(scene.colours) == 1 \
            else scene.colours[0]
        top = _mix(top, (255, 255, 255), 0.25)
    else:
        top = (rng.randrange(40, 220), rng.randrange(40, 220), rng.randrange(40, 220))
        bottom = (rng.randrange(20, 160), rng.randrange(20, 160), rng.randrange(20, 160))
    return flat(top, bottom, size) if style == "poster" else _gradient(size, top, bottom)


def _place(kind: str, index: int, count: int, rng: random.Random,
           size: tuple[int, int]) -> tuple[float, float, float, float]:
    width, height = size
    unit = min(width, height)
    if kind in ("wave", "grid"):
        top = height * (0.62 + 0.08 * index / max(count, 1))
        return (0.0, top, float(width), float(height))
    if kind == "mountain":
        span = width / max(count, 1) * 1.5
        x = width * (index + 0.5) / max(count, 1) + rng.uniform(-0.05, 0.05) * width
        return (x - span / 2, height * rng.uniform(0.3, 0.45), x + span / 2, height * 0.8)
    r = unit * (0.16 if count == 1 else max(0.05, 0.3 / count ** 0.5))
    if kind in ("tree", "house"):
        x = width * (index + 0.5) / count + rng.uniform(-0.3, 0.3) * width / count
        ground = height * 0.72
        return (x - r, ground - 2.2 * r, x + r, ground)
    band = (0.08, 0.4) if kind in ("sun", "moon", "star") else (0.15, 0.6)
    x = width * (index + 0.5) / count + rng.uniform(-0.25, 0.25) * width / count
    y = height * rng.uniform(*band)
    return (x - r, y - r, x + r, y + r)


def _font(px: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=px)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def _caption(image: Image.Image, text: str, solid: bool = False) -> None:
    """Write ``text`` in a dark band at the bottom (``solid`` hides an edited input's caption)."""
    width, height = image.size
    px = max(10, round(min(width, height) / 40))
    band = round(px * 1.8)
    shade = Image.new("RGB", (width, band), (0, 0, 0))
    region = (0, height - band, width, height)
    image.paste(shade if solid else Image.blend(image.crop(region), shade, 0.55), region)
    draw = ImageDraw.Draw(image)
    font = _font(px)
    limit = max(8, round(width / (px * 0.55)))
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    draw.text((px // 2, height - band + (band - px) // 2), shown, fill=(255, 255, 255),
              font=font)


def _grain(image: Image.Image, seed: int) -> Image.Image:
    """Seeded film grain: deterministic (unlike ``Image.effect_noise``) and cheap."""
    noise = Image.frombytes("RGB", image.size, random.Random(seed).randbytes(
        image.size[0] * image.size[1] * 3)).point(lambda v: v // 32)
    return ImageChops.add(image, noise)


def _from_input(base: Image.Image, scene: Scene, size: tuple[int, int]) -> Image.Image:
    """The input picture, moved to the asked time of day and tinted by the free colour words."""
    fitted = ImageOps.fit(base.convert("RGB"), size, Image.Resampling.BILINEAR)
    if scene.time is not None:
        fitted = relight(fitted, scene.time)
    if not scene.free_colours:
        return fitted
    tint = Image.new("RGB", size, scene.free_colours[0])
    return Image.blend(fitted, tint, 0.35)


def _figures(scene: Scene) -> list[tuple[str, RGB | None]]:
    """Each figure to draw, once per count ("three birds"); sea words only make the ground sea."""
    return [(s.kind, s.colour) for s in scene.shapes if s.kind != "wave"
            for _ in range(min(s.count, 8))]


def _abstract(image: Image.Image, scene: Scene, rng: random.Random, size: tuple[int, int],
              style: str, edit: bool) -> None:
    """Shapes on a gradient, for prompts that name no scenery ("a red circle above blue waves")."""
    draw = ImageDraw.Draw(image)
    palette = list(scene.colours) or [(rng.randrange(256), rng.randrange(256),
                                       rng.randrange(256)) for _ in range(3)]
    shapes = list(scene.shapes)
    if not shapes and not edit:
        kinds = ("circle", "square", "triangle", "star")
        shapes = [Shape(rng.choice(kinds), 1, None) for _ in range(rng.randint(2, 4))]
    shapes.sort(key=lambda s: s.kind not in _GROUND or s.kind in ("tree", "house"))
    for n, shape in enumerate(shapes):
        for i in range(shape.count):
            colour = shape.colour or palette[(n + i) % len(palette)]
            if shape.colour is None and palette == list(scene.colours) and len(palette) > 1:
                colour = palette[(n + i + 1) % len(palette)]
            box = _place(shape.kind, i, shape.count, rng, size)
            draw_shape(draw, shape.kind, colour, box, rng, style)


def render(
    prompt: str,
    seed: int | None,
    size: tuple[int, int],
    *,
    variant: int = 0,
    inputs: Sequence[Image.Image] = (),
    grain: bool = True,
    style: str = "photo",
) -> Image.Image:
    """Draw ``prompt`` at ``size`` in ``style`` (a style word in the prompt wins).

    With ``inputs``, edit the first input: relight it, tint it, draw the named figures over it.
    """
    scene = parse_prompt(prompt)
    style = scene.style or style
    base_seed = seed_for(prompt, seed)
    rng = _style_rng(prompt, base_seed, size, variant, style)
    image = _from_input(inputs[0], scene, size) if inputs else \
        _background(scene, rng, size, style)
    if scene.scenery:
        image = draw_figures(image, _figures(scene), scene.time or (None if inputs else "day"),
                             rng, style)
    else:
        _abstract(image, scene, rng, size, style, bool(inputs))
    if scene.mood is not None:
        image = apply_mood(image, scene.mood, rng)
    image = finish(image, style)
    _caption(image, prompt.strip() or "(empty prompt)", solid=bool(inputs))
    if grain and style != "poster" and size[0] * size[1] <= 2048 * 2048:  # 4K: smooth, sane size
        image = _grain(image, base_seed * 31 + variant)
    return image
