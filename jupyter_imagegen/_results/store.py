"""A per-folder (or per-notebook) store of every generated image, searchable from Python.

Images are written with :meth:`ImageResult.save` (a signed image byte for byte with a JSON
sidecar; others with their metadata and the XMP AI mark in the file, see :mod:`.provenance`) under
``<store>/<yyyy-mm>/``, and one JSON line per image, the request as sent, is appended to
``<store>/index.jsonl``. The index is append-only: each line goes out in a single ``write`` on an
``O_APPEND`` descriptor, so two kernels appending at once interleave whole lines, never bytes. A line
torn by a crash is skipped when reading, and the next writer starts on a fresh line.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import io
import json
import math
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from datetime import time as dtime
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, TypeAlias
from urllib.parse import quote

from PIL import Image, ImageDraw, ImageFont

from .._exceptions import InvalidInputError, redact_data, scrub
from .credentials import ContentCredentials, check_credentials
from .labels import SIMULATED
from .paths import check_file, check_folder, writing
from .reopen import read_file
from .result import GeneratedImage, ImageResult
from .safeimage import open_image, safe_to_link

__all__ = ['ImageStore', 'StoreEntry', 'contact_sheet', 'export_html', 'header_size', 'parse_lines']


# -- reading the index -----------------------------------------------------------------------------

# Reading store index lines: a foreign or damaged record is skipped, never fatal.
#
# Why: one record with ``created: 1e20``, ``NaN`` or non-dict params broke every store operation,
# and index paths outside the store (``../x.png``, absolute ones) were listed and put in galleries.

def parse_lines(lines: Sequence[bytes]) -> list[dict[str, Any]]:
    """Well-formed records only: blank, torn or foreign lines are skipped, never fatal."""
    out = []
    for raw in lines:
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: foreign JSON nested very deep
            continue
        if _well_formed(record):
            out.append(record)
    return out


def _number(value: Any, low: float, high: float) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and low <= value <= high)


def _inside(path: str) -> bool:
    """A relative path that stays inside the store (no ``..``, no absolute path, no NUL)."""
    pure = PurePosixPath(path.replace("\\", "/"))
    return (bool(path) and "\0" not in path and not pure.is_absolute() and ".." not in pure.parts
            and not PureWindowsPath(path).drive)


def _well_formed(record: Any) -> bool:
    """A record the store can use without raising: foreign or damaged ones are skipped."""
    if not isinstance(record, dict):
        return False
    if "star" in record:  # a pick: which file, starred or not
        return isinstance(record["star"], str) and _inside(record["star"]) \
            and isinstance(record.get("starred"), bool)
    try:
        return (isinstance(record.get("path"), str) and _inside(record["path"])
                and _number(record.get("created"), 0, 253402300799)  # up to 9999-12-31
                and isinstance(record.get("prompt"), str) and isinstance(record.get("model"), str)
                and isinstance(record.get("params", {}), dict)
                and (record.get("cost") is None or _number(record["cost"], -1e12, 1e12))
                and _number(record.get("index", 0), 0, 1 << 31)
                and isinstance(record.get("index", 0), int)
                and all(record.get(k) is None or (_number(record[k], 0, 1 << 31)
                                                  and isinstance(record[k], int))
                        for k in ("width", "height"))
                and all(record.get(k) is None or isinstance(record[k], str)
                        for k in ("mime", "sha256", "generation_id", "credentials"))
                and isinstance(record.get(SIMULATED, False), bool))
    except (TypeError, ValueError, OverflowError):
        return False


# -- views: contact sheet and HTML gallery ---------------------------------------------------------

# Views of an image store: a contact sheet image and a self-contained HTML gallery.
#
# Both read the store's files and never decode more than a thumbnail's worth per entry (pixel-capped
# by :mod:`.safeimage`); the gallery embeds JPEG thumbnails, escapes every string, runs no script
# and links only files that are raster images inside the store.


def contact_sheet(
    chosen: list[StoreEntry],
    *,
    columns: int = 4,
    thumb: int = 256,
    captions: bool = True,
) -> Image.Image:
    """One RGB image with a ``thumb``-pixel cell per entry on a ``columns``-wide grid.

    Each cell holds the image scaled to fit (never enlarged), centred, and with ``captions``
    two lines under it: the prompt and the model, cut to the cell's width.
    """
    if not chosen:
        raise InvalidInputError("no images for a contact sheet: the store (or the selection) is empty")
    font = ImageFont.load_default()
    line = _line_height(font) if captions else 0
    pad = 6
    cell_w, cell_h = thumb + 2 * pad, thumb + 2 * pad + 2 * line
    per_row = max(1, min(columns, len(chosen)))
    rows = -(-len(chosen) // per_row)
    sheet = Image.new("RGB", (per_row * cell_w, rows * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    for n, entry in enumerate(chosen):
        x, y = (n % per_row) * cell_w + pad, (n // per_row) * cell_h + pad
        picture = _thumbnail(entry.path, thumb)
        sheet.paste(picture, (x + (thumb - picture.width) // 2, y + (thumb - picture.height) // 2))
        if captions:
            for k, caption in enumerate((entry.prompt, entry.model)):
                text = _fit(draw, font, caption, thumb)
                draw.text((x, y + thumb + k * line + 1), text, fill=(60, 60, 60) if k else "black",
                          font=font)
    return sheet

def export_html(chosen: list[StoreEntry], path: str | os.PathLike[str], store_name: str) -> Path:
    """Write a self-contained HTML gallery (no scripts) and return its path.

    Thumbnails are embedded as JPEG data URLs, so the page shows without the store next to
    it; each links (relatively) to the original file. Every string is HTML-escaped.
    """
    target = check_file(Path(os.fspath(path)), "gallery page")  # never a device: see .paths
    cards = "".join(_card(entry, target.parent) for entry in chosen)
    title = f"jupyter_imagegen gallery: {len(chosen)} images from {store_name}"
    page = _PAGE.format(title=html.escape(title), cards=cards)
    with writing(target, "gallery page"):
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(page)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return target


# ---------------------------------------------------------------------------------------------
# Helpers (pure or read-only)

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1em;background:#fafafa}}
.grid{{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:12px}}
figure{{margin:0;padding:8px;background:#fff;border:1px solid #ddd;border-radius:6px}}
img{{width:100%;height:auto;display:block}}
figcaption{{font-size:0.85em;white-space:pre-wrap;overflow-wrap:anywhere}}
.meta{{opacity:0.7}}
</style></head>
<body><h1>{title}</h1><div class="grid">{cards}</div></body></html>
"""


def _card(entry: StoreEntry, base: Path) -> str:
    href = quote(Path(os.path.relpath(entry.path, base)).as_posix())
    try:
        with open(entry.path, "rb") as fh:
            linkable = safe_to_link(fh.read(1024))  # never link an SVG (it runs script when opened)
    except OSError:
        linkable = False
    buffer = io.BytesIO()
    _thumbnail(entry.path, 256).save(buffer, format="JPEG", quality=80)
    src = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    meta = [entry.model, f"{entry.created.astimezone():%Y-%m-%d %H:%M}"]
    if entry.width and entry.height:
        meta.append(f"{entry.width}x{entry.height}")
    if entry.cost is not None:
        meta.append(f"{SIMULATED} ${entry.cost:.4f}" if entry.simulated else f"${entry.cost:.4f}")
    signed = entry.credentials.label()  # checked now, from the file as it is
    if signed:
        meta.append(signed)
    alt = html.escape(entry.prompt)
    image = f'<img src="{src}" alt="{alt}" title="{alt}">'
    link = f'<a href="{html.escape(href)}">{image}</a>' if linkable else image
    return (f'<figure>{link}'
            f'<figcaption>{alt}<br><span class="meta">{html.escape(" · ".join(meta))}</span>'
            "</figcaption></figure>")


def header_size(data: bytes) -> tuple[int | None, int | None]:
    """Pixel size from the image header alone (no decode), or ``(None, None)``."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
    except Exception:  # Pillow raises many types for unknown data
        return None, None
    return int(width), int(height)


def _thumbnail(path: Path, size: int) -> Image.Image:
    """An RGB thumbnail fitting ``size`` x ``size``; a grey placeholder if the file won't open."""
    try:
        with open(path, "rb") as fh, open_image(fh, draft=size) as opened:  # capped; JPEG: draft
            picture = opened.convert("RGBA")
    except Exception:  # a missing or undecodable file must not break a whole gallery
        return Image.new("RGB", (size, size), (200, 200, 200))
    picture.thumbnail((size, size))
    flat = Image.new("RGB", picture.size, "white")
    flat.paste(picture, mask=picture.getchannel("A"))
    return flat


def _line_height(font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> int:
    _left, top, _right, bottom = font.getbbox("Ag")
    return int(bottom - top) + 4


def _fit(
    draw: ImageDraw.ImageDraw, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, text: str, width: int
) -> str:
    """``text`` on one line, cut with ``...`` to fit ``width`` pixels (unrenderable characters: ``?``)."""
    text = " ".join(text.split())
    if not isinstance(font, ImageFont.FreeTypeFont):
        text = text.encode("latin-1", "replace").decode("latin-1")
    if draw.textlength(text, font=font) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix that fits together with the ellipsis
        mid = (lo + hi + 1) // 2
        if draw.textlength(text[:mid] + "...", font=font) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + "..."


# -- the store -------------------------------------------------------------------------------------

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: O_APPEND alone
    fcntl = None  # type: ignore[assignment]


_INDEX = "index.jsonl"
#: What ``import_folder`` looks at: the image files the kit writes.
_IMPORTABLE = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".svg")
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
    #: True when the image came from the offline renderer: ``cost`` was simulated, nobody paid.
    simulated: bool = False
    #: Starred (a pick): :meth:`ImageStore.star` sets it, :meth:`ImageStore.picks` lists them.
    starred: bool = False

    @property
    def credentials(self) -> ContentCredentials:
        """The file's C2PA Content Credentials, checked now (``state`` ``none`` when unsigned)."""
        try:
            with open(self.path, "rb") as fh:
                data = fh.read()
        except OSError:
            return ContentCredentials("unknown")
        return check_credentials(data, self.mime)

    @property
    def image(self) -> Image.Image:
        """The image, read from disk now (nothing is kept in memory before that)."""
        with open(self.path, "rb") as fh:
            return open_image(fh, index=self.index)  # pixel-capped

    def __repr__(self) -> str:
        prompt = self.prompt if len(self.prompt) <= 50 else self.prompt[:47] + "..."
        return scrub(f"<StoreEntry {self.created:%Y-%m-%d %H:%M} {self.model} {self.width}x"
                     f"{self.height} prompt={prompt!r}>")


class ImageStore:
    """Every image added, on disk under ``directory``, with an index to search and export.

    ``add(result)`` stores a result; ``search(...)``, ``latest(n)``, iteration and ``len`` browse
    it; ``contact_sheet()`` and ``export_html(path)`` show it. Entries whose file was deleted by
    hand are skipped.
    """

    def __init__(self, directory: str | os.PathLike[str] = "imagegen-store"):
        self.directory = Path(os.fspath(directory))  # checked where written: see add()
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
        try:
            stale = [*self.directory.glob(".*.tmp"), *self.directory.glob("*/.*.tmp")]
        except (OSError, ValueError):  # cannot be listed (3.13 globs raise ValueError on a NUL):
            return                       # add() says why, with a typed PathError
        for tmp in stale:
            with contextlib.suppress(OSError):
                if tmp.is_file() and tmp.stat().st_mtime < cutoff:
                    tmp.unlink()

    def orphans(self) -> list[Path]:
        """Image files in the store that no index entry names (a save killed before indexing).

        Their provenance is in the file's metadata or its ``.json`` sidecar:
        ``import_folder(store.directory)`` indexes them where they are.
        """
        known = {(self.directory / r["path"]).resolve() for r in self._load() if "path" in r}
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
        with self._lock, writing(self.directory, "image store"):
            check_folder(self.directory, "image store")  # before the first write: typed errors
            return self._add(result, dedupe=dedupe)

    def _add(self, result: ImageResult, *, dedupe: bool) -> list[StoreEntry]:
        known = {r.get("sha256"): r for r in self._load() if "prompt" in r} if dedupe else {}
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
            record = self._record(result, g, path)
            self._append(record)
            known[digest] = record
            entries.append(self._entry(record))
        return entries

    def _record(self, result: ImageResult, g: GeneratedImage, path: Path) -> dict[str, Any]:
        """The index line of one image: the request as sent (``params``, the kit's seed too)."""
        data = g.data
        width, height = header_size(data)
        record: dict[str, Any] = {
            "v": _FORMAT, "path": path.relative_to(self.directory).as_posix(),
            "prompt": result.prompt, "model": result.model,
            "requested_model": result.requested_model, "generation_id": result.id,
            "provider": result.provider, "created": result.created, "cost": result.cost,
            "params": dict(result.params), "index": g.index, "mime": g.mime,
            "width": width, "height": height, "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
        }
        if result.offline:  # absent for real answers, as in what save() writes
            record[SIMULATED] = True
        if g.credentials.present:  # what the check said when it was added
            record["credentials"] = g.credentials.state
        return redact_data(record)  # type: ignore[no-any-return]

    def import_folder(self, folder: str | os.PathLike[str], *,
                      recursive: bool = True) -> list[StoreEntry]:
        """Add every image the kit wrote under ``folder``; return their entries.

        Each file is read as ``ig.open`` reads it (its metadata, XMP or ``.json`` sidecar);
        files that hold no recipe of the kit's are skipped. Files from elsewhere are copied in
        (signed ones byte for byte); files already inside the store that no entry names (see
        :meth:`orphans`) are indexed where they are. Bytes already in the store are not added
        twice.
        """
        root = Path(os.fspath(folder))
        if not root.is_dir():
            raise InvalidInputError(f"{str(root)!r} is not a folder")
        paths = sorted(p for p in (root.rglob("*") if recursive else root.glob("*"))
                       if p.is_file() and not p.name.startswith(".")
                       and p.suffix.lower() in _IMPORTABLE and p.name != _INDEX)
        orphans = set(self.orphans())
        entries: list[StoreEntry] = []
        with self._lock:
            for path in paths:
                try:
                    result, _ = read_file(path)
                except InvalidInputError:
                    continue  # not an image the kit wrote
                if path.resolve() in {o.resolve() for o in orphans}:
                    record = self._record(result, result.generated[0], path)
                    self._append(record)
                    entries.append(self._entry(record))
                elif self._inside_store(path):
                    continue  # indexed already
                else:
                    entries.extend(self._add(result, dedupe=True))
        return entries

    def _inside_store(self, path: Path) -> bool:
        try:
            path.resolve().relative_to(self.directory.resolve())
        except ValueError:
            return False
        return True

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
            self._records.extend(parse_lines(complete.split(b"\n")))
            self._offset += len(complete) + 1
        # An unterminated last line is either being written or torn: read it, but not for good.
        return self._records + parse_lines([tail])

    def star(self, entry: StoreEntry | ImageResult | str | os.PathLike[str],
             starred: bool = True) -> None:
        """Star (or unstar) an entry: a pick, kept in the index so a session ends with a short list.

        Appended like every record (so concurrent kernels never tear the index); the latest
        star record of a file wins. A result stars each of its images: added first if the
        store does not hold them yet (never a second copy: :meth:`add` dedupes).
        """
        if isinstance(entry, ImageResult):
            for kept in self.add(entry):
                self.star(kept, starred)
            return
        path = Path(entry.path if isinstance(entry, StoreEntry) else entry)
        path = path if path.is_absolute() else self.directory / path
        if not self._inside_store(path) or not path.is_file():
            raise InvalidInputError(f"{path} is not an image in this store ({self.directory})")
        relative = path.resolve().relative_to(self.directory.resolve()).as_posix()
        with self._lock:
            self._append({"star": relative, "starred": bool(starred), "at": time.time()})

    def picks(self) -> list[StoreEntry]:
        """The starred entries, oldest first."""
        return [entry for entry in self._all() if entry.starred]

    def _entry(self, record: Mapping[str, Any], stars: Mapping[str, bool] | None = None) -> StoreEntry:
        return StoreEntry(
            path=self.directory / record["path"],
            prompt=str(record["prompt"]), model=str(record["model"]),
            generation_id=record.get("generation_id"),
            created=datetime.fromtimestamp(float(record["created"]), tz=timezone.utc),
            cost=record.get("cost"), params=dict(record.get("params") or {}),
            index=int(record.get("index", 0)), mime=str(record.get("mime", "")),
            width=record.get("width"), height=record.get("height"), sha256=record.get("sha256"),
            simulated=record.get(SIMULATED) is True,
            starred=(stars or {}).get(str(record["path"]), False),
        )

    def _all(self) -> list[StoreEntry]:
        records = self._load()
        stars = {str(r["star"]): r.get("starred") is True for r in records if "star" in r}
        return [e for e in (self._entry(r, stars) for r in records if "prompt" in r)
                if e.path.is_file()]

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
