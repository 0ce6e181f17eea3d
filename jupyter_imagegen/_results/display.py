"""Notebook display: result outputs, the live status line and small tables.

A single image is shown as one ``<img>`` output (a preview sized for reading, see ``preview``,
with alt text, scaled down to narrow outputs) plus an escaped caption: HTML with embedded raster
data renders in JupyterLab, Notebook 7, nbconvert's HTML and VS Code, trusted or not.
Several images become one HTML grid of thumbnails, stored once, with a
text fallback that lists them; the originals stay in the result.
Provenance goes into the output metadata under ``jupyter_imagegen``; no credential ever does.
"""

from __future__ import annotations

import base64
import weakref
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from .._exceptions import ImageDecodeError, MemoryLimitError, scrub
from .preview import DisplayBudget, Preview, options, pil_preview, preview, thumbnail
from .safeimage import page_image

__all__ = [
    "Bundle", "alt_text", "caption_html", "cell_image", "grid_html", "groups_html", "img_html",
    "light_display", "mark_shown", "pil_bundle", "result_outputs", "show_result", "status_html",
    "table_html",
]


# -- HTML builders ---------------------------------------------------------------------------------

# Pure HTML builders for captions, grids, the live status line and tables.
#
# Everything that came from a user or a model (prompts, captions, model text, ids) is escaped here,
# in one place, so no front end can be fed markup by a prompt or a model reply.

_MUTED = "font-size:0.85em;opacity:0.8;white-space:pre-wrap"
_FIGURE = (
    '<figure class="jupyter-imagegen-grid" style="margin:0 0 0.5em 0">'
    '<div style="display:grid;grid-template-columns:repeat({columns},minmax(0,{width}px));gap:4px">'
    "{images}</div>"
    '<figcaption style="' + _MUTED + '">{caption}</figcaption>'
    "</figure>"
)
_IMG = ('<img src="data:{mime};base64,{b64}" alt="{alt}" title="{alt}" '
        'style="width:100%;height:auto;display:block">')
_CELL = ('<div style="min-width:0">{img}<div style="' + _MUTED + ';overflow-wrap:anywhere">'
         "{label}</div></div>")


def caption_html(caption: str) -> str:
    """A caption line, escaped, in a small muted ``<div>``."""
    return f'<div class="jupyter-imagegen-caption" style="{_MUTED}">{escape(caption)}</div>'


def img_html(data: bytes, mime: str, alt: str) -> str:
    """One embedded image that fills its cell (escaped alt text, base64 data URL).

    Only raster bytes (by magic, never the declared type) reach the page; what cannot be shown
    safely becomes an escaped note, and so does an image a display's budget left out (no bytes:
    ``alt`` says why, see :func:`cell_image`).
    """
    if not data:
        return f'<div style="{_MUTED}">({escape(alt)})</div>'
    try:
        shown, kind = page_image(data, mime)
    except ImageDecodeError:
        return f'<div style="{_MUTED}">(cannot show this image: {escape(alt)})</div>'
    return _IMG.format(mime=kind, b64=base64.b64encode(shown).decode("ascii"), alt=escape(alt))


def grid_html(
    images: Sequence[tuple[bytes, str, str]], caption: str, *, columns: int = 2, width: int = 320,
    labels: Sequence[str] = (),
) -> str:
    """A figure with the ``(data, mime, alt)`` images in a grid of ``columns`` and an escaped caption.

    The images are the thumbnails the caller encoded for a cell of ``width`` CSS pixels; every
    column has the same width. ``labels`` puts a short escaped line under each image.
    """
    per_row = max(1, min(columns, len(images)))
    tags = "".join(
        _CELL.format(img=img_html(data, mime, alt), label=escape(labels[i])) if i < len(labels)
        else img_html(data, mime, alt)
        for i, (data, mime, alt) in enumerate(images)
    )
    return _FIGURE.format(images=tags, caption=escape(caption), columns=per_row, width=width)


def status_html(text: str, *, done: bool = False) -> str:
    """The live status line: escaped text in a muted monospace line."""
    # A bullet, not the hourglass emoji (U+23F3), which some fonts draw as an empty box.
    icon = "" if done else '<span aria-hidden="true">&#8226; </span>'
    return (f'<div class="jupyter-imagegen-status" style="{_MUTED};font-family:monospace">'
            f"{icon}{escape(text)}</div>")


def table_html(headers: Sequence[str], rows: Sequence[Sequence[str]], caption: str = "") -> str:
    """A plain left-aligned table with an optional caption; every cell is escaped."""
    head = "".join(f'<th style="text-align:left">{escape(h)}</th>' for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td style="text-align:left">{escape(c)}</td>' for c in row) + "</tr>"
        for row in rows
    )
    cap = f'<caption style="text-align:left;{_MUTED}">{escape(caption)}</caption>' if caption else ""
    return (f'<table class="jupyter-imagegen-table">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def groups_html(groups: Sequence[tuple[str, Sequence[tuple[str, str]]]], caption: str, *,
                opened: bool = False) -> str:
    """Collapsible groups of ``(name, detail)`` lines, every text escaped.

    A long listing (fifty models) stays a few lines tall in a saved notebook: one closed
    ``<details>`` per group, its count in the summary. Lines wrap between words, so a narrow
    output shows the same text rather than a table wider than the page.
    """
    parts = [f'<div class="jupyter-imagegen-groups" style="max-width:60em">'
             f'<div style="{_MUTED}">{escape(caption)}</div>']
    for title, lines in groups:
        items = "".join(
            f'<li style="margin:2px 0;overflow-wrap:anywhere"><code>{escape(name)}</code> '
            f'<span style="{_MUTED}">{escape(detail)}</span></li>' for name, detail in lines)
        parts.append(f"<details{' open' if opened else ''} style=\"margin:2px 0\"><summary>"
                     f"{escape(title)} ({len(lines)})</summary>"
                     f'<ul style="list-style:none;margin:0 0 4px 1em;padding:0">{items}</ul>'
                     "</details>")
    parts.append("</div>")
    return "".join(parts)


# -- notebook outputs ------------------------------------------------------------------------------

if TYPE_CHECKING:  # results import this module when shown: a type-only back-reference
    from IPython.display import DisplayHandle
    from PIL.Image import Image as PILImage

    from .result import GeneratedImage, ImageResult


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


def alt_text(prompt: str, model: str = "") -> str:
    """What a screen reader says for a generated image: that it is one, by which model, of what."""
    about = prompt if len(prompt) <= 200 else prompt[:197] + "..."
    return f"image generated by {model}: {about}" if model else f"generated image: {about}"


def cell_image(g: GeneratedImage, alt: str, budget: DisplayBudget) -> tuple[bytes, str, str]:
    """``(data, mime, alt)`` of ``g``'s thumbnail for a grid; over the budget, no bytes and a note."""
    try:
        t: Preview = thumbnail(g, budget=budget)
    except MemoryLimitError as exc:
        return b"", "", f"{alt}: {exc.message}; {exc.hint}"
    return t.data, t.mime, alt


def image_bundle(g: GeneratedImage, provenance: dict[str, Any],
                 budget: DisplayBudget | None = None) -> Bundle:
    """One image as one ``<img>`` output: its preview (or the original at ``full``), with alt text.

    An HTML ``<img>`` rather than a bare image output, because only it carries alt text (a bare
    ``image/png`` output renders with none in JupyterLab), shows WebP when asked for, and scales
    down to a narrow output. The shown width is capped (``display_options(width=...)``), so a 1K
    image takes no more than 512 CSS pixels; the original stays in the result (``result.save()``).
    Over the display's budget, the output is a note that says so.
    """
    opts = options()
    try:
        p = preview(g, opts=opts, budget=budget or DisplayBudget(opts))
    except MemoryLimitError as exc:
        return caption_bundle(f"{exc.message}. {exc.hint}")
    width, height = g.size
    alt = alt_text(str(provenance.get("prompt", "")), str(provenance.get("model", "")))
    data = {"text/html": _img_tag(p, alt), "text/plain": f"<image {g.index}: {width}x{height}>"}
    meta = {META_KEY: {**provenance, "image_index": g.index, "original": [width, height, g.mime],
                       "preview": [p.width, p.height, p.mime]}}
    return data, meta


def _img_tag(p: Preview, alt: str) -> str:
    """The ``<img>`` of one preview: at most ``display_options(width=...)``, never over its output."""
    limit = options().width
    shown = p.width if limit is None else min(p.width, limit)
    tall = round(p.height * shown / max(1, p.width))
    return (f'<img class="jupyter-imagegen-image" src="data:{p.mime};base64,'
            f'{base64.b64encode(p.data).decode("ascii")}" alt="{escape(alt)}" width="{shown}" '
            f'height="{tall}" style="max-width:100%;height:auto">')


def pil_bundle(image: PILImage) -> Bundle:
    """A PIL image the kit returned, as a light preview (``display_options``), not its PNG + JPEG.

    IPython shows a bare PIL image as a full-size PNG and a JPEG, both kept in the saved notebook
    (megabytes for one 1K image); the kit's own images show the preview a result shows instead.
    """
    p = pil_preview(image, opts=options())
    text = f"<PIL image {image.mode} {image.width}x{image.height}>"
    return {"text/html": _img_tag(p, f"image, {image.width}x{image.height}"), "text/plain": text}, {}


def light_display(image: PILImage) -> None:
    """Give one decoded image a ``_ipython_display_`` that shows :func:`pil_bundle` of it.

    Only this object is changed (copies and other images display as PIL's own), and the preview
    is made from its pixels when shown, so drawing on it first shows the drawing.
    """
    def show() -> None:
        publish(pil_bundle(image))

    image._ipython_display_ = show  # type: ignore[attr-defined]


def caption_bundle(text: str) -> Bundle:
    """An escaped caption line (HTML and plain text)."""
    return {"text/html": caption_html(text), "text/plain": scrub(text)}, {}  # a terminal prints it


def grid_bundle(result: ImageResult, caption: str, *, columns: int = 2, width: int = 320) -> Bundle:
    """Several images as one output: an HTML grid of thumbnails (stored once) and plain text.

    No second image copy: front ends without HTML show the text, which names every image.
    """
    budget = DisplayBudget()  # one display: its previews share one budget
    images = [cell_image(g, f"image {g.index}: {result.prompt[:100]}", budget)
              for g in result.generated]
    listing = [{"index": g.index, "mime": g.mime, "width": g.size[0], "height": g.size[1]}
               for g in result.generated]
    text = "\n".join([caption, *(f"  image {d['index']}: {d['width']}x{d['height']}" for d in listing)])
    data = {"text/html": grid_html(images, caption, columns=columns, width=width),
            "text/plain": scrub(text)}
    return data, {META_KEY: {**result.metadata(), "images": listing}}


def result_outputs(
    result: ImageResult, *, notes: Sequence[str] = (), columns: int = 2, width: int = 320
) -> list[Bundle]:
    """The outputs that show ``result``: one ``<img>`` + caption, or one grid bundle."""
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
