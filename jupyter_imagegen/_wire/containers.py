"""XMP in and out of PNG, JPEG and WebP files, and whether a file carries a C2PA manifest.

Pure byte surgery, no decoding: the pixels are never touched, so Pillow decodes a file the kit
tagged exactly as the bytes the model sent. Where each format keeps XMP:

* PNG: an ``iTXt`` chunk with the keyword ``XML:com.adobe.xmp`` (Adobe XMP Specification Part 3),
  placed right after ``IHDR`` like the kit's text chunks;
* JPEG: an ``APP1`` segment starting ``http://ns.adobe.com/xap/1.0/\\0``, after the ``APP0``/Exif
  segments at the front (at most 65502 bytes of packet fit one segment);
* WebP: an ``XMP `` chunk at the end, announced by the ``VP8X`` header's XMP flag (Google's WebP
  container specification); a simple-format file gets the ``VP8X`` header it then needs.

C2PA manifests (C2PA Technical Specification, "Embedding manifests"): PNG ``caBX`` chunks,
JPEG ``APP11`` JUMBF segments labelled ``c2pa``, WebP ``C2PA`` chunks. A remote manifest is
referenced from XMP as ``dcterms:provenance``; a file with either must not be changed by a byte.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

__all__ = ["MAX_JPEG_XMP", "carries_c2pa", "read_xmp_packet", "with_xmp"]

_PNG = b"\x89PNG\r\n\x1a\n"
_PNG_XMP = b"XML:com.adobe.xmp"
_JPEG_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
_JPEG_XMP_EXT = b"http://ns.adobe.com/xmp/extension/\x00"
#: The largest packet one JPEG APP1 segment holds (65535 - 2 length bytes - the 29-byte header).
MAX_JPEG_XMP = 65535 - 2 - len(_JPEG_XMP)
_XMP_FLAG = 0x04
_ALPHA_FLAG = 0x10


# -- PNG ------------------------------------------------------------------------------------------

def _png_chunks(png: bytes) -> Iterator[tuple[bytes, int, int, bytes]]:
    """``(kind, start, end, payload)`` of each whole chunk; stops at ``IEND`` or damage."""
    pos = 8
    while pos + 12 <= len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        end = pos + 12 + length
        if end > len(png):
            return
        yield kind, pos, end, png[pos + 8:pos + 8 + length]
        if kind == b"IEND":
            return
        pos = end


def _is_png_xmp(kind: bytes, payload: bytes) -> bool:
    return kind == b"iTXt" and payload.startswith(_PNG_XMP + b"\0")


def _png_xmp(png: bytes) -> str | None:
    for kind, _start, _end, payload in _png_chunks(png):
        if _is_png_xmp(kind, payload):
            rest = payload[len(_PNG_XMP) + 1:]
            if rest[:1] == b"\x01":  # compressed iTXt (flag, method, then language\0 key\0)
                _lang, _, rest = rest[2:].partition(b"\0")
                _key, _, text = rest.partition(b"\0")
                try:
                    return zlib.decompressobj().decompress(text, 1 << 24).decode("utf-8", "replace")
                except zlib.error:
                    return None
            _lang, _, rest = rest[2:].partition(b"\0")
            _key, _, text = rest.partition(b"\0")
            return text.decode("utf-8", "replace")
    return None


def _png_with_xmp(png: bytes, packet: str) -> bytes:
    if not png.startswith(_PNG) or png[12:16] != b"IHDR":
        raise ValueError("not a PNG file (missing signature or IHDR)")
    ihdr_end = 8 + 8 + struct.unpack(">I", png[8:12])[0] + 4
    kept = [png[start:end] for kind, start, end, payload in _png_chunks(png)
            if start >= ihdr_end and not _is_png_xmp(kind, payload)]
    payload = _PNG_XMP + b"\0\0\0\0\0" + packet.encode("utf-8")
    crc = zlib.crc32(b"iTXt" + payload) & 0xFFFFFFFF
    chunk = struct.pack(">I", len(payload)) + b"iTXt" + payload + struct.pack(">I", crc)
    return png[:ihdr_end] + chunk + b"".join(kept)


# -- JPEG -----------------------------------------------------------------------------------------

def _jpeg_segments(jpeg: bytes) -> Iterator[tuple[int, int, int]]:
    """``(marker, start, end)`` of each header segment before the scan (``SOS``) begins."""
    pos = 2
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF:
        marker = jpeg[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length field
            pos += 2
            continue
        if marker == 0xDA:  # start of scan: the rest is image data
            return
        length = struct.unpack(">H", jpeg[pos + 2:pos + 4])[0]
        yield marker, pos, pos + 2 + length
        pos += 2 + length


def _jpeg_xmp(jpeg: bytes) -> str | None:
    for marker, start, end in _jpeg_segments(jpeg):
        if marker == 0xE1 and jpeg[start + 4:start + 4 + len(_JPEG_XMP)] == _JPEG_XMP:
            return jpeg[start + 4 + len(_JPEG_XMP):end].decode("utf-8", "replace")
    return None


def _jpeg_with_xmp(jpeg: bytes, packet: str) -> bytes:
    if not jpeg.startswith(b"\xff\xd8\xff"):
        raise ValueError("not a JPEG file")
    data = packet.encode("utf-8")
    if len(data) > MAX_JPEG_XMP:
        raise ValueError(f"an XMP packet of {len(data)} bytes does not fit one JPEG segment")
    lead: list[bytes] = []  # JFIF and Exif stay first, as readers expect
    others: list[bytes] = []
    pos = 2
    for marker, start, end in _jpeg_segments(jpeg):
        if start != pos:  # fill bytes or stand-alone markers among the headers: leave it be
            raise ValueError("a JPEG file with an unusual header layout")
        pos = end
        segment = jpeg[start:end]
        if marker == 0xE1 and segment[4:].startswith((_JPEG_XMP, _JPEG_XMP_EXT)):
            continue  # the old packet goes; ours takes its place
        (lead if marker in (0xE0, 0xE1) and not others else others).append(segment)
    header = struct.pack(">BBH", 0xFF, 0xE1, 2 + len(_JPEG_XMP) + len(data)) + _JPEG_XMP + data
    return jpeg[:2] + b"".join(lead) + header + b"".join(others) + jpeg[pos:]


# -- WebP -----------------------------------------------------------------------------------------

def _webp_chunks(webp: bytes) -> Iterator[tuple[bytes, int, int]]:
    """``(fourcc, start, end)`` of each chunk (``end`` includes the padding byte)."""
    pos, stop = 12, min(len(webp), 8 + struct.unpack("<I", webp[4:8])[0])
    while pos + 8 <= stop:
        fourcc, size = webp[pos:pos + 4], struct.unpack("<I", webp[pos + 4:pos + 8])[0]
        end = pos + 8 + size + (size & 1)
        if end > len(webp):
            return
        yield fourcc, pos, end
        pos = end


def _webp_chunk(fourcc: bytes, data: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(data)) + data + (b"\0" if len(data) & 1 else b"")


def _webp_xmp(webp: bytes) -> str | None:
    for fourcc, start, _end in _webp_chunks(webp):
        if fourcc == b"XMP ":
            size = struct.unpack("<I", webp[start + 4:start + 8])[0]
            return webp[start + 8:start + 8 + size].decode("utf-8", "replace")
    return None


def _vp8x_for(fourcc: bytes, data: bytes) -> bytes:
    """The ``VP8X`` header a simple-format file needs: canvas size and alpha from its bitstream."""
    alpha = False
    if fourcc == b"VP8 " and len(data) >= 10 and data[3:6] == b"\x9d\x01\x2a":
        width = struct.unpack("<H", data[6:8])[0] & 0x3FFF
        height = struct.unpack("<H", data[8:10])[0] & 0x3FFF
    elif fourcc == b"VP8L" and len(data) >= 5 and data[0] == 0x2F:
        bits = struct.unpack("<I", data[1:5])[0]
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        alpha = bool(bits >> 28 & 1)
    else:
        raise ValueError("a WebP file whose first chunk is not a VP8/VP8L bitstream")
    flags = _XMP_FLAG | (_ALPHA_FLAG if alpha else 0)
    canvas = struct.pack("<I", width - 1)[:3] + struct.pack("<I", height - 1)[:3]
    return _webp_chunk(b"VP8X", bytes([flags, 0, 0, 0]) + canvas)


def _webp_with_xmp(webp: bytes, packet: str) -> bytes:
    if webp[:4] != b"RIFF" or webp[8:12] != b"WEBP":
        raise ValueError("not a WebP file")
    chunks = [(fourcc, webp[start:end]) for fourcc, start, end in _webp_chunks(webp)]
    if not chunks:
        raise ValueError("a WebP file without chunks")
    if chunks[0][0] == b"VP8X":
        head = chunks[0][1]
        vp8x = head[:8] + bytes([head[8] | _XMP_FLAG]) + head[9:]
        rest = [c for f, c in chunks[1:] if f != b"XMP "]
    else:
        first = chunks[0][1]
        size = struct.unpack("<I", first[4:8])[0]
        vp8x = _vp8x_for(chunks[0][0], first[8:8 + size])
        rest = [c for f, c in chunks if f != b"XMP "]
    body = b"WEBP" + vp8x + b"".join(rest) + _webp_chunk(b"XMP ", packet.encode("utf-8"))
    return b"RIFF" + struct.pack("<I", len(body)) + body


# -- the three together -----------------------------------------------------------------------------

def read_xmp_packet(data: bytes, mime: str) -> str | None:
    """The XMP packet of a PNG, JPEG or WebP file, or ``None`` (none, or another format)."""
    try:
        if mime == "image/png" and data.startswith(_PNG):
            return _png_xmp(data)
        if mime == "image/jpeg" and data.startswith(b"\xff\xd8"):
            return _jpeg_xmp(data)
        if mime == "image/webp" and data[:4] == b"RIFF":
            return _webp_xmp(data)
    except struct.error:
        return None
    return None


def with_xmp(data: bytes, mime: str, packet: str) -> bytes:
    """``data`` with ``packet`` as its one XMP packet; ``ValueError`` for what cannot take it."""
    try:
        if mime == "image/png":
            return _png_with_xmp(data, packet)
        if mime == "image/jpeg":
            return _jpeg_with_xmp(data, packet)
        if mime == "image/webp":
            return _webp_with_xmp(data, packet)
    except struct.error:
        raise ValueError(f"a damaged {mime} file") from None
    raise ValueError(f"the kit writes XMP into PNG, JPEG and WebP only, not {mime}")


def _jumbf_c2pa(segment: bytes) -> bool:
    """An APP11 segment holding a JUMBF box labelled ``c2pa`` (common identifier ``JP``)."""
    return segment[4:6] == b"JP" and b"jumb" in segment[:64] and b"c2pa" in segment[:96]


def carries_c2pa(data: bytes, mime: str) -> bool:
    """True when the file embeds a C2PA manifest or its XMP points at a remote one.

    Found by the containers' own markers, no library needed: this decides whether the kit may
    touch the bytes at all. Whether the manifest is valid is another question
    (:mod:`jupyter_imagegen._results.credentials`).
    """
    try:
        if mime == "image/png" and data.startswith(_PNG) and any(
                kind == b"caBX" for kind, *_ in _png_chunks(data)):
            return True
        if mime == "image/jpeg" and data.startswith(b"\xff\xd8") and any(
                marker == 0xEB and _jumbf_c2pa(data[start:end])
                for marker, start, end in _jpeg_segments(data)):
            return True
        if mime == "image/webp" and data[:4] == b"RIFF" and any(
                fourcc == b"C2PA" for fourcc, *_ in _webp_chunks(data)):
            return True
    except struct.error:
        return False
    packet = read_xmp_packet(data, mime)
    return packet is not None and "dcterms:provenance" in packet
