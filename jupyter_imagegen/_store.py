"""A per-folder (or per-notebook) store of every generated image, searchable from Python.

Images are written with :meth:`ImageResult.save` (the original bytes, metadata in the PNG or a
JSON sidecar) under ``<store>/<yyyy-mm>/``, and one JSON line per image is appended to
``<store>/index.jsonl``. The index is append-only: each line goes out in a single ``write`` on an
``O_APPEND`` descriptor, so two kernels appending at once interleave whole lines, never bytes. A line
torn by a crash is skipped when reading, and the next writer starts on a fresh line.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from datetime import time as dtime
from pathlib import Path
from typing import Any, TypeAlias

from PIL import Image

from ._results import ImageResult
from ._safeimage import open_image
from ._store_views import contact_sheet, export_html
from ._store_views import header_size as _header_size
from ._storeindex import parse_lines as _parse_lines

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: O_APPEND alone
    fcntl = None  # type: ignore[assignment]

__all__ = ["ImageStore", "StoreEntry"]

_INDEX = "index.jsonl"
_STALE_TMP_SECONDS = 600.0  # a save takes milliseconds; an older temporary file is a crash's
_FORMAT = 1

DateLike: TypeAlias = datetime | date | str


@dataclass(frozen=True)
class StoreEntry:
    """One stored image and the provenance it was generated with."""

    path: Path
    prompt: str
    model: str
    generation_id: str | None
    created: datetime
    cost: float | None
    params: Mapping[str, Any] = field(hash=False)
    index: int
    mime: str
    width: int | None
    height: int | None
    sha256: str | None = None

    @property
    def image(self) -> Image.Image:
        """The image, read from disk now (nothing is kept in memory before that)."""
        with open(self.path, "rb") as fh:
            return open_image(fh, index=self.index)  # pixel-capped

    def __repr__(self) -> str:
        prompt = self.prompt if len(self.prompt) <= 50 else self.prompt[:47] + "..."
        return (f"<StoreEntry {self.created:%Y-%m-%d %H:%M} {self.model} {self.width}x{self.height} "
                f"prompt={prompt!r}>")


class ImageStore:
    """Every image added, on disk under ``directory``, with an index to search and export.

    ``add(result)`` stores a result; ``search(...)``, ``latest(n)``, iteration and ``len`` browse
    it; ``contact_sheet()`` and ``export_html(path)`` show it. Entries whose file was deleted by
    hand are skipped.
    """

    def __init__(self, directory: str | os.PathLike[str] = "imagegen-store"):
        self.directory = Path(os.fspath(directory))
        self._index = self.directory / _INDEX
        self._records: list[dict[str, Any]] = []
        self._offset = 0  # bytes of the index already parsed (always just after a newline)
        self._identity: tuple[int, int] | None = None
        # One store is shared by a batch's threads: the parsed-index state is guarded, and so is
        # add() (dedupe reads, then writes). Other kernels are covered by the append lock.
        self._lock = threading.RLock()
        self._sweep_tmp()

    def _sweep_tmp(self) -> None:
        """Remove hidden ``.tmp`` files a killed save left behind (older than a writer can be)."""
        cutoff = time.time() - _STALE_TMP_SECONDS
        for tmp in [*self.directory.glob(".*.tmp"), *self.directory.glob("*/.*.tmp")]:
            with contextlib.suppress(OSError):
                if tmp.is_file() and tmp.stat().st_mtime < cutoff:
                    tmp.unlink()

    def orphans(self) -> list[Path]:
        """Image files in the store that no index entry names (a save killed before indexing).

        ``add_orphans()`` is not offered: their provenance is in the PNG metadata or the
        ``.json`` sidecar, so they can be inspected, then re-added or deleted by hand.
        """
        known = {(self.directory / r["path"]).resolve() for r in self._load()}
        return sorted(p for p in self.directory.glob("*/*")
                      if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in
                      (".png", ".jpg", ".jpeg", ".webp", ".gif", ".svg", ".bin")
                      and p.resolve() not in known)

    @classmethod
    def for_notebook(cls, notebook: str | os.PathLike[str]) -> ImageStore:
        """The store next to a notebook: ``analysis.ipynb`` -> ``analysis.imagegen/``."""
        path = Path(os.fspath(notebook))
        return cls(path.parent / f"{path.stem}.imagegen")

    # -- adding -------------------------------------------------------------------------------

    def add(self, result: ImageResult, *, dedupe: bool = True) -> list[StoreEntry]:
        """Save every image of ``result`` and index it; return one entry per image.

        With ``dedupe`` (the default) an image whose bytes are already in the store is not
        saved again (a replayed, cached result re-run in a notebook), and its existing entry
        is returned instead.
        """
        with self._lock:
            return self._add(result, dedupe=dedupe)

    def _add(self, result: ImageResult, *, dedupe: bool) -> list[StoreEntry]:
        known = {r.get("sha256"): r for r in self._load()} if dedupe else {}
        month = time.strftime("%Y-%m", time.localtime(result.created))
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(result.created))
        folder = str(self.directory / month).replace("{", "{{").replace("}", "}}")
        # A random part keeps two kernels saving the same prompt in the same second apart.
        unique = uuid.uuid4().hex[:8]
        pattern = os.path.join(folder, f"{stamp}-{{prompt}}-{{model}}-{unique}-{{index}}{{ext}}")
        entries = []
        for g in result.generated:
            digest = hashlib.sha256(g.data).hexdigest()
            if digest in known and (self.directory / known[digest]["path"]).exists():
                entries.append(self._entry(known[digest]))
                continue
            (path,) = replace(result, generated=(g,)).save(pattern)
            width, height = _header_size(g.data)
            record = {
                "v": _FORMAT, "path": path.relative_to(self.directory).as_posix(),
                "prompt": result.prompt, "model": result.model,
                "requested_model": result.requested_model, "generation_id": result.id,
                "provider": result.provider, "created": result.created, "cost": result.cost,
                "params": dict(result.params), "index": g.index, "mime": g.mime,
                "width": width, "height": height, "sha256": digest, "bytes": len(g.data),
            }
            self._append(record)
            known[digest] = record
            entries.append(self._entry(record))
        return entries

    def _append(self, record: Mapping[str, Any]) -> None:
        """One ``write`` of one line on an ``O_APPEND`` descriptor: concurrent appends stay whole."""
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str).encode()
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._index, os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        try:
            if fcntl is not None:  # serialise the torn-line check with other kernels' appends
                fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size:
                os.lseek(fd, size - 1, os.SEEK_SET)
                if os.read(fd, 1) != b"\n":  # a torn line from a crash: do not glue onto it
                    line = b"\n" + line
            os.write(fd, line + b"\n")
        finally:
            os.close(fd)

    # -- reading ------------------------------------------------------------------------------

    def _load(self) -> list[dict[str, Any]]:
        with self._lock:
            return self._load_unlocked()

    def _load_unlocked(self) -> list[dict[str, Any]]:
        """All well-formed index records, reading only what was appended since the last call."""
        try:
            with open(self._index, "rb") as fh:
                st = os.fstat(fh.fileno())
                identity = (st.st_dev, st.st_ino)
                if identity != self._identity or st.st_size < self._offset:  # replaced or truncated
                    self._records, self._offset, self._identity = [], 0, identity
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            self._records, self._offset, self._identity = [], 0, None
            return []
        complete, newline, tail = data.rpartition(b"\n")
        if newline:
            self._records.extend(_parse_lines(complete.split(b"\n")))
            self._offset += len(complete) + 1
        # An unterminated last line is either being written or torn: read it, but not for good.
        return self._records + _parse_lines([tail])

    def _entry(self, record: Mapping[str, Any]) -> StoreEntry:
        return StoreEntry(
            path=self.directory / record["path"],
            prompt=str(record["prompt"]), model=str(record["model"]),
            generation_id=record.get("generation_id"),
            created=datetime.fromtimestamp(float(record["created"]), tz=timezone.utc),
            cost=record.get("cost"), params=dict(record.get("params") or {}),
            index=int(record.get("index", 0)), mime=str(record.get("mime", "")),
            width=record.get("width"), height=record.get("height"), sha256=record.get("sha256"),
        )

    def _all(self) -> list[StoreEntry]:
        return [e for e in map(self._entry, self._load()) if e.path.is_file()]

    def __iter__(self) -> Iterator[StoreEntry]:
        """Entries in the order they were added (oldest first)."""
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def latest(self, n: int = 1) -> list[StoreEntry]:
        """The ``n`` most recently added entries, newest first."""
        return self._all()[::-1][:max(0, n)]

    def search(
        self,
        text: str | None = None,
        *,
        model: str | None = None,
        since: DateLike | None = None,
        until: DateLike | None = None,
        limit: int | None = None,
    ) -> list[StoreEntry]:
        """Entries matching every given filter, newest first.

        ``text`` matches when every word of it occurs in the prompt (case-insensitive);
        ``model`` matches an exact id or any part of one; ``since`` and ``until`` are inclusive
        bounds given as datetimes, dates (a whole day) or ISO strings; naive values mean local time.
        """
        words = text.casefold().split() if text else []
        wanted_model = model.casefold() if model else None
        start = _bound(since, end=False) if since is not None else None
        stop = _bound(until, end=True) if until is not None else None
        found = []
        for entry in reversed(self._all()):
            prompt = entry.prompt.casefold()
            if any(word not in prompt for word in words):
                continue
            if wanted_model is not None and wanted_model not in entry.model.casefold():
                continue
            if (start is not None and entry.created < start) or (stop is not None and entry.created > stop):
                continue
            found.append(entry)
            if limit is not None and len(found) >= limit:
                break
        return found

    def __repr__(self) -> str:
        return f"<ImageStore {len(self)} images in {str(self.directory)!r}>"

    # -- exporting ----------------------------------------------------------------------------

    def contact_sheet(self, entries: Iterable[StoreEntry] | None = None, *, columns: int = 4,
                      thumb: int = 256, captions: bool = True) -> Image.Image:
        """One RGB image with a ``thumb``-pixel cell per entry on a ``columns``-wide grid."""
        return contact_sheet(list(self if entries is None else entries), columns=columns,
                             thumb=thumb, captions=captions)

    def export_html(self, path: str | os.PathLike[str], entries: Iterable[StoreEntry] | None = None) -> Path:
        """Write a self-contained HTML gallery (no scripts) and return its path."""
        return export_html(list(self if entries is None else entries), path, self.directory.name)


def _bound(value: DateLike, *, end: bool) -> datetime:
    """An aware datetime for a ``since``/``until`` value; a bare date covers its whole day."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    if not isinstance(value, datetime):
        value = datetime.combine(value, dtime.max if end else dtime.min)
    return value.astimezone() if value.tzinfo is None else value


