"""Short errors for notebooks: one line of advice per error, and short tracebacks in IPython.

A newcomer who calls ``ig.generate(...)`` with a wrong model should read one line saying what
happened and what to do, not forty lines through the client, requests and urllib3. The exception
messages say what went wrong; :func:`advise` adds the next step, phrased for a notebook (a magic
to run, a setting to change), and is pure so the magic's ``UsageError`` messages use it too.
The handler ``%load_ext`` registers shows the error type, the advice and the user's own line; a
cancel is a quiet note instead. ``%config ImageGenMagics.short_errors = False`` brings full
tracebacks back. Nothing here reads or shows the API key.
"""

from __future__ import annotations

import linecache
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

from IPython.core.error import UsageError

from .._core.policies import CLASS_BUDGET
from .._exceptions import (
    APIConnectionError,
    AuthenticationError,
    CancelledError,
    ImageGenError,
    InsufficientCreditsError,
    NotFoundError,
    RateLimitError,
    RequestTimeoutError,
    SpendLimitError,
)

__all__ = ["advise", "install", "render_traceback", "uninstall", "usage_error"]

#: Frames in the package (all of it, not just this folder) are the kit's own, never the user's line.
_PACKAGE = str(Path(__file__).resolve().parents[1])

_SET_KEY = ("Set the key without showing it: run `%imagegen key` (it prompts without echo), or set "
            "OPENROUTER_API_KEY in the environment before starting Jupyter. `%imagegen offline` "
            "works without a key.")


# Names newcomers type that are not OpenRouter ids, and real image models to try instead. Ids as
# published: google/gemini-2.5-flash-image and qwen/qwen-image-3 (real /models and /images/models
# listings), openai/gpt-image-2 (OpenRouterTeam/docs 9558798f example), black-forest-labs/flux.2-pro
# and bytedance-seed/seedream-4.5 (recorded /images/models listing), all summarised in
# /work/shared/reference/openrouter-changes-2026.md.
_POPULAR = {
    "dall-e": ("openai/gpt-image-2", "google/gemini-2.5-flash-image"),
    "dalle": ("openai/gpt-image-2", "google/gemini-2.5-flash-image"),
    "flux": ("black-forest-labs/flux.2-pro",),
    "stable-diffusion": ("black-forest-labs/flux.2-pro", "bytedance-seed/seedream-4.5",
                         "google/gemini-2.5-flash-image"),
    "sdxl": ("black-forest-labs/flux.2-pro", "bytedance-seed/seedream-4.5"),
    "midjourney": ("black-forest-labs/flux.2-pro", "google/gemini-2.5-flash-image",
                   "qwen/qwen-image-3"),
}


def usage_error(message: str, error_type: str = "UsageError") -> UsageError:
    """A ``UsageError`` (IPython shows it without a traceback) tagged with the kind of error.

    Subclassing ``UsageError`` breaks IPython's check for it (ipython/ipython#14024), so the kind
    goes into an ``error_type`` attribute instead, as jupysql does.
    """
    error = UsageError(message)
    error.error_type = error_type  # type: ignore[attr-defined]
    return error


def popular_alternatives(model: str) -> list[str]:
    """Real image models for a name people try (``dall-e-3``, ``flux``, ``midjourney``...)."""
    name = model.lower().rsplit("/", 1)[-1].replace("_", "-").replace(" ", "-")
    for key, ids in _POPULAR.items():
        if name.startswith(key):
            return list(ids)
    return []


def advise(exc: ImageGenError) -> str:
    """One line for ``exc``: what happened, then what to do. Never a traceback."""
    return " ".join(_advise(exc).split("\n"))


def _advise(exc: ImageGenError) -> str:
    status = f" (HTTP {exc.status})" if exc.status else ""
    if isinstance(exc, AuthenticationError):
        return f"The API key was not accepted{status}: {exc.message}\n{_SET_KEY}"
    if isinstance(exc, InsufficientCreditsError):
        # The service's own message usually names the credits page already: say it once.
        message = exc.message.rstrip(" .") + "."
        where = ("Or raise" if "openrouter.ai/settings/credits" in message
                 else "Add credits at https://openrouter.ai/settings/credits or raise")
        return (f"Out of credits{status}: {message}\n{where} this key's limit; "
                "`%imagegen offline` costs nothing.")
    if isinstance(exc, RateLimitError):
        attempts = int(exc.metadata.get("attempts", 1))
        retried = (f"Waited and retried {attempts - 1} time{'s' * (attempts != 2)}; still limited."
                   if attempts > 1 else "Not retried.")
        wait = f" The service asked to wait {exc.retry_after:g}s." if exc.retry_after else ""
        return (f"Rate limited{status}: {exc.message}\n{retried}{wait} Run the cell again in a "
                "minute, use fewer parallel requests, or add credits to raise the limit.")
    if isinstance(exc, NotFoundError):
        # The client's own pointer names the Python and CLI ways; in a notebook the magic's is better.
        message = exc.message.split(" List image models with", 1)[0]
        asked = message.split("'")[1] if message.count("'") >= 2 else ""
        tries = [m for m in popular_alternatives(asked) if m not in exc.suggestions]
        if tries and "Did you mean" not in message:
            more = f" It is not an OpenRouter image model; try {', '.join(tries)}."
        elif tries:
            more = f" Also try {', '.join(tries)}."
        else:
            more = "" if "Did you mean" in message or not exc.suggestions else (
                f" Did you mean: {', '.join(exc.suggestions)}?")
        return f"{message}{more}\nList image models with `%imagegen models [SEARCH]`."
    if isinstance(exc, SpendLimitError):
        if exc.code == CLASS_BUDGET:  # the teacher's limit: no way to lift it is suggested
            return exc.message
        return (f"{exc.message.split(' Raise the spend limit', 1)[0]}\nRaise it with "
                "`%config ImageGenMagics.spend_limit = 5.0` (or `= None` for no limit).")
    if isinstance(exc, CancelledError):
        return f"{exc.message}. Nothing was kept; the prompt is still in the cell, run it again."
    if isinstance(exc, APIConnectionError):
        return (f"{exc.message}\nCheck the network and the base URL (`%imagegen config`), or "
                "use `%imagegen offline`.")
    if isinstance(exc, RequestTimeoutError):
        return f"{exc.message}\nSlow models may need more time: `%%imagegen --timeout 600`."
    text = exc.message + status
    return f"{text}\n{exc.hint}" if exc.hint else text


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
        from .._results.display import caption_bundle, publish

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
