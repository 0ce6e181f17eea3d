"""An opt-in on-disk replay cache: identical requests are served from disk, offline and free.

A notebook re-run sends the same requests again; paying and waiting for the same pictures twice is
waste. The cache is keyed on the *whole* request body (model, prompt, input images as data URLs,
every parameter) plus the base URL, so a changed seed or a different server is a different entry.

On disk (``<root>`` defaults to :func:`default_cache_dir`)::

    <root>/entries/<key>/manifest.json   every ImageResult field except the image bytes,
                                         plus crc32/size/mime/index/file of each image
    <root>/entries/<key>/0.png ...       the image bytes exactly as the service sent them
    <root>/tmp/                          entries being written, and entries being deleted

Concurrency (two kernels, one cache): an entry is built in a private directory under ``tmp/`` and
published with one ``os.rename``, so readers see a whole entry or none; if another writer
published the same key first, theirs is kept. Deleting (eviction, corruption) renames the entry
into ``tmp/`` first and removes it there, for the same reason. A reader re-hashes every image
against its manifest, so a damaged entry (disk trouble, a crash before data reached the disk,
someone editing files) is removed and reported as a miss rather than served.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._exceptions import InvalidInputError, redact_data
from .._wire.common import Usage
from .._wire.dataurl import EXTENSIONS
from .labels import SIMULATED
from .paths import check_folder, writing
from .result import GeneratedImage, ImageResult

__all__ = ['FORMAT', 'CacheEntry', 'ReplayCache', 'default_cache_dir', 'load_entry', 'manifest_for']


# -- entries on disk: manifests --------------------------------------------------------------------

# Replay-cache manifests: an ``ImageResult`` as JSON (without its image bytes) and back.
#
# Reading is where damage is caught: every field is checked for type and range (a manifest nested
# too deep, ``created: 1e20`` or ``cost: "free"`` is damage, not a result), and every image is
# re-hashed against its recorded CRC-32 and size. Any inconsistency raises, and the cache then
# discards the entry and reports a miss.

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
    fields_ = redact_data(fields_)  # no remembered secret (a quoted key, say) goes to disk
    if result.offline:  # the replay is offline too, whichever client reads it back
        fields_[SIMULATED] = True
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
    simulated = fields_.get(SIMULATED, False)  # absent: a real answer (or an older manifest)
    if not isinstance(simulated, bool):
        raise ValueError("manifest simulated is not a boolean")
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
        _simulated=simulated,
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


# -- the cache -------------------------------------------------------------------------------------

_log = logging.getLogger("jupyter_imagegen")  # the kit's logger: its records are scrubbed

_KEY_SALT = "jupyter_imagegen-replay-v1"
_MANIFEST = "manifest.json"
_STALE_TMP_SECONDS = 3600.0  # a writer that has not finished within an hour has crashed


class ReplayCache:
    """A size-capped, multi-process-safe on-disk cache of :class:`ImageResult` values.

    ``key_for(body, base_url)`` names a request; ``get(key)`` returns the stored result (marked
    ``cached=True``, ``elapsed`` = lookup time) or ``None``; ``put(key, result)`` stores one. After
    each ``put`` the least recently used entries are evicted until the cache fits ``max_bytes``.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None, *, max_bytes: int = 1 << 30):
        if max_bytes < 0:
            raise InvalidInputError(f"max_bytes must be a number of bytes >= 0, not {max_bytes!r}")
        folder = Path(os.fspath(directory)) if directory is not None else default_cache_dir()
        self.directory = check_folder(folder, "replay cache")
        self.max_bytes = int(max_bytes)
        self._entries = self.directory / "entries"
        self._tmp = self.directory / "tmp"
        with writing(self.directory, "replay cache"):
            self._entries.mkdir(parents=True, exist_ok=True)
            self._tmp.mkdir(parents=True, exist_ok=True)

    # -- keys ---------------------------------------------------------------------------------

    @staticmethod
    def key_for(body: Mapping[str, Any], base_url: str) -> str:
        """SHA-256 of the canonical JSON of the request body (without ``stream``) and base URL.

        Streaming changes how a result arrives, not what it is, so ``stream`` is left out. The
        base URL is part of the key so the local server's pictures never answer for OpenRouter's.
        Only the body is hashed, never headers, so no credential can influence or leak via a key.
        """
        request = {k: v for k, v in body.items() if k != "stream"}
        canonical = json.dumps(
            {"salt": _KEY_SALT, "base_url": base_url.rstrip("/"), "body": request},
            sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    # -- reading ------------------------------------------------------------------------------

    def get(self, key: str) -> ImageResult | None:
        """The stored result for ``key``, verified byte for byte, or ``None`` (miss or damaged)."""
        started = time.perf_counter()
        entry = self._entry_path(key)
        identity: tuple[int, int] | None = None
        try:
            st = os.stat(entry)  # entries appear whole (one rename) or not at all
            identity = (st.st_ino, st.st_ctime_ns)
            raw = (entry / _MANIFEST).read_bytes()
            result = load_entry(entry, key, raw)
        except FileNotFoundError:
            if identity is not None:  # published, but a file is missing now: damaged or evicted
                self._discard_if_same(entry, identity)
            return None
        except (OSError, ValueError, KeyError, TypeError, RecursionError, OverflowError) as exc:
            # RecursionError/OverflowError: a foreign manifest nested very deep or with 1e400s
            _log.info("replay cache: discarding damaged entry %s (%s)", type(exc).__name__, key)
            self._discard_if_same(entry, identity)
            return None
        with contextlib.suppress(OSError):
            os.utime(entry / _MANIFEST)  # the manifest's mtime is the entry's last use (LRU)
        result.elapsed = time.perf_counter() - started
        return result

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and _valid_key(key) and (self._entry_path(key) / _MANIFEST).is_file()

    # -- writing ------------------------------------------------------------------------------

    def put(self, key: str, result: ImageResult) -> None:
        """Store ``result`` under ``key`` (atomically), then evict down to ``max_bytes``.

        A failure to write (disk full, read-only folder) is logged and otherwise ignored: the
        caller already has its result, and a cache must never cost a paid generation.
        """
        entry = self._entry_path(key)
        if not result.generated:
            return  # nothing worth replaying (the client raises NoImageError for these anyway)
        manifest = manifest_for(key, result)  # raises TypeError for non-JSON params, before any I/O
        if (entry / _MANIFEST).is_file():
            return  # identical request, already stored (by us or another kernel)
        try:
            self._publish(entry, result, manifest)
        except OSError as exc:
            _log.warning("replay cache: could not store %s in %s: %s", key, self.directory, exc)
            return
        self._evict()

    def _publish(self, entry: Path, result: ImageResult, manifest: dict[str, Any]) -> None:
        self._entries.mkdir(parents=True, exist_ok=True)  # cheap, and survives an ``rm -rf`` of the
        self._tmp.mkdir(parents=True, exist_ok=True)  # cache folder while a kernel is running
        tmp = Path(tempfile.mkdtemp(prefix="put-", dir=self._tmp))
        try:
            for image, record in zip(result.generated, manifest["images"], strict=True):
                (tmp / record["file"]).write_bytes(image.data)
            (tmp / _MANIFEST).write_bytes(json.dumps(manifest, separators=(",", ":")).encode())
            try:
                os.rename(tmp, entry)
            except OSError:
                if not entry.exists():
                    raise
                if not (entry / _MANIFEST).is_file():  # a damaged leftover: replace it once
                    self._discard(entry)
                    try:
                        os.rename(tmp, entry)
                    except OSError:
                        if not (entry / _MANIFEST).is_file():
                            raise
                # else another writer published the same key first: keep theirs
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _discard_if_same(self, entry: Path, identity: tuple[int, int] | None) -> None:
        """Discard ``entry`` only if it is still the directory we found damaged.

        Between our read and now another kernel may have evicted it and published a fresh
        (whole) entry under the same key; that one must survive. Inode numbers get reused, so the
        directory's change time is part of its identity.
        """
        try:
            st = os.stat(entry)
            if identity is not None and (st.st_ino, st.st_ctime_ns) != identity:
                return
        except OSError:
            return
        self._discard(entry)

    def _discard(self, entry: Path) -> None:
        """Unpublish ``entry`` with one rename, then delete it out of readers' sight."""
        trash = self._tmp / f"del-{uuid.uuid4().hex}"
        try:
            os.rename(entry, trash)
        except OSError:
            return  # already gone (another process evicted or discarded it)
        _remove(trash)

    # -- size cap -----------------------------------------------------------------------------

    def _scan(self) -> list[tuple[int, str, Path, int]]:
        """``(last_used_ns, key, path, bytes)`` for every entry directory; damaged ones sort first."""
        found = []
        try:
            listing = list(os.scandir(self._entries))
        except FileNotFoundError:
            return []
        for item in listing:
            if not item.is_dir(follow_symlinks=False):
                continue
            size, used = 0, -1
            try:
                for f in os.scandir(item.path):
                    st = f.stat(follow_symlinks=False)
                    size += st.st_size
                    if f.name == _MANIFEST:
                        used = st.st_mtime_ns
            except OSError:
                continue  # removed while we looked
            found.append((used, item.name, Path(item.path), size))
        return found

    def _evict(self) -> None:
        """Drop least recently used entries until the total fits ``max_bytes``; sweep stale temps."""
        entries = sorted(self._scan())
        total = sum(size for *_, size in entries)
        for _used, _key, path, size in entries:
            if total <= self.max_bytes:
                break
            self._discard(path)
            total -= size
        self._sweep_tmp()

    def _sweep_tmp(self) -> None:
        cutoff = time.time() - _STALE_TMP_SECONDS
        try:
            for item in os.scandir(self._tmp):
                try:
                    if item.stat(follow_symlinks=False).st_mtime < cutoff:
                        _remove(Path(item.path))
                except OSError:
                    continue
        except FileNotFoundError:
            pass

    # -- housekeeping -------------------------------------------------------------------------

    def clear(self) -> None:
        """Remove every entry."""
        for _used, _key, path, _size in self._scan():
            self._discard(path)

    def __len__(self) -> int:
        return sum(1 for used, *_ in self._scan() if used >= 0)

    @property
    def size_bytes(self) -> int:
        """Bytes used by all entries (images plus manifests)."""
        return sum(size for *_, size in self._scan())

    def entries(self) -> list[CacheEntry]:
        """Every published entry, most recently used first."""
        out = []
        for used, key, path, size in sorted(self._scan(), reverse=True):
            if used < 0:
                continue
            prompt = model = None
            try:
                result = json.loads((path / _MANIFEST).read_bytes())["result"]
                prompt, model = str(result["prompt"]), str(result["model"])
            except (OSError, ValueError, KeyError, TypeError, RecursionError):
                pass
            out.append(CacheEntry(key=key, path=path, size_bytes=size, prompt=prompt, model=model,
                                  last_used=datetime.fromtimestamp(used / 1e9, tz=timezone.utc)))
        return out

    def __iter__(self) -> Iterator[CacheEntry]:
        return iter(self.entries())

    def __repr__(self) -> str:
        return f"<ReplayCache {str(self.directory)!r} max_bytes={self.max_bytes}>"

    def _entry_path(self, key: str) -> Path:
        if not _valid_key(key):
            raise InvalidInputError(f"not a replay-cache key: {key!r} (keys come from cache.key_for "
                                    "or cache.entries())")
        return self._entries / key


# ---------------------------------------------------------------------------------------------
# Manifest encoding (pure)


def _remove(path: Path) -> None:
    """Delete a directory tree or a stray file, ignoring what is already gone."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _valid_key(key: str) -> bool:
    """A key is 64 lowercase hex digits, which also keeps it from naming any other path."""
    return len(key) == 64 and all(c in "0123456789abcdef" for c in key)
