"""Paths the kit writes to: checked before the first write, one typed error for every failure.

Why: eighteen path failures in ``save()``, ``ImageStore``, ``ReplayCache`` and ``export_html()``
surfaced as raw ``OSError``/``ValueError`` (a folder name over 255 bytes, a parent that is a file,
a NUL, ``/dev/null``, ``/proc``), and ``export_html("/dev/null")`` run as root *replaced the
device* with a regular file, since a temporary file renamed over a path takes its place whatever
it was. So each writer checks its path first (:func:`check_folder`, :func:`check_file`), and what
the OS still refuses while writing becomes a :class:`PathError` too (:func:`writing`), naming the
path and saying what to pass instead. Only regular files are ever replaced.
"""

from __future__ import annotations

import errno as _errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .._exceptions import ImageGenError, PathError

__all__ = ["NAME_MAX", "check_file", "check_folder", "path_error", "writing"]

#: Bytes one name (a folder's or a file's) may have: what Linux, macOS and Windows file systems allow.
NAME_MAX = 255
#: Views of the running system, not storage: nothing the kit writes belongs there.
_PSEUDO = ("/proc", "/sys")
_ADVICE = "pass a path in a folder you can write to (a relative one such as 'out/' is fine)"


def _shown(path: Path | str) -> str:
    text = os.fspath(path)
    return text if len(text) <= 120 else f"{text[:60]}...{text[-50:]}"


def _fail(path: Path | str, what: str, why: str, code: int | None = None) -> PathError:
    return PathError(f"cannot use {_shown(path)!r} for the {what}: {why}", path=os.fspath(path),
                     errno=code, hint=f"Fix: {_ADVICE}.")


def check_folder(path: Path, what: str, *, named: Path | None = None) -> Path:
    """``path`` as a folder the kit may create and write in, or a :class:`PathError` saying why not.

    Nothing is created here; the checks read only what exists (no ``/proc``, no NUL, no name
    over :data:`NAME_MAX` bytes, no file where a folder must be). ``named`` is the path the
    error names (a file in this folder), ``path`` itself by default.
    """
    text = os.fspath(path)
    path_named = named or path
    if "\0" in text:
        raise _fail(os.fspath(path_named).replace("\0", "\\0"), what, "it contains a NUL character")
    for part in path.parts:
        size = len(part.encode("utf-8", "surrogateescape"))
        if size > NAME_MAX:
            raise _fail(path_named, what, f"the name {part[:40]!r}... is {size} bytes; file systems "
                        f"allow {NAME_MAX}", _errno.ENAMETOOLONG)
    absolute = os.path.abspath(text)
    for root in _PSEUDO:
        if absolute == root or absolute.startswith(root + os.sep):
            raise _fail(path_named, what, f"it is inside {root}, a view of the running system, not "
                        "storage", _errno.EACCES)
    with writing(path_named, what):  # a path over PATH_MAX: the OS's own refusal, typed
        for folder in (path, *path.parents):
            if folder.is_dir():
                break
            if os.path.lexists(folder):
                kind = "a file" if folder.is_file() else "a device, a pipe or a broken link"
                raise _fail(path_named, what, f"{_shown(folder)!r} is {kind}, not a folder",
                            _errno.ENOTDIR)
    return path


def check_file(path: Path, what: str) -> Path:
    """``path`` as a file the kit may create or replace: its folder checked, and not a device.

    Replacing goes by a renamed temporary file, which would put a regular file in the place of
    a device, a pipe or a folder: only a regular file (or nothing yet) may be there.
    """
    if "\0" in os.fspath(path):
        raise _fail(os.fspath(path).replace("\0", "\\0"), what, "it contains a NUL character")
    check_folder(path.parent, what, named=path)
    size = len(path.name.encode("utf-8", "surrogateescape"))
    if size > NAME_MAX:
        raise _fail(path, what, f"the file name is {size} bytes; file systems allow {NAME_MAX}",
                    _errno.ENAMETOOLONG)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise path_error(exc, path, what) from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a device, a pipe or a socket"
        raise _fail(path, what, f"it is {kind}, and the kit replaces only regular files",
                    _errno.EISDIR if stat.S_ISDIR(mode) else _errno.EEXIST)
    return path


def path_error(exc: OSError | ValueError, path: Path | str, what: str) -> PathError:
    """The :class:`PathError` for what the OS (or ``os``'s own checks) refused while writing."""
    if isinstance(exc, PathError):
        return exc
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc) or type(exc).__name__
        where = f" ({_shown(exc.filename)!r})" if exc.filename and os.fspath(exc.filename) != \
            os.fspath(path) else ""
        return _fail(path, what, f"{reason}{where}", exc.errno)
    return _fail(path, what, str(exc) or type(exc).__name__)


@contextmanager
def writing(path: Path | str, what: str) -> Iterator[None]:
    """Run a write; any ``OSError``/``ValueError`` it raises comes out as a :class:`PathError`."""
    try:
        yield
    except ImageGenError:  # the kit's own (a PathError already, a bad pattern): as they are
        raise
    except (OSError, ValueError) as exc:
        raise path_error(exc, path, what) from None
