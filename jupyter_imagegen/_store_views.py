"""Views of an image store: a contact sheet image and a self-contained HTML gallery.

Both read the store's files and never decode more than a thumbnail's worth per entry (pixel-capped
by :mod:`._safeimage`); the gallery embeds JPEG thumbnails, escapes every string, runs no script
and links only files that are raster images inside the store.
"""

from __future__ import annotations

import base64
import html
import io
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from PIL import Image, ImageDraw, ImageFont

from ._safeimage import open_image, safe_to_link

#: A store entry (duck-typed: ``_store`` imports this module, not the reverse).
StoreEntry = Any

__all__ = ["contact_sheet", "export_html", "header_size"]


def contact_sheet(
    chosen: list[StoreEntry],
    *,
    columns: int = 4,
    thumb: int = 256,
    captions: bool = True,
) -> Image.Image:
    """One RGB image with a ``thumb``-pixel cell per entry on a ``columns``-wide grid.

    Each cell holds the image scaled to fit (never enlarged), centred, and with ``captions``
    two lines under it: the prompt and the model, cut to the cell's width.
    """
    if not chosen:
        raise ValueError("no images for a contact sheet")
    font = ImageFont.load_default()
    line = _line_height(font) if captions else 0
    pad = 6
    cell_w, cell_h = thumb + 2 * pad, thumb + 2 * pad + 2 * line
    per_row = max(1, min(columns, len(chosen)))
    rows = -(-len(chosen) // per_row)
    sheet = Image.new("RGB", (per_row * cell_w, rows * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    for n, entry in enumerate(chosen):
        x, y = (n % per_row) * cell_w + pad, (n // per_row) * cell_h + pad
        picture = _thumbnail(entry.path, thumb)
        sheet.paste(picture, (x + (thumb - picture.width) // 2, y + (thumb - picture.height) // 2))
        if captions:
            for k, caption in enumerate((entry.prompt, entry.model)):
                text = _fit(draw, font, caption, thumb)
                draw.text((x, y + thumb + k * line + 1), text, fill=(60, 60, 60) if k else "black",
                          font=font)
    return sheet

def export_html(chosen: list[StoreEntry], path: str | os.PathLike[str], store_name: str) -> Path:
    """Write a self-contained HTML gallery (no scripts) and return its path.

    Thumbnails are embedded as JPEG data URLs, so the page shows without the store next to
    it; each links (relatively) to the original file. Every string is HTML-escaped.
    """
    target = Path(os.fspath(path))
    cards = "".join(_card(entry, target.parent) for entry in chosen)
    title = f"jupyter_imagegen gallery: {len(chosen)} images from {store_name}"
    page = _PAGE.format(title=html.escape(title), cards=cards)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


# ---------------------------------------------------------------------------------------------
# Helpers (pure or read-only)

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1em;background:#fafafa}}
.grid{{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:12px}}
figure{{margin:0;padding:8px;background:#fff;border:1px solid #ddd;border-radius:6px}}
img{{width:100%;height:auto;display:block}}
figcaption{{font-size:0.85em;white-space:pre-wrap;overflow-wrap:anywhere}}
.meta{{opacity:0.7}}
</style></head>
<body><h1>{title}</h1><div class="grid">{cards}</div></body></html>
"""


def _card(entry: StoreEntry, base: Path) -> str:
    href = quote(Path(os.path.relpath(entry.path, base)).as_posix())
    try:
        with open(entry.path, "rb") as fh:
            linkable = safe_to_link(fh.read(1024))  # never link an SVG (it runs script when opened)
    except OSError:
        linkable = False
    buffer = io.BytesIO()
    _thumbnail(entry.path, 256).save(buffer, format="JPEG", quality=80)
    src = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    meta = [entry.model, f"{entry.created.astimezone():%Y-%m-%d %H:%M}"]
    if entry.width and entry.height:
        meta.append(f"{entry.width}x{entry.height}")
    if entry.cost is not None:
        meta.append(f"${entry.cost:.4f}")
    alt = html.escape(entry.prompt)
    image = f'<img src="{src}" alt="{alt}" title="{alt}">'
    link = f'<a href="{html.escape(href)}">{image}</a>' if linkable else image
    return (f'<figure>{link}'
            f'<figcaption>{alt}<br><span class="meta">{html.escape(" · ".join(meta))}</span>'
            "</figcaption></figure>")


def header_size(data: bytes) -> tuple[int | None, int | None]:
    """Pixel size from the image header alone (no decode), or ``(None, None)``."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
    except Exception:  # Pillow raises many types for unknown data
        return None, None
    return int(width), int(height)


def _thumbnail(path: Path, size: int) -> Image.Image:
    """An RGB thumbnail fitting ``size`` x ``size``; a grey placeholder if the file won't open."""
    try:
        with open(path, "rb") as fh, open_image(fh, draft=size) as opened:  # capped; JPEG: draft
            picture = opened.convert("RGBA")
    except Exception:  # a missing or undecodable file must not break a whole gallery
        return Image.new("RGB", (size, size), (200, 200, 200))
    picture.thumbnail((size, size))
    flat = Image.new("RGB", picture.size, "white")
    flat.paste(picture, mask=picture.getchannel("A"))
    return flat


def _line_height(font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> int:
    _left, top, _right, bottom = font.getbbox("Ag")
    return int(bottom - top) + 4


def _fit(
    draw: ImageDraw.ImageDraw, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, text: str, width: int
) -> str:
    """``text`` on one line, cut with ``...`` to fit ``width`` pixels (unrenderable characters: ``?``)."""
    text = " ".join(text.split())
    if not isinstance(font, ImageFont.FreeTypeFont):
        text = text.encode("latin-1", "replace").decode("latin-1")
    if draw.textlength(text, font=font) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix that fits together with the ellipsis
        mid = (lo + hi + 1) // 2
        if draw.textlength(text[:mid] + "...", font=font) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + "..."
