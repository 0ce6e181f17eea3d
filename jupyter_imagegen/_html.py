"""Pure HTML builders for captions and grids. Everything that came from a user or a model is escaped."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

__all__ = ["caption_html", "grid_html"]

_FIGURE = (
    '<figure style="margin:0 0 0.5em 0">{images}'
    '<figcaption style="font-size:0.85em;opacity:0.8;white-space:pre-wrap">{caption}</figcaption>'
    "</figure>"
)
_IMG = ('<img src="data:{mime};base64,{b64}" width="{width}" alt="{alt}" '
        'style="max-width:100%;height:auto;margin:2px">')


def caption_html(caption: str) -> str:
    """A caption line, escaped, in a small muted ``<div>``."""
    return ('<div class="jupyter-imagegen-caption" style="font-size:0.85em;opacity:0.8;'
            f'white-space:pre-wrap">{escape(caption)}</div>')


def grid_html(
    images: Sequence[tuple[bytes, str, str]], caption: str, *, columns: int = 2, width: int = 320
) -> str:
    """A figure with the ``(data, mime, alt)`` images in a wrapping grid and an escaped caption."""
    per_row = max(1, min(columns, len(images)))
    cell = width if len(images) > 1 else width * per_row
    tags = "".join(
        _IMG.format(mime=escape(mime), b64=base64.b64encode(data).decode("ascii"), width=cell,
                    alt=escape(alt))
        for data, mime, alt in images
    )
    return _FIGURE.format(images=tags, caption=escape(caption))
