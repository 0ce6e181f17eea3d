"""Notebook display: result outputs, the live status line and small tables.

Plain PNG/JPEG outputs survive every front end (exported HTML, GitHub, nbviewer, PDF), so a
single image is shown as one plain image output (a preview sized for reading, see ``_preview``)
plus an escaped caption. Several images become one HTML grid of thumbnails, stored once, with a
text fallback that lists them; the originals stay in the result.
Provenance goes into the output metadata under ``jupyter_imagegen``; no credential ever does.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from ._html import caption_html, grid_html
from ._preview import options, preview, thumbnail

if TYPE_CHECKING:
    from IPython.display import DisplayHandle

# Results and batches are above this module's imports (they import it): duck-typed here, so the
# display layer depends on nothing that depends on it.
GeneratedImage = Any
ImageResult = Any
BatchResult = Any

__all__ = ["Bundle", "mark_shown", "result_outputs", "show_result"]

Bundle = tuple[dict[str, Any], dict[str, Any]]
META_KEY = "jupyter_imagegen"

# Results the magic already displayed in the running cell: the displayhook must not show them twice.
_shown: weakref.WeakSet[ImageResult] = weakref.WeakSet()


def mark_shown(result: ImageResult) -> None:
    """Record that the magic displayed ``result`` itself.

    Returning it as the cell value (which makes it ``_`` and ``Out[n]``) then does not show it twice.
    """
    _shown.add(result)


def forget_shown(*_: Any) -> None:
    """Forget the marks (a ``post_run_cell`` hook: they only ever apply to the running cell)."""
    _shown.clear()


def image_bundle(g: GeneratedImage, provenance: dict[str, Any]) -> Bundle:
    """One image as a plain output: its preview (or the original at ``full``), plus provenance.

    The shown width is capped (``display_options(width=...)``), so a 1K image takes no more
    than 512 CSS pixels; the original stays in the result (``result.save()``).
    """
    opts = options()
    p = preview(g, opts=opts)
    width, height = g.size
    shown = p.width if opts.width is None else min(p.width, opts.width)
    data = {p.mime: p.data, "text/plain": f"<image {g.index}: {width}x{height}>"}
    meta = {p.mime: {"width": shown, "height": round(p.height * shown / max(1, p.width))},
            META_KEY: {**provenance, "image_index": g.index, "original": [width, height, g.mime]}}
    return data, meta


def caption_bundle(text: str) -> Bundle:
    """An escaped caption line (HTML and plain text)."""
    return {"text/html": caption_html(text), "text/plain": text}, {}


def grid_bundle(result: ImageResult, caption: str, *, columns: int = 2, width: int = 320) -> Bundle:
    """Several images as one output: an HTML grid of thumbnails (stored once) and plain text.

    No second image copy: front ends without HTML show the text, which names every image.
    """
    thumbs = [thumbnail(g) for g in result.generated]
    images = [(t.data, t.mime, f"image {g.index}: {result.prompt[:100]}")
              for t, g in zip(thumbs, result.generated, strict=True)]
    listing = [{"index": g.index, "mime": g.mime, "width": g.size[0], "height": g.size[1]}
               for g in result.generated]
    text = "\n".join([caption, *(f"  image {d['index']}: {d['width']}x{d['height']}" for d in listing)])
    data = {"text/html": grid_html(images, caption, columns=columns, width=width), "text/plain": text}
    return data, {META_KEY: {**result.metadata(), "images": listing}}


def batch_html(batch: BatchResult, *, columns: int = 4, width: int = 256) -> str:
    """A batch as one grid: every image once as a thumbnail, a short label under each."""
    images, labels = [], []
    for item in batch.items:
        for g in item.result.generated if item.result is not None else ():
            t = thumbnail(g)
            images.append((t.data, t.mime, f"{item.index}: {item.prompt[:100]}"))
            labels.append(f"{item.index}: {item.prompt[:60]}")
    errors = "".join(f'<div style="font-size:0.85em">{escape(str(item.index))}: '
                     f"{escape(_first_line(item.error))}</div>" for item in batch.errors)
    grid = grid_html(images, batch.summary(), columns=columns, width=width, labels=labels) if images \
        else caption_html(batch.summary())
    return grid + errors


def _first_line(error: BaseException | None) -> str:
    text = str(error).splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


def result_outputs(
    result: ImageResult, *, notes: Sequence[str] = (), columns: int = 2, width: int = 320
) -> list[Bundle]:
    """The outputs that show ``result``: one plain image + caption, or one grid bundle."""
    caption = " · ".join([result.caption(), *notes])
    if len(result.generated) == 1:
        return [image_bundle(result.generated[0], result.metadata()), caption_bundle(caption)]
    if not result.generated:
        return [caption_bundle(caption)]
    return [grid_bundle(result, caption, columns=columns, width=width)]


def publish(bundle: Bundle, *, display_id: bool = False) -> DisplayHandle | None:
    """Display one raw bundle with its metadata (IPython imported only when displaying)."""
    from IPython.display import display

    handle: DisplayHandle | None = display(  # type: ignore[no-untyped-call]
        bundle[0], raw=True, metadata=bundle[1], display_id=display_id or None)
    return handle


def show_result(result: ImageResult, *, columns: int = 2, width: int = 320) -> None:
    """Display ``result`` (unless the magic already did in this cell)."""
    if result in _shown:
        _shown.discard(result)
        return
    for bundle in result_outputs(result, columns=columns, width=width):
        publish(bundle)
