"""Data URLs and image-format sniffing (pure: no I/O; pybase64 decodes when installed).

OpenRouter returns images as ``data:<mime>;base64,<payload>`` URLs, "typically PNG". Real traffic and
compatible servers get the mime wrong or leave it out, so the mime the bytes *are* (their magic
bytes) wins over the mime the URL *says*.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import string
import sys
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from .._exceptions import ImageDecodeError

__all__ = ["EXTENSIONS", "decode_data_url", "encode_data_url", "image_size", "is_base64",
           "lift_data_urls", "plain_data_url", "sniff_mime"]


def _accelerator() -> Callable[..., bytes] | None:
    """pybase64's SIMD decoder (a dependency; tens of times faster, and it releases the GIL)."""
    try:
        import pybase64
    except ImportError:  # pragma: no cover - an install without it still works, slower
        return None
    decode: Callable[..., bytes] = pybase64.b64decode
    return decode


#: Decoding a 1K image's 2.4 MB of base64 took binascii 9.5 ms holding the GIL (the largest
#: share of a generation, and the event-loop stalls of ``AsyncClient``); pybase64 takes 0.15 ms.
_FAST_B64DECODE = _accelerator()

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


def _strict_b64decode(payload: str | memoryview) -> bytes:
    """Decode canonical base64 fast (``validate=True`` costs a regex pass over megabytes)."""
    if _FAST_B64DECODE is not None:
        return _FAST_B64DECODE(payload, validate=True)
    if sys.version_info >= (3, 11):
        return binascii.a2b_base64(payload, strict_mode=True)
    return base64.b64decode(payload, validate=True)  # pragma: no cover - Python 3.10


def decode_data_url(url: str | bytes | memoryview, *, index: int | None = None,
                    max_bytes: int | None = None) -> tuple[str, bytes]:
    """Decode a ``data:`` URL (text, or bytes as lifted by :func:`lift_data_urls`) into ``(mime, bytes)``.

    ``max_bytes`` refuses, before decoding, a payload whose decoded size would exceed it.

    The mime is taken from the bytes when they announce one, so a wrong or missing declared type
    still yields the right format. Raises :class:`ImageDecodeError` (naming ``index``) when the URL
    is not a data URL, the base64 is malformed, or the payload is not a known image format.
    """
    where = f"image {index}" if index is not None else "image"
    payload: str | memoryview
    if isinstance(url, (bytes, bytearray, memoryview)):
        view = memoryview(url)
        head = bytes(view[:4096])
        text = head[:head.find(b",") + 1].decode("latin-1")
        payload = view[len(text):]
    elif isinstance(url, str):
        text, payload = url, ""
    else:
        raise ImageDecodeError(f"{where}: expected a data URL string, got {type(url).__name__}",
                               index=index)
    match = _DATA_URL.match(text)
    if match is None:
        shown = text[:40] + ("..." if len(text) > 40 else "")
        raise ImageDecodeError(f"{where}: not a data URL: {shown!r}", index=index)
    declared = match.group("mime").strip().lower()
    params = [p.strip().lower() for p in match.group("params").split(";") if p.strip()]
    if isinstance(url, str):
        payload = url[match.end():]
    if max_bytes is not None and len(payload) * 3 // 4 > max_bytes:
        raise ImageDecodeError(
            f"{where}: {len(payload) * 3 // 4:,} bytes is over the {max_bytes:,}-byte image limit; "
            "raise Client(max_image_bytes=...) if images this large are expected", index=index)
    if "base64" in params:
        try:
            raw = _strict_b64decode(payload)
        except (binascii.Error, ValueError):
            try:  # tolerate line breaks and missing padding, as browsers do
                ascii_payload = payload.encode("ascii") if isinstance(payload, str) else bytes(payload)
                cleaned = _WHITESPACE.sub(b"", ascii_payload)
                raw = base64.b64decode(cleaned + b"=" * (-len(cleaned) % 4), validate=True)
            except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
                raise ImageDecodeError(
                    f"{where}: malformed base64 in data URL ({len(payload)} characters): {exc}",
                    index=index,
                ) from None
    else:
        raw = unquote_to_bytes(payload if isinstance(payload, str) else bytes(payload))
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


#: Strings shorter than this are left to the JSON parser.
LIFT_MIN = 64 * 1024
_BASE64_ALPHABET = (string.ascii_letters + string.digits + "+/=").encode()


def _url_value_at(body: bytes | bytearray, start: int) -> bool:
    """True when the string opening at ``start`` is the value of a ``"url"`` key."""
    before = body[max(0, start - 64):start].rstrip()
    if not before.endswith(b":"):
        return False
    key = before[:-1].rstrip()
    return key.endswith(b'"url"') and not key.endswith(b'\\"url"')


def is_base64(payload: bytes | memoryview) -> bool:
    """True when ``payload`` is base64 (and so needs no escaping in JSON either).

    pybase64 checks it strictly (padding included); the stdlib fallback checks the alphabet and
    the length, which is all JSON safety needs.
    """
    if _FAST_B64DECODE is not None:  # a strict decode costs a tenth of a translate pass
        try:
            _FAST_B64DECODE(payload, validate=True)
        except (binascii.Error, ValueError):
            return False
        return True
    return not bytes(payload).translate(None, _BASE64_ALPHABET) and len(payload) % 4 == 0


def plain_data_url(segment: bytes | memoryview) -> bool:
    """True for a data URL JSON holds as is: a short printable head, then base64.

    Such a URL needs no escapes, so the client lifts it out of a body before parsing and the
    local server splices it in after encoding.
    """
    head = bytes(segment[:256])
    comma = head.find(b",")
    if comma < 0 or not all(0x20 <= c < 0x7F and c not in b'"\\' for c in head[:comma]):
        return False
    return is_base64(memoryview(segment)[comma + 1:])


def lift_data_urls(body: bytes | bytearray, *, min_size: int = LIFT_MIN,
                   ) -> tuple[bytes | bytearray, dict[str, memoryview]]:
    """Cut long ``"url": "data:..."`` values out of a JSON body before ``json.loads``.

    Scanning megabytes of base64 in the JSON decoder, then turning it into a ``str`` only to
    decode it back to bytes, costs more than receiving it; lifted URLs are decoded straight from
    the received bytes instead. Each lifted value is replaced by a unique token (a key of the
    returned mapping). Only ``url`` values made of printable ASCII with no escapes are lifted, so
    everything else parses exactly as before, and a body the parser would reject still is.
    """
    lifted: dict[str, memoryview] = {}
    view = memoryview(body)
    pieces: list[bytes | memoryview] = []
    nonce = secrets.token_hex(6)
    pos = 0
    while (start := body.find(b'"data:', pos)) >= 0:
        end = body.find(b'"', start + 1)
        if end < 0:
            break
        if end - start > min_size and _url_value_at(body, start) and plain_data_url(view[start + 1:end]):
            token = f"data:lifted;{nonce},{len(lifted)}"
            pieces += (view[pos:start + 1], token.encode("ascii"))
            lifted[token] = view[start + 1:end]
            pos = end
        else:
            pieces.append(view[pos:end + 1])
            pos = end + 1
    if not lifted:
        return body, {}
    pieces.append(view[pos:])
    return b"".join(pieces), lifted


#: How much base64 :func:`image_size` decodes first (48 KB of image, a multiple of 4 chars).
_HEAD_CHARS = 64 * 1024


def image_size(url: str) -> tuple[int, int] | None:
    """The pixel size of an image given as a data URL, from its header; ``None`` for a URL or junk.

    What prices an edit's inputs (megapixel and tile lines need them), in the client and in the
    gateway alike. A header sits in the first bytes (PNG, WebP, GIF; a JPEG's frame after any
    EXIF or ICC data), so a 48 KB prefix of the base64 is decoded first and the whole image only
    when its header lies further in; nothing is decoded into pixels.
    """
    if not url.startswith("data:"):
        return None
    import io

    from PIL import Image

    comma = url.find(",", 0, 4096)
    for end in (comma + 1 + _HEAD_CHARS, len(url)) if comma > 0 else (len(url),):
        try:
            _, data = decode_data_url(url[:end] if end < len(url) else url)
            with Image.open(io.BytesIO(data)) as image:  # the header only
                width, height = image.size
                return int(width), int(height)
        except Exception:  # noqa: S112 (a cut header: the whole image next)
            continue
    return None  # unreadable: its area is unknown (refused elsewhere, never guessed)
