"""What every writer of the kit puts in a file: one policy for every writer.

The writers are ``save()``, the store, the widget's Download, ``%%imagegen -o`` and
``jupyter-imagegen generate -o``.

Why one place: providers sign images with C2PA Content Credentials (OpenAI's API images carry
them: help.openai.com "C2PA in DALL·E 3"), and a signed PNG that went through the kit's text-chunk
writer read ``Invalid`` (``assertion.dataHash.mismatch``) where it had read ``Valid``. So:

* a file that carries a manifest (:func:`~.._wire.containers.carries_c2pa`) is written as the
  provider sent it, byte for byte, and the kit's metadata goes into a sidecar beside it
  (``NAME.json``, e.g. ``fox.png.json``);
* any other PNG, JPEG or WebP gets XMP with IPTC's ``trainedAlgorithmicMedia`` mark, the model,
  the time and the kit's fields (:mod:`.._wire.xmp`); a PNG keeps its ``iTXt`` text chunks as
  before, and other formats keep their sidecar as before;
* ``ig.save_options(xmp=False)`` (or ``JUPYTER_IMAGEGEN_XMP=0`` in the environment) leaves the XMP
  out, for whoever must not label files (the text chunks and sidecars stay).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .._exceptions import InvalidInputError
from .._wire.containers import MAX_JPEG_XMP, carries_c2pa, read_xmp_packet, with_xmp
from .._wire.pngmeta import add_png_text
from .._wire.xmp import merge_xmp
from .preview import Restore

__all__ = ["FileParts", "SaveOptions", "file_parts", "save_options", "text_fields"]

#: Formats the kit writes XMP into (by splicing, never by re-encoding).
XMP_FORMATS = frozenset({"image/png", "image/jpeg", "image/webp"})


@dataclass(frozen=True)
class SaveOptions:
    """What the kit writes into the image files it saves."""

    #: Write XMP (the IPTC AI mark, model, time and the kit's fields) into PNG, JPEG and WebP.
    xmp: bool = True


def _from_env() -> SaveOptions:
    value = os.environ.get("JUPYTER_IMAGEGEN_XMP", "").strip().lower()
    return SaveOptions(xmp=value not in ("0", "false", "no", "off"))


_current = _from_env()


def options() -> SaveOptions:
    """The save options in force."""
    return _current


def save_options(**changes: object) -> Restore[SaveOptions]:
    """Change what saved files carry; returns an object that restores the old options.

    ``ig.save_options(xmp=False)`` stops writing the XMP AI-disclosure packet (a ``with`` block
    limits the change to the block). The default comes from ``JUPYTER_IMAGEGEN_XMP`` (``0``
    turns it off), so the command line follows the same setting.
    """
    global _current
    unknown = set(changes) - set(SaveOptions.__dataclass_fields__)
    if unknown:
        raise InvalidInputError(f"unknown save option(s): {', '.join(sorted(unknown))}; "
                                f"valid: {', '.join(SaveOptions.__dataclass_fields__)}")
    if "xmp" in changes and not isinstance(changes["xmp"], bool):
        raise InvalidInputError(f"xmp must be True or False, not {changes['xmp']!r}")
    old = _current
    _current = replace(_current, **changes)  # type: ignore[arg-type]
    return Restore(old, lambda: _current, _put)


def _put(options: SaveOptions) -> None:
    global _current
    _current = options


@dataclass(frozen=True)
class FileParts:
    """One image as a writer puts it on disk: the file's bytes and, maybe, a JSON sidecar."""

    data: bytes
    #: The sidecar's content (``NAME.json`` beside the image), or ``None`` for none.
    sidecar: Mapping[str, Any] | None
    #: True when ``data`` are the provider's signed bytes, untouched.
    signed: bool = False

    def sidecar_bytes(self) -> bytes | None:
        """The sidecar as the file holds it (indented JSON), or ``None``."""
        if self.sidecar is None:
            return None
        return json.dumps(self.sidecar, indent=2, ensure_ascii=False, default=str).encode()


def text_fields(meta: Mapping[str, Any]) -> dict[str, str]:
    """The metadata as text fields (``iTXt`` chunks, XMP): strings as they are, the rest JSON."""
    return {k: (v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str))
            for k, v in meta.items() if v is not None}


def _xmp(data: bytes, mime: str, fields: Mapping[str, str]) -> bytes | None:
    """``data`` with the kit's XMP, or ``None`` when it cannot take it (damaged, too big)."""
    model, created, tool = fields.get("model"), fields.get("created"), fields.get("software")
    existing = read_xmp_packet(data, mime)
    packet = merge_xmp(existing, fields, model=model, prompt=fields.get("prompt"),
                       created=created, tool=tool)
    if mime == "image/jpeg" and len(packet.encode()) > MAX_JPEG_XMP:
        # One segment holds 64 KB: a huge prompt stays in the sidecar; the AI mark never goes.
        slim = {k: v for k, v in fields.items() if k not in ("prompt", "parameters")}
        packet = merge_xmp(existing, slim, model=model, created=created, tool=tool)
    try:
        return with_xmp(data, mime, packet)
    except ValueError:
        return None


def file_parts(data: bytes, mime: str, meta: Mapping[str, Any], *,
               credentials: Mapping[str, Any] | None = None) -> FileParts:
    """The bytes to write for one image (with ``meta``, its metadata) and its sidecar, if any.

    ``credentials`` (what a check of the signature said) goes into a signed file's sidecar, so a
    reader of the sidecar sees what the kit saw; nothing is claimed for an unchecked file.
    """
    if carries_c2pa(data, mime):
        sidecar = dict(meta)
        sidecar["content_credentials"] = dict(credentials or {"state": "unchecked"})
        return FileParts(data, sidecar, signed=True)
    fields = text_fields(meta)
    tagged: bytes | None = None
    if mime == "image/png":
        try:
            tagged = add_png_text(data, fields)
        except (ValueError, OverflowError):
            tagged = None  # a PNG signature followed by garbage: as it came, plus a sidecar
    if options().xmp and mime in XMP_FORMATS:
        tagged = _xmp(tagged if tagged is not None else data, mime, fields) or tagged
    if mime == "image/png" and tagged is not None:
        return FileParts(tagged, None)
    return FileParts(tagged if tagged is not None else data, dict(meta))
