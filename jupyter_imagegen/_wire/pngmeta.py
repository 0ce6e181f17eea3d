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


def _keyword(key: str) -> bytes:
    return key.encode("latin-1", "replace")[:79] or b"comment"


def add_png_text(png: bytes, text: Mapping[str, str]) -> bytes:
    """Return ``png`` with one UTF-8 ``iTXt`` chunk per item inserted after ``IHDR``.

    Text chunks already there under the same keywords are dropped (saving a file the kit
    wrote again replaces its fields instead of piling up a second copy); the rest stay as
    they were.
    """
    if not png.startswith(_SIGNATURE) or png[12:16] != b"IHDR":
        raise ValueError("not a PNG file (missing signature or IHDR)")
    ihdr_end = 8 + 8 + struct.unpack(">I", png[8:12])[0] + 4
    chunks = []
    for key, value in text.items():
        # keyword \0 compression-flag compression-method language \0 translated-keyword \0 text
        payload = _keyword(key) + b"\0\0\0\0\0" + value.encode("utf-8")
        chunks.append(_chunk(b"iTXt", payload))
    return png[:ihdr_end] + b"".join(chunks) + _without(png, ihdr_end, {_keyword(k) for k in text})


def _without(png: bytes, pos: int, keywords: set[bytes]) -> bytes:
    """The chunks from ``pos`` on, less the text chunks named by ``keywords``."""
    if not keywords:
        return png[pos:]
    kept = []
    while pos + 12 <= len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        end = pos + 12 + length
        named = kind in (b"tEXt", b"iTXt", b"zTXt") and \
            png[pos + 8:end - 4].partition(b"\0")[0] in keywords
        if not named:
            kept.append(png[pos:end])
        pos = end
        if kind == b"IEND":
            break
    return b"".join(kept) + png[pos:]


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
