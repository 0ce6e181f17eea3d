"""Pure HTML builders for captions, grids, the live status line and tables.

Everything that came from a user or a model (prompts, captions, model text, ids) is escaped here,
in one place, so no front end can be fed markup by a prompt or a model reply.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

from ._exceptions import ImageDecodeError
from ._safeimage import page_image

__all__ = ["caption_html", "grid_html", "img_html", "status_html", "table_html"]

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
    safely becomes an escaped note.
    """
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
    icon = "" if done else '<span aria-hidden="true">&#9203; </span>'
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
