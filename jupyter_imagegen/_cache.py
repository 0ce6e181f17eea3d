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
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ._cache_manifest import CacheEntry, default_cache_dir
from ._cache_manifest import load_entry as _load_entry
from ._cache_manifest import manifest_for as _manifest_for
from ._results import ImageResult

__all__ = ["CacheEntry", "ReplayCache", "default_cache_dir"]

_log = logging.getLogger(__name__)

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
            raise ValueError("max_bytes must be >= 0")
        self.directory = Path(os.fspath(directory)) if directory is not None else default_cache_dir()
        self.max_bytes = int(max_bytes)
        self._entries = self.directory / "entries"
        self._tmp = self.directory / "tmp"
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
            result = _load_entry(entry, key, raw)
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
        manifest = _manifest_for(key, result)  # raises TypeError for non-JSON params, before any I/O
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
            raise ValueError(f"not a replay-cache key: {key!r}")
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
