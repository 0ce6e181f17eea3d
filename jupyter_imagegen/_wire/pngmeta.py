"""Embed text metadata into PNG bytes without re-encoding the pixels (pure, stdlib only).

Re-saving through Pillow would recompress the image (slow, and not the bytes the model sent), so
``iTXt`` chunks are spliced in right after ``IHDR`` instead.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping

__all__ = ["add_png_text", "read_png_text"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def add_png_text(png: bytes, text: Mapping[str, str]) -> bytes:
    """Return ``png`` with one UTF-8 ``iTXt`` chunk per item inserted after ``IHDR``."""
    if not png.startswith(_SIGNATURE) or png[12:16] != b"IHDR":
        raise ValueError("not a PNG file (missing signature or IHDR)")
    ihdr_end = 8 + 8 + struct.unpack(">I", png[8:12])[0] + 4
    chunks = []
    for key, value in text.items():
        keyword = key.encode("latin-1", "replace")[:79] or b"comment"
        # keyword \0 compression-flag compression-method language \0 translated-keyword \0 text
        payload = keyword + b"\0\0\0\0\0" + value.encode("utf-8")
        chunks.append(_chunk(b"iTXt", payload))
    return png[:ihdr_end] + b"".join(chunks) + png[ihdr_end:]


def read_png_text(png: bytes) -> dict[str, str]:
    """Read ``tEXt`` and uncompressed ``iTXt`` chunks (enough to check what we wrote)."""
    out: dict[str, str] = {}
    pos = 8
    while pos + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        data = png[pos + 8:pos + 8 + length]
        if kind == b"tEXt":
            key, _, value = data.partition(b"\0")
            out[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"iTXt":
            key, _, rest = data.partition(b"\0")
            if rest[:1] == b"\0":
                _lang, _, rest = rest[2:].partition(b"\0")
                _translated, _, value = rest.partition(b"\0")
                out[key.decode("latin-1")] = value.decode("utf-8", "replace")
        elif kind == b"IEND":
            break
        pos += 12 + length
    return out
