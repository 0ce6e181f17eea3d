"""The one gate image bytes pass before a page or a decoder sees them: raster only, pixels capped.

Why: a Pillow-decodable SVG polyglot was shown as ``image/svg+xml`` and its blob URL ran script in
the page's origin, and a 20 KB 13000x13000 PNG took 1.6 GB to decode for a contact sheet. So a page
gets only PNG, JPEG, WebP or GIF, chosen by the bytes' magic (never by the declared mime); anything
else is rasterised to PNG here or refused. Every decode the kit does goes through :func:`open_image`,
which refuses images over :data:`MAX_PIXELS` before decoding a single pixel.
"""

from __future__ import annotations

import io
from typing import IO

from PIL import Image

from .._exceptions import ImageDecodeError
from .._wire.dataurl import sniff_mime

__all__ = ["MAX_PIXELS", "RASTER", "draft_scale", "image_size", "open_image", "page_image",
           "safe_to_link"]

#: Largest image (width x height) the kit decodes; raise it (module attribute) for huge images.
MAX_PIXELS = 40_000_000

#: Mimes a page may be handed as an image (checked against the bytes' magic).
RASTER = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})


def open_image(source: bytes | str | IO[bytes], *, index: int = 0, draft: int | None = None,
               max_pixels: int | None = None) -> Image.Image:
    """Decode an image with a pixel cap; ``draft`` asks JPEG for a reduced decode first.

    Raises :class:`ImageDecodeError` for undecodable data and for images over the cap.
    """
    limit = MAX_PIXELS if max_pixels is None else max_pixels
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        opened = Image.open(stream)
    except Exception as exc:  # Pillow raises many types for bad data
        raise ImageDecodeError(f"image {index}: cannot decode: {exc}", index=index) from None
    width, height = opened.size
    if width * height > limit:
        opened.close()
        raise ImageDecodeError(
            f"image {index}: {width}x{height} is {width * height} pixels, over the limit of "
            f"{limit} (jupyter_imagegen._results.safeimage.MAX_PIXELS); raise it to decode this image",
            index=index)
    try:
        if draft is not None:
            opened.draft("RGB", (draft, draft))
        opened.load()
    except Exception as exc:
        raise ImageDecodeError(f"image {index}: cannot decode: {exc}", index=index) from None
    return opened


def image_size(data: bytes, *, index: int = 0) -> tuple[int, int]:
    """``(width, height)`` from the image's header, without decoding a single pixel.

    Sizes, captions and budgets need no pixels: asking a 6000x6000 image its size used to
    decode it whole (108 MB for each of an answer's sixteen).
    """
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
    except Exception as exc:  # Pillow raises many types for bad data
        raise ImageDecodeError(f"image {index}: cannot decode: {exc}", index=index) from None
    return int(width), int(height)


def draft_scale(data: bytes, size: tuple[int, int], long_side: int) -> int:
    """How much smaller than ``size`` a JPEG decodes when asked for ``long_side`` (8, 4, 2 or 1).

    JPEG decodes at 1/2, 1/4 or 1/8 scale directly (``Image.draft``), as Pillow chooses it
    here; other formats decode whole.
    """
    if sniff_mime(data) != "image/jpeg" or long_side <= 0:
        return 1
    fits = min(size[0] // long_side, size[1] // long_side)
    return next(scale for scale in (8, 4, 2, 1) if scale <= max(1, fits))


def safe_to_link(data: bytes) -> bool:
    """Whether ``data`` is a raster image a page may open as itself (not SVG, HTML, ...)."""
    return sniff_mime(data) in RASTER


def page_image(data: bytes, mime: str = "", *, index: int = 0) -> tuple[bytes, str]:
    """``(bytes, mime)`` safe to put in a page: raster bytes with the mime their magic says.

    Anything else (SVG, a polyglot, unknown bytes) is rasterised to PNG, pixel-capped; what
    cannot be rasterised raises :class:`ImageDecodeError`. ``mime`` (the declared one) is ignored.
    """
    sniffed = sniff_mime(data)
    if sniffed in RASTER:
        return data, sniffed
    image = open_image(data, index=index)
    buffer = io.BytesIO()
    if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        image = image.convert("RGBA")
    image.save(buffer, format="PNG")
    return buffer.getvalue(), "image/png"
