"""File names and writes for saved images: names every OS accepts, unique under concurrency, atomic.

Why: eight threads saving the same prompt and model in the same second got three files (each
checked ``exists()`` and then replaced the same name); ``CON.png`` is a device on Windows, and
over-long or NUL names raised raw ``OSError``/``ValueError``.
"""

from __future__ import annotations

import os
import re
import struct
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .._exceptions import InvalidInputError, PathError
from .._wire.pngmeta import add_png_text
from .paths import path_error, writing

__all__ = ["atomic_write", "claim_name", "png_with_text", "safe_name", "slug"]


def png_with_text(data: bytes, mime: str, text: Mapping[str, str]) -> bytes | None:
    """PNG bytes with ``text`` as ``iTXt`` chunks, or ``None`` when they are not a whole PNG."""
    if mime != "image/png":
        return None
    try:
        return add_png_text(data, text)
    except (ValueError, struct.error):  # a PNG signature followed by garbage
        return None


_RESERVED = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
                       *(f"lpt{i}" for i in range(10))})
_MAX_NAME = 200  # bytes: file systems allow 255, and the temporary name adds a little


def safe_name(path: Path) -> Path:
    """``path`` with a name every OS accepts: NUL refused, Windows device names and long names fixed.

    Linear in the name's length: a long name is cut once, at a UTF-8 character boundary (cutting
    one character at a time and encoding again took 8.7 s for a 200,000-character prompt).
    """
    if "\0" in str(path):
        raise PathError(f"file name {str(path)[:120]!r} contains a NUL character; pass another "
                        "target", path=str(path))
    stem, suffix = path.stem, path.suffix
    if len(suffix.encode("utf-8", "surrogateescape")) > 16:  # "a.<300 letters>": no real suffix
        stem, suffix = path.name, ""
    if stem.split(".")[0].rstrip(" ").lower() in _RESERVED:  # CON.png opens the console on Windows
        stem = f"_{stem}"
    room = _MAX_NAME - len(suffix.encode("utf-8", "surrogateescape"))
    encoded = stem.encode("utf-8", "surrogateescape")
    if len(encoded) > room:
        stem = encoded[:room].decode("utf-8", "ignore")  # a cut character is dropped whole
    if not stem.strip(" ."):
        raise PathError(f"file name {path.name[:80]!r}... has nothing left to name a file with; "
                        "pass a shorter one", path=str(path))
    return path.with_name(stem + suffix)


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temporary file and ``os.replace`` so a crash never leaves a half-written image."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:40]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; saved images are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def claim_name(path: Path) -> Path:
    """``path``, or ``stem-N`` beside it, created empty with ``O_EXCL`` so no other writer gets it."""
    with writing(path.parent, "image folder"):
        path.parent.mkdir(parents=True, exist_ok=True)
    for n in range(10_000):
        candidate = path if n == 0 else path.with_name(f"{path.stem}-{n}{path.suffix}")
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            continue
        except OSError as exc:
            raise path_error(exc, candidate, "image file") from None
        return candidate
    raise InvalidInputError(f"cannot find a free file name like {str(path)!r}; pass another "
                            "target or overwrite=True")


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def slug(text: str, limit: int = 40) -> str:
    """A file-name-safe slug: model ids contain ``/``, prompts anything at all."""
    slug = _UNSAFE.sub("-", text.strip()).strip("-._")[:limit].strip("-._")
    return slug or "image"
