"""Previews: the copy of an image a notebook stores, encoded for the size it is shown at.

A saved notebook keeps every output forever, so a 1K PNG shown at 512 CSS pixels wastes megabytes.
Displays therefore embed a preview (long side ``preview`` pixels, JPEG at good quality or PNG when
that is smaller); the original bytes stay in the result, in ``save()`` and in the store.
``format="full"`` embeds the originals instead. Every image is shown through an HTML ``<img>``
(with alt text, scaled to the output's width), so ``format="webp"`` gives WebP everywhere a
browser renders the notebook; ``auto`` keeps single images to PNG or JPEG and lets grids use WebP
when it is smaller.
"""

from __future__ import annotations

import io
import weakref
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from PIL import Image

from .._exceptions import InvalidInputError
from .._wire.dataurl import sniff_mime
from .safeimage import page_image

if TYPE_CHECKING:  # results are shown through this module: a type-only back-reference
    from .result import GeneratedImage

__all__ = ["DisplayOptions", "Preview", "display_options", "options", "pil_preview", "preview",
           "thumbnail"]

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


_current = DisplayOptions()


def options() -> DisplayOptions:
    """The display options in force."""
    return _current


def display_options(**changes: object) -> _Restore:
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
    unknown = set(changes) - set(DisplayOptions.__dataclass_fields__)
    if unknown:
        raise InvalidInputError(f"unknown display option(s): {', '.join(sorted(unknown))}; "
                                f"valid: {', '.join(DisplayOptions.__dataclass_fields__)}")
    old = _current
    _current = replace(_current, **changes)  # type: ignore[arg-type]
    return _Restore(old)


class _Restore:
    def __init__(self, old: DisplayOptions) -> None:
        self.old = old

    def __enter__(self) -> DisplayOptions:
        return _current

    def __exit__(self, *exc: object) -> None:
        global _current
        _current = self.old

    def __repr__(self) -> str:
        return repr(_current)


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


def _make(g: GeneratedImage, long_side: int, fmt: str, quality: int, html: bool) -> Preview:
    width, height = g.size
    if fmt == "full":  # the original, if the page may have it as it is (raster, by magic)
        data, mime = page_image(g.data, g.mime, index=g.index)
        return Preview(data, mime, width, height)
    sniffed = sniff_mime(g.data)  # what the bytes are, not what they were declared to be
    original = (g.data, sniffed) if sniffed in ("image/png", "image/jpeg") else None
    return _shrink(g.image, long_side, fmt, quality, html, original)


def _shrink(image: Image.Image, long_side: int, fmt: str, quality: int, html: bool,
            original: tuple[bytes, str] | None = None) -> Preview:
    """``image`` at most ``long_side`` pixels, in the smallest allowed format (or ``original``)."""
    width, height = image.size
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


def preview(g: GeneratedImage, *, html: bool = False, opts: DisplayOptions | None = None) -> Preview:
    """The preview of ``g`` for a single-image display (cached per image and options)."""
    o = opts or _current
    return _cached(g, o.preview, o.format, o.quality, html)


def thumbnail(g: GeneratedImage, *, opts: DisplayOptions | None = None) -> Preview:
    """The thumbnail of ``g`` for a grid cell (always inside HTML)."""
    o = opts or _current
    return _cached(g, o.thumbnail, o.format, o.quality, True)


def _cached(g: GeneratedImage, size: int, fmt: str, quality: int, html: bool) -> Preview:
    key = (size, fmt, quality, html)
    per_image = _cache.setdefault(g, {})
    if key not in per_image:
        per_image[key] = _make(g, size, fmt, quality, html)
    return per_image[key]
