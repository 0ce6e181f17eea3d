"""The teacher's thumbnails: the first image of each answer, caught as it passes, made small.

:class:`FirstImage` watches the answer's chunks for the first base64 image (a chat answer's
``data:image/...;base64,`` URL, an Image API answer's ``"b64_json": "..."``) and keeps its base64
text only, up to :data:`MAX_IMAGE_BYTES`, so one in-flight call holds at most one image more.
:func:`thumbnail` decodes it and writes a JPEG (or PNG, for transparency) whose long side is
:data:`THUMB_SIDE` pixels: what the admin page shows, never the original.
"""

from __future__ import annotations

import base64
import binascii
import io

__all__ = ["MAX_IMAGE_BYTES", "THUMB_SIDE", "FirstImage", "thumbnail"]

MAX_IMAGE_BYTES = 24 * 1024 * 1024
THUMB_SIDE = 160
_MARKERS = (b";base64,", b'"b64_json":"', b'"b64_json": "')
_CARRY = 16


class FirstImage:
    """Feed chunks; :attr:`base64` is the first image's base64 once it has passed whole."""

    def __init__(self, limit: int = MAX_IMAGE_BYTES) -> None:
        self.limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        self._carry = b""
        self._state = "seek"  # seek -> take -> done

    @property
    def base64(self) -> bytes | None:
        """The image's base64 (JSON escapes removed), or ``None`` if no whole image passed."""
        if self._state != "done" or not self._parts:
            return None
        return b"".join(self._parts).replace(b"\\/", b"/").replace(b"\\n", b"")

    def feed(self, chunk: bytes) -> None:
        """Look at one chunk of the answer."""
        if self._state == "done":
            return
        if self._state == "seek":
            data = self._carry + chunk
            found = [(data.find(m), m) for m in _MARKERS]
            hits = [(at, m) for at, m in found if at >= 0]
            if not hits:
                self._carry = data[-_CARRY:]
                return
            at, marker = min(hits)
            chunk = data[at + len(marker):]
            self._state = "take"
        end = chunk.find(b'"')
        piece = chunk if end < 0 else chunk[:end]
        self._parts.append(piece)
        self._size += len(piece)
        if end >= 0:
            self._state = "done"
        elif self._size > self.limit:
            self._parts.clear()
            self._state = "done"


def thumbnail(b64: bytes, side: int = THUMB_SIDE) -> tuple[str, bytes] | None:
    """``(mime, bytes)`` of a small preview of the image, or ``None`` if it is not an image."""
    from PIL import Image

    try:
        data = base64.b64decode(b64, validate=False)
        with Image.open(io.BytesIO(data)) as picture:
            picture.thumbnail((side, side))
            alpha = picture.mode in ("RGBA", "LA", "P")
            out = io.BytesIO()
            if alpha:
                picture.convert("RGBA").save(out, "PNG", optimize=True)
                return "image/png", out.getvalue()
            picture.convert("RGB").save(out, "JPEG", quality=80)
            return "image/jpeg", out.getvalue()
    except (OSError, ValueError, binascii.Error, Image.DecompressionBombError):
        return None
