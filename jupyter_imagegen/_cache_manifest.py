"""Replay-cache manifests: an ``ImageResult`` as JSON (without its image bytes) and back.

Reading is where damage is caught: every field is checked for type and range (a manifest nested
too deep, ``created: 1e20`` or ``cost: "free"`` is damage, not a result), and every image is
re-hashed against its recorded CRC-32 and size. Any inconsistency raises, and the cache then
discards the entry and reports a miss.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from ._dataurl import EXTENSIONS
from ._protocol import Usage
from ._results import GeneratedImage, ImageResult

__all__ = ["FORMAT", "CacheEntry", "default_cache_dir", "load_entry", "manifest_for"]

# Format 2 checks images with CRC-32 (format 1 used SHA-256): the check is there to catch
# accidental damage (truncation, bit flips), which CRC-32 does at a quarter of the cost, keeping a
# 1K hit near 0.3 ms. The cache is not a trust boundary: whoever can write it can write both.
FORMAT = 2
_USAGE_FIELDS = tuple(f.name for f in fields(Usage) if f.name != "raw")
_STR_FIELDS = ("prompt", "model", "text")
_OPTIONAL_STR_FIELDS = ("reasoning", "id", "provider", "finish_reason", "native_finish_reason",
                        "requested_model")


def default_cache_dir(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """``$JUPYTER_IMAGEGEN_CACHE``, else the platform's user cache directory plus ``replay``.

    Linux and others follow XDG (``$XDG_CACHE_HOME`` or ``~/.cache``); macOS uses
    ``~/Library/Caches``; Windows ``%LOCALAPPDATA%``. The environment is a parameter so tests
    never have to touch ``os.environ``.
    """
    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if env.get("JUPYTER_IMAGEGEN_CACHE"):
        return Path(env["JUPYTER_IMAGEGEN_CACHE"]).expanduser()
    if platform.startswith("win") and env.get("LOCALAPPDATA"):
        base = Path(env["LOCALAPPDATA"])
    elif platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return base / "jupyter_imagegen" / "replay"


@dataclass(frozen=True)
class CacheEntry:
    """One published cache entry, as :meth:`ReplayCache.entries` lists it."""

    key: str
    path: Path
    size_bytes: int
    last_used: datetime
    prompt: str | None = None
    model: str | None = None


def manifest_for(key: str, result: ImageResult) -> dict[str, Any]:
    """Everything about ``result`` except the image bytes, as JSON-ready data."""
    usage: dict[str, Any] = {name: getattr(result.usage, name) for name in _USAGE_FIELDS}
    usage["raw"] = dict(result.usage.raw)
    fields_: dict[str, Any] = {name: getattr(result, name)
                               for name in (*_STR_FIELDS, *_OPTIONAL_STR_FIELDS)}
    fields_.update(usage=usage, params=dict(result.params), created=float(result.created),
                   original_elapsed=result.elapsed)
    images = [{"file": f"{position}{EXTENSIONS.get(g.mime, '.bin')}", "mime": g.mime, "index": g.index,
               "bytes": len(g.data), "crc32": zlib.crc32(g.data)}
              for position, g in enumerate(result.generated)]
    manifest = {"format": FORMAT, "key": key, "stored": time.time(), "result": fields_,
                "images": images}
    json.dumps(manifest, allow_nan=False)  # fail early (TypeError/ValueError) on non-JSON params
    return manifest


def load_entry(entry: Path, key: str, raw: bytes) -> ImageResult:
    """Rebuild the result from a manifest, re-hashing every image; raise on any inconsistency."""
    manifest = json.loads(raw)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("key") != key:
        raise ValueError("manifest has the wrong format or key")
    fields_ = manifest["result"]
    records = manifest["images"]
    if not isinstance(fields_, dict) or not isinstance(records, list) or not records:
        raise ValueError("manifest is incomplete")
    generated = []
    for record in records:
        name = record["file"]
        if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"bad image file name {name!r}")
        data = (entry / name).read_bytes()
        if len(data) != record["bytes"] or zlib.crc32(data) != record["crc32"]:
            raise ValueError(f"image {name} does not match its checksum")
        if not isinstance(record["index"], int) or isinstance(record["index"], bool):
            raise ValueError("image index is not an integer")
        generated.append(GeneratedImage(data=data, mime=_str(record["mime"]), index=record["index"]))
    usage = fields_["usage"]
    if not isinstance(usage, dict) or not isinstance(usage.get("raw"), dict):
        raise ValueError("manifest usage is malformed")
    params = fields_["params"]
    if not isinstance(params, dict):
        raise ValueError("manifest params are malformed")
    for name in _USAGE_FIELDS:
        value = usage[name]
        if name in ("cost", "upstream_cost") and value is None:
            continue
        if name == "is_byok":
            if not isinstance(value, bool):
                raise ValueError("manifest usage.is_byok is not a boolean")
            continue
        if not _finite(value, -1e12 if name.endswith("cost") else 0, 1e15):
            raise ValueError(f"manifest usage.{name} is not a number in range")
        if not name.endswith("cost") and not isinstance(value, int):
            raise ValueError(f"manifest usage.{name} is not an integer")
    if not _finite(fields_["created"], 0, 253402300799):  # datetime's range: up to year 9999
        raise ValueError("manifest created is not a time")
    return ImageResult(
        prompt=_str(fields_["prompt"]),
        model=_str(fields_["model"]),
        generated=tuple(generated),
        text=_str(fields_["text"]),
        reasoning=_optional_str(fields_["reasoning"]),
        id=_optional_str(fields_["id"]),
        provider=_optional_str(fields_["provider"]),
        usage=Usage(**{name: usage[name] for name in _USAGE_FIELDS}, raw=usage["raw"]),
        finish_reason=_optional_str(fields_["finish_reason"]),
        native_finish_reason=_optional_str(fields_["native_finish_reason"]),
        params=params,
        requested_model=_optional_str(fields_["requested_model"]),
        created=float(fields_["created"]),
        cached=True,
    )


def _finite(value: Any, low: float, high: float) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and low <= value <= high)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _optional_str(value: Any) -> str | None:
    return None if value is None else _str(value)
