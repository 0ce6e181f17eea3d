"""Data URLs and image-format sniffing (pure, stdlib only).

OpenRouter returns images as ``data:<mime>;base64,<payload>`` URLs, "typically PNG". Real traffic and
compatible servers get the mime wrong or leave it out, so the mime the bytes *are* (their magic
bytes) wins over the mime the URL *says*.
"""

from __future__ import annotations

import base64
import binascii
import re
import sys
from urllib.parse import unquote_to_bytes

from ._exceptions import ImageDecodeError

__all__ = ["EXTENSIONS", "decode_data_url", "encode_data_url", "sniff_mime"]

_DATA_URL = re.compile(r"^data:(?P<mime>[^;,]*)(?P<params>(?:;[^;,]*)*?),", re.IGNORECASE)
_WHITESPACE = re.compile(rb"\s+")

#: File extension for each image mime the kit knows.
EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "image/svg+xml": ".svg",
}


def sniff_mime(data: bytes) -> str | None:
    """Return the image mime type that ``data``'s magic bytes announce, or ``None``."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    head = data[:256].lstrip()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in data[:1024]):
        return "image/svg+xml"
    return None


def _strict_b64decode(payload: str) -> bytes:
    """Decode canonical base64 fast (``validate=True`` costs a regex pass over megabytes)."""
    if sys.version_info >= (3, 11):
        return binascii.a2b_base64(payload, strict_mode=True)
    return base64.b64decode(payload, validate=True)  # pragma: no cover - Python 3.10


def decode_data_url(url: str, *, index: int | None = None) -> tuple[str, bytes]:
    """Decode a ``data:`` URL into ``(mime, bytes)``.

    The mime is taken from the bytes when they announce one, so a wrong or missing declared type
    still yields the right format. Raises :class:`ImageDecodeError` (naming ``index``) when the URL
    is not a data URL, the base64 is malformed, or the payload is not a known image format.
    """
    where = f"image {index}" if index is not None else "image"
    if not isinstance(url, str):
        raise ImageDecodeError(f"{where}: expected a data URL string, got {type(url).__name__}",
                               index=index)
    match = _DATA_URL.match(url)
    if match is None:
        shown = url[:40] + ("..." if len(url) > 40 else "")
        raise ImageDecodeError(f"{where}: not a data URL: {shown!r}", index=index)
    declared = match.group("mime").strip().lower()
    params = [p.strip().lower() for p in match.group("params").split(";") if p.strip()]
    payload = url[match.end():]
    if "base64" in params:
        try:
            raw = _strict_b64decode(payload)
        except (binascii.Error, ValueError):
            try:  # tolerate line breaks and missing padding, as browsers do
                cleaned = _WHITESPACE.sub(b"", payload.encode("ascii"))
                raw = base64.b64decode(cleaned + b"=" * (-len(cleaned) % 4), validate=True)
            except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
                raise ImageDecodeError(
                    f"{where}: malformed base64 in data URL ({len(payload)} characters): {exc}",
                    index=index,
                ) from None
    else:
        raw = unquote_to_bytes(payload)
    if not raw:
        raise ImageDecodeError(f"{where}: the data URL has an empty payload", index=index)
    mime = sniff_mime(raw)
    if mime is None:
        raise ImageDecodeError(
            f"{where}: payload is not a PNG, JPEG, WebP, GIF or SVG image "
            f"(declared {declared or 'no type'!r}, starts with {raw[:8]!r})",
            index=index,
        )
    return mime, raw


def encode_data_url(data: bytes, mime: str | None = None) -> str:
    """Encode image bytes as a base64 data URL, sniffing the mime when not given."""
    kind = mime or sniff_mime(data) or "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"
