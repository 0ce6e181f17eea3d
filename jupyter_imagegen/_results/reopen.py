"""Read an image the kit wrote (or its sidecar) back into a result: the recipe travels with it.

Where the recipe is, by what wrote it (:mod:`.provenance`): a sidecar ``NAME.json`` beside the
image (signed images, JPEG, WebP, anything else), the ``iTXt`` chunks of a PNG, or the kit's
fields in the XMP of a PNG, JPEG or WebP whose sidecar went missing. The first found wins, in that
order. The result has the file's bytes as its image and everything ``metadata()`` wrote (prompt,
model, parameters with the seed, provider, generation id, cost, when); the core turns its
parameters back into a request (``ig.open`` in :mod:`jupyter_imagegen._api`).

Files are foreign input: a field of the wrong type is dropped, never trusted.
"""

from __future__ import annotations

import calendar
import json
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._exceptions import InvalidInputError
from .._wire.common import Usage
from .._wire.containers import read_xmp_packet
from .._wire.dataurl import sniff_mime
from .._wire.pngmeta import read_png_text
from .._wire.xmp import read_xmp
from .labels import SIMULATED
from .result import GeneratedImage, ImageResult

__all__ = ["MAX_FILE_BYTES", "read_file", "read_recipe", "recipe_result", "sidecar_for"]

#: The largest image file read back (the kit's own limit on one image in an answer).
MAX_FILE_BYTES = 128 * 1024 * 1024
#: Fields the writers store as JSON text (in ``iTXt`` and XMP), decoded when read back.
_JSON_FIELDS = ("parameters", "cost", SIMULATED, "image_index")


def sidecar_for(path: Path) -> Path | None:
    """The sidecar of ``path`` that exists: ``fox.png.json`` (the kit's), else ``fox.json``."""
    for candidate in (path.with_name(path.name + ".json"), path.with_suffix(".json")):
        if candidate != path and candidate.is_file():
            return candidate
    return None


def _decoded(fields: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = dict(fields)
    for key in _JSON_FIELDS:
        if isinstance(out.get(key), str):
            try:
                out[key] = json.loads(out[key])
            except ValueError:
                del out[key]
    return out


def read_recipe(data: bytes, mime: str, sidecar: bytes | None = None) -> dict[str, Any] | None:
    """The metadata the kit wrote for this image, or ``None`` when it holds none."""
    if sidecar is not None:
        try:
            meta = json.loads(sidecar)
        except (ValueError, RecursionError):
            meta = None
        if isinstance(meta, dict) and isinstance(meta.get("prompt"), str):
            return meta
    if mime == "image/png":
        text = read_png_text(data)
        if "prompt" in text and "model" in text:
            return _decoded(text)
    packet = read_xmp_packet(data, mime)
    fields = read_xmp(packet) if packet else {}
    if "prompt" in fields and "model" in fields:
        return _decoded({k: v for k, v in fields.items() if ":" not in k})
    return None


def _created(value: object) -> float | None:
    """``2026-01-02T03:04:05Z`` (what ``metadata()`` writes) as a timestamp."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if not isinstance(value, str):
        return None
    try:
        return float(calendar.timegm(time.strptime(value.strip(), "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        return None


def _str(meta: Mapping[str, Any], key: str) -> str | None:
    value = meta.get(key)
    return value if isinstance(value, str) and value else None


def recipe_result(data: bytes, meta: Mapping[str, Any], mime: str | None = None) -> ImageResult:
    """A result holding ``data`` as its one image and ``meta`` (as :func:`read_recipe` gives it)."""
    params = meta.get("parameters")
    cost = meta.get("cost")
    index = meta.get("image_index")
    created = _created(meta.get("created"))
    return ImageResult(
        prompt=str(meta.get("prompt", "")), model=_str(meta, "model") or "unknown",
        requested_model=_str(meta, "requested_model"),
        generated=(GeneratedImage(data, mime or sniff_mime(data) or "application/octet-stream",
                                  index if isinstance(index, int) and index >= 0 else 0),),
        id=_str(meta, "generation_id"), provider=_str(meta, "provider"),
        usage=Usage(cost=float(cost) if isinstance(cost, (int, float)) and not isinstance(
            cost, bool) and math.isfinite(cost) else None),
        params=dict(params) if isinstance(params, dict) else {},
        created=created if created is not None else time.time(),
        _simulated=meta.get(SIMULATED) is True,
    )


def read_file(path: str | os.PathLike[str]) -> tuple[ImageResult, Path]:
    """The result recorded in an image file the kit wrote (or in its sidecar), and the image path.

    ``path`` may name the sidecar itself (``fox.png.json``). Raises :class:`InvalidInputError`
    for a file that is not there, too big, or holds no recipe of the kit's.
    """
    path = Path(os.fspath(path))
    if path.suffix.lower() == ".json" and Path(path.stem).suffix:  # fox.png.json -> fox.png
        path = path.with_name(path.stem)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InvalidInputError(f"{str(path)!r} is {size} bytes, over the {MAX_FILE_BYTES} "
                                    "bytes an image may have")
        data = path.read_bytes()
        car = sidecar_for(path)
        sidecar = car.read_bytes() if car is not None and car.stat().st_size < 1 << 24 else None
    except OSError as exc:
        raise InvalidInputError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    mime = sniff_mime(data)
    meta = read_recipe(data, mime or "", sidecar) if mime else None
    if meta is None:
        raise InvalidInputError(
            f"{str(path)!r} holds no recipe of jupyter_imagegen's (no prompt and model in its "
            "metadata, XMP or a .json sidecar beside it); only images the kit saved open")
    return recipe_result(data, meta, mime), path
