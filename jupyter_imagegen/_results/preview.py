"""Previews: the copy of an image a notebook stores, encoded for the size it is shown at.

A saved notebook keeps every output forever, so a 1K PNG shown at 512 CSS pixels wastes megabytes.
Displays therefore embed a preview (long side ``preview`` pixels, JPEG at good quality or PNG when
that is smaller); the original bytes stay in the result, in ``save()`` and in the store.
``format="full"`` embeds the originals instead. Every image is shown through an HTML ``<img>``
(with alt text, scaled to the output's width), so ``format="webp"`` gives WebP everywhere a
browser renders the notebook; ``auto`` keeps single images to PNG or JPEG and lets grids use WebP
when it is smaller.

Previews decode no more than they need, and no display decodes without bound: each is made from
a fresh decode that is dropped once the small copy exists (a JPEG decodes at 1/2, 1/4 or 1/8 scale
straight away), the image's size comes from its header, and one display (a result, a grid, a
batch, the widget's newest result) spends at most ``max_pixels`` decoded pixels on previews
(:class:`DisplayBudget`); what is over it is shown as a note saying so. Sixteen 6000x6000 images
in one answer used to take 2.4 GB and 12.7 s to preview; each stayed decoded, twice.
"""

from __future__ import annotations

import io
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

from PIL import Image

from .._exceptions import InvalidInputError, MemoryLimitError
from .._wire.dataurl import sniff_mime
from .safeimage import draft_scale, open_image, page_image

if TYPE_CHECKING:  # results are shown through this module: a type-only back-reference
    from .result import GeneratedImage

__all__ = ["DisplayBudget", "DisplayOptions", "Preview", "Restore", "display_options", "options",
           "pil_preview", "preview", "small_image", "thumbnail"]

T = TypeVar("T")
Format = Literal["auto", "webp", "jpeg", "png", "full"]
FORMATS = ("auto", "webp", "jpeg", "png", "full")


@dataclass(frozen=True)
class DisplayOptions:
    """How results are embedded in notebooks."""

    #: Long side in pixels of the stored preview of a single image.
    preview: int = 768
    #: ``auto`` (smallest of JPEG/PNG; WebP too inside grids), ``webp``, ``jpeg``, ``png`` or ``full``.
    format: Format = "auto"
    #: Width in CSS pixels a single image is shown at (at most); ``None`` shows the preview's own width.
    width: int | None = 512
    #: Long side in pixels of the thumbnails stored in grids (batches, comparisons).
    thumbnail: int = 384
    #: JPEG / WebP quality.
    quality: int = 85
    #: Decoded pixels one display may spend on previews (``None``: no bound); over it, a note.
    max_pixels: int | None = 160_000_000


_current = DisplayOptions()


def options() -> DisplayOptions:
    """The display options in force."""
    return _current


def display_options(**changes: object) -> Restore[DisplayOptions]:
    """Change how results are embedded; returns an object that restores the old options.

    ``ig.display_options(preview=1024, format="webp")``; ``format="full"`` embeds originals.
    Used as a context manager the change lasts for the ``with`` block only.
    """
    global _current
    fmt = changes.get("format", _current.format)
    if fmt not in FORMATS:
        raise InvalidInputError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    for name in ("preview", "thumbnail"):
        value = changes.get(name, getattr(_current, name))
        if not isinstance(value, int) or value < 16:
            raise InvalidInputError(f"{name} must be a number of pixels >= 16, not {value!r}")
    budget = changes.get("max_pixels", _current.max_pixels)
    if budget is not None and (not isinstance(budget, int) or budget < 1):
        raise InvalidInputError(f"max_pixels must be a number of pixels >= 1 or None, not {budget!r}")
    unknown = set(changes) - set(DisplayOptions.__dataclass_fields__)
    if unknown:
        raise InvalidInputError(f"unknown display option(s): {', '.join(sorted(unknown))}; "
                                f"valid: {', '.join(DisplayOptions.__dataclass_fields__)}")
    old = _current
    _current = replace(_current, **changes)  # type: ignore[arg-type]
    return Restore(old, options, _put)


class Restore(Generic[T]):
    """What a module-wide options setter returns: the new options, and the old ones put back.

    ``display_options(...)`` and ``save_options(...)`` change their module's options at once (a
    plain call) or for a ``with`` block; ``current`` reads the options now, ``put`` sets them.
    """

    def __init__(self, old: T, current: Callable[[], T], put: Callable[[T], None]) -> None:
        self.old, self._current, self._put = old, current, put

    def __enter__(self) -> T:
        return self._current()

    def __exit__(self, *exc: object) -> None:
        self._put(self.old)

    def __repr__(self) -> str:
        return repr(self._current())


def _put(options: DisplayOptions) -> None:
    global _current
    _current = options


@dataclass(frozen=True)
class Preview:
    """Encoded preview bytes, their mime and pixel size."""

    data: bytes
    mime: str
    width: int
    height: int


_cache: weakref.WeakKeyDictionary[GeneratedImage, dict[tuple[int, str, int, bool], Preview]] = (
    weakref.WeakKeyDictionary())


def _encode(image: Image.Image, fmt: str, quality: int) -> bytes:
    buffer = io.BytesIO()
    if fmt == "png":
        image.save(buffer, "PNG", optimize=True)
    elif fmt == "webp":
        image.save(buffer, "WEBP", quality=quality, method=4)
    else:
        rgb = image
        if image.mode in ("RGBA", "LA", "P"):
            rgba = image.convert("RGBA")
            rgb = Image.new("RGB", rgba.size, "white")
            rgb.paste(rgba, mask=rgba.getchannel("A"))
        elif image.mode != "RGB":
            rgb = image.convert("RGB")
        rgb.save(buffer, "JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


class DisplayBudget:
    """The decoded pixels one display may still spend on previews (``display_options(max_pixels)``).

    A preview already made (cached) costs nothing; a JPEG costs what it decodes at its draft scale.
    """

    def __init__(self, opts: DisplayOptions | None = None) -> None:
        self.limit = (opts or _current).max_pixels
        self.spent = 0

    def charge(self, g: GeneratedImage, long_side: int) -> None:
        """Count the decode a preview of ``g`` at ``long_side`` needs, or raise when over."""
        width, height = g.size
        scale = draft_scale(g.data, (width, height), long_side) if g._pil is None else 1
        pixels = -(-width // scale) * -(-height // scale)
        if self.limit is not None and self.spent + pixels > self.limit:
            raise MemoryLimitError(
                f"image {g.index} not previewed: this display has decoded {self.spent:,} pixels "
                f"and this image needs {pixels:,} more, over its {self.limit:,}",
                cap="display max_pixels", limit=self.limit, needed=self.spent + pixels,
                hint="Raise it with ig.display_options(max_pixels=...) (None lifts it); the "
                     "image itself is whole in the result (result.save()).")
        self.spent += pixels


def small_image(g: GeneratedImage, long_side: int) -> Image.Image:
    """``g`` no larger than ``long_side``, decoded no more than needed and never kept whole.

    An image already decoded (``g.image`` was read) is shrunk from that; otherwise a fresh,
    pixel-capped decode (JPEG at its draft scale) is shrunk in place and the full one dropped.
    """
    fresh = g._pil is None  # a fresh decode is not kept in g
    small = open_image(g.data, index=g.index, draft=long_side) if fresh else g.image.copy()
    if small.mode not in ("RGB", "RGBA", "L", "LA"):
        small = small.convert("RGBA" if "transparency" in small.info or small.mode == "P" else "RGB")
    small.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    return small


def _make(g: GeneratedImage, long_side: int, fmt: str, quality: int, html: bool) -> Preview:
    width, height = g.size
    if fmt == "full":  # the original, if the page may have it as it is (raster, by magic)
        data, mime = page_image(g.data, g.mime, index=g.index)
        return Preview(data, mime, width, height)
    sniffed = sniff_mime(g.data)  # what the bytes are, not what they were declared to be
    original = (g.data, sniffed) if sniffed in ("image/png", "image/jpeg") else None
    return _shrink(small_image(g, long_side), long_side, fmt, quality, html, original, (width, height))


def _shrink(image: Image.Image, long_side: int, fmt: str, quality: int, html: bool,
            original: tuple[bytes, str] | None = None,
            full: tuple[int, int] | None = None) -> Preview:
    """``image`` at most ``long_side`` pixels, in the smallest allowed format (or ``original``).

    ``full`` is the original's size when ``image`` is already a reduced decode of it.
    """
    width, height = full or image.size
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if "transparency" in image.info or image.mode == "P" else "RGB")
    small = image.copy()
    small.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    if fmt == "auto":
        kinds = ["jpeg", "png", *(["webp"] if html else [])]
        if small.mode in ("RGBA", "LA") and small.getchannel("A").getextrema()[0] != 255:
            kinds.remove("jpeg")  # JPEG would lose the transparency
    else:
        kinds = [fmt]  # asked for: single images are HTML <img> outputs too, so WebP shows
    encoded = [(_encode(small, kind, quality), f"image/{kind}") for kind in kinds]
    if original is not None and small.size == (width, height):
        encoded.append(original)  # the original is already small: keep it if smallest
    data, mime = min(encoded, key=lambda pair: len(pair[0]))
    return Preview(data, mime, small.width, small.height)


def pil_preview(image: Image.Image, *, opts: DisplayOptions | None = None) -> Preview:
    """A preview of a PIL image as it is now (it may have been drawn on since it was decoded)."""
    o = opts or _current
    if o.format == "full":
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        return Preview(buffer.getvalue(), "image/png", image.width, image.height)
    return _shrink(image, o.preview, o.format, o.quality, False)


def preview(g: GeneratedImage, *, html: bool = False, opts: DisplayOptions | None = None,
            budget: DisplayBudget | None = None) -> Preview:
    """The preview of ``g`` for a single-image display (cached per image and options).

    ``budget`` is the display's (:class:`DisplayBudget`): a preview it cannot afford raises
    :class:`MemoryLimitError` before decoding anything.
    """
    o = opts or _current
    return _cached(g, o.preview, o.format, o.quality, html, budget)


def thumbnail(g: GeneratedImage, *, opts: DisplayOptions | None = None,
              budget: DisplayBudget | None = None) -> Preview:
    """The thumbnail of ``g`` for a grid cell (always inside HTML); ``budget`` as for previews."""
    o = opts or _current
    return _cached(g, o.thumbnail, o.format, o.quality, True, budget)


def _cached(g: GeneratedImage, size: int, fmt: str, quality: int, html: bool,
            budget: DisplayBudget | None) -> Preview:
    key = (size, fmt, quality, html)
    per_image = _cache.setdefault(g, {})
    if key not in per_image:
        if budget is not None and fmt != "full":
            budget.charge(g, size)
        per_image[key] = _make(g, size, fmt, quality, html)
    return per_image[key]
