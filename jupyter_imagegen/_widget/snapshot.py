"""The widget's static snapshot: what a reader sees of it with no kernel and no widget JavaScript.

A widget's own output (``application/vnd.jupyter.widget-view+json``) is chosen by nbconvert
whenever the notebook saved widget state, and is not rendered at all in an untrusted notebook or
on GitHub. So the widget displays a second, plain output beside it: escaped HTML with the newest
images and the history as small raster thumbnails (data URLs of the previews the widget already
made) and a text line. It is replaced after each generation, and the live widget's CSS hides it.

Only the rendering lives here, as pure functions of the synced state; displaying the snapshot
beside the widget and replacing it is the widget's own (``ImageGenWidget._ipython_display_``).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from typing import Any

from .._exceptions import scrub

__all__ = ["MARKER", "snapshot_bundle", "snapshot_text"]

#: Attribute that names the widget a snapshot belongs to (the page finds its output by it).
MARKER = "data-ig-snapshot"
_RASTER = ("image/png", "image/jpeg")


#: Hides the widget's own output while it shows no widget (JupyterLab and Notebook 7 without saved
#: widget state say "Error displaying widget: model not found" there, or "Loading widget..."), so
#: a reader sees the snapshot alone. Only outputs followed by a snapshot are touched, and only
#: while they hold no rendered widget (``.ig-root``): a live or restored widget stays shown.
_QUIET_STYLE = (
    "<style>.jp-OutputArea-child:has(> .jupyter-widgets):not(:has(.ig-root))"
    ":has(+ .jp-OutputArea-child .ig-snapshot){display:none}</style>")  # :has() cannot nest


def _img(picture: dict[str, Any], alt: str, style: str) -> str:
    if picture.get("mime") not in _RASTER:  # never hand anything but a raster to the page
        return ""
    data = base64.b64encode(bytes(picture["data"])).decode("ascii")
    return (f'<img src="data:{picture["mime"]};base64,{data}" alt="{html.escape(alt)}" '
            f'width="{int(picture["width"])}" height="{int(picture["height"])}" style="{style}">')


def _latest_html(latest: Sequence[dict[str, Any]], entry: dict[str, Any]) -> str:
    images = "".join(_img(p, f"generated image {int(p['index']) + 1}: {entry['prompt']}",
                          "max-width:100%;height:auto;margin:0 6px 6px 0") for p in latest)
    return (f'<figure style="margin:0 0 8px 0">{images}<figcaption>'
            f'<div>{html.escape(entry["prompt"])}</div>'
            f'<div style="opacity:0.75;font-size:90%">{html.escape(entry["caption"])}</div>'
            "</figcaption></figure>")


def _card_html(entry: dict[str, Any]) -> str:
    thumbs = "".join(_img(t, f"thumbnail {int(t['index']) + 1}: {entry['prompt']}",
                          "max-width:100%;height:auto") for t in entry["thumbs"])
    return (f'<figure style="display:inline-block;vertical-align:top;width:170px;margin:0 6px 6px 0">'
            f'{thumbs}<figcaption style="font-size:85%;overflow-wrap:anywhere">'
            f"{html.escape(entry['prompt'])}<br><span style=\"opacity:0.75\">"
            f"{html.escape(entry['caption'])}</span></figcaption></figure>")


def snapshot_text(history: Sequence[dict[str, Any]], total: int) -> str:
    """The snapshot's plain text: how many results, and the newest one's prompt and caption."""
    if not history:
        return "ImageGenWidget snapshot: no images generated yet. Re-run the cell to use the widget."
    newest = history[0]
    noun = "result" if total == 1 else "results"
    return (f"ImageGenWidget snapshot: {total} {noun}; newest: {newest['prompt']!r} "
            f"({newest['caption']}). Re-run the cell to use the widget.")


def snapshot_bundle(widget_id: str, latest: Sequence[dict[str, Any]],
                    history: Sequence[dict[str, Any]], total: int) -> dict[str, str]:
    """``text/html`` and ``text/plain`` of the snapshot of one widget (every text escaped)."""
    parts = [_QUIET_STYLE, f'<div class="ig-snapshot" {MARKER}="{html.escape(widget_id)}" '
             'style="font-family:sans-serif;font-size:13px">',
             '<div style="font-weight:600;margin-bottom:4px">ImageGenWidget snapshot '
             '<span style="font-weight:normal;opacity:0.75">(saved with the notebook; re-run the '
             "cell to use the widget)</span></div>"]
    if history:
        parts.append(_latest_html(latest, history[0]))
        parts.append(f'<div style="font-weight:600;margin:4px 0">History ({len(history)})</div>')
        parts.append("<div>" + "".join(_card_html(e) for e in history) + "</div>")
    else:
        parts.append("<div>No images generated yet.</div>")
    parts.append("</div>")
    return {"text/html": "".join(parts), "text/plain": scrub(snapshot_text(history, total))}
