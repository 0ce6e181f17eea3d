"""Short tracebacks for the kit's own errors in IPython (registered by ``%load_ext``).

A newcomer who calls ``ig.generate(...)`` with a wrong model should read one line saying what
happened and what to do, not forty lines through the client, requests and urllib3. The handler
shows the error type, the advice and the user's own line; a cancel is a quiet note instead.
``%config ImageGenMagics.short_errors = False`` brings full tracebacks back.
"""

from __future__ import annotations

import linecache
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

from ._advice import advise
from ._exceptions import CancelledError, ImageGenError

__all__ = ["install", "render_traceback", "uninstall"]

_PACKAGE = str(Path(__file__).resolve().parent)


def _user_frame(tb: TracebackType | None) -> str:
    """The last frame of user code (a notebook cell or script), as ``file, line: code``."""
    found = ""
    for frame, lineno in traceback.walk_tb(tb):
        name = frame.f_code.co_filename
        if name.startswith(_PACKAGE) or "site-packages" in name or "/lib/python3" in name:
            continue
        code = linecache.getline(name, lineno, frame.f_globals).strip()
        found = f"line {lineno}: {code}" if code else f"line {lineno}"
    return found


def render_traceback(exc: BaseException, tb: TracebackType | None = None) -> list[str]:
    """The short form: ``Type: what happened and what to do`` and where in the user's code."""
    text = advise(exc) if isinstance(exc, ImageGenError) else str(exc)
    lines = [f"\x1b[0;31m{type(exc).__name__}\x1b[0m: {text}"]
    where = _user_frame(tb if tb is not None else exc.__traceback__)
    if where:
        lines.append(f"  (at {where})")
    return lines


def _handler(shell: Any, etype: type[BaseException], value: BaseException, tb: TracebackType | None,
             tb_offset: int | None = None) -> None:
    magics = next((c for c in shell.configurables if type(c).__name__ == "ImageGenMagics"), None)
    if magics is not None and not magics.short_errors:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return
    if isinstance(value, CancelledError):
        from ._display import caption_bundle, publish

        publish(caption_bundle(f"Stopped ({value.message})."))
        return
    shell._showtraceback(etype, value, render_traceback(value, tb))
    return


def install(shell: Any) -> None:
    """Use the short form for ImageGenError, unless another handler is already registered."""
    if not shell.custom_exceptions:
        shell.set_custom_exc((ImageGenError,), _handler)


def uninstall(shell: Any) -> None:
    """Remove the handler again if it is ours."""
    if shell.custom_exceptions == (ImageGenError,):
        shell.set_custom_exc((), None)
