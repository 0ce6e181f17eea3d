"""The ``huge-images`` fault: one small answer whose images are huge once decoded.

Sixteen 6000x6000 PNGs of one colour: each is under a client's usual per-image cap (36 of 40 Mpx)
and about 120 KB on the wire, but the answer holds 576 Mpx (1.7 GB as RGB), which is how the
issue-19 attack made a kernel hold 2.66 GB. The PNG is written row by row into zlib, so the
server itself never holds the pixels.
"""

from __future__ import annotations

import struct
import threading
import zlib

from jupyter_imagegen._wire.dataurl import encode_data_url

__all__ = ["HUGE_COUNT", "HUGE_SIDE", "flat_png", "huge_urls"]

HUGE_COUNT = 16
HUGE_SIDE = 6000
_made: list[str] = []
_lock = threading.Lock()


def flat_png(width: int, height: int, rgb: tuple[int, int, int] = (200, 60, 40)) -> bytes:
    """A valid ``width`` x ``height`` RGB PNG of one colour, made without an image in memory."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    row = b"\0" + bytes(rgb) * width  # filter type 0, then the pixels
    packer = zlib.compressobj(9)
    idat = b"".join([*(packer.compress(row) for _ in range(height)), packer.flush()])
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def huge_urls() -> tuple[str, ...]:
    """The fault's images as data URLs (made once per process: the same string each time)."""
    with _lock:
        if not _made:
            _made.append(encode_data_url(flat_png(HUGE_SIDE, HUGE_SIDE), "image/png"))
        return (_made[0],) * HUGE_COUNT
