"""Running a coroutine from a test, whatever the suite left in the main thread.

pytest-playwright's session-scoped Playwright keeps its event loop running in the main thread from
the first browser test to the end of the session, so a plain ``asyncio.run`` in any later test
raises "cannot be called from a running event loop" (the order of the files decides which).
Every test that drives ``AsyncClient`` goes through :func:`run_async` instead.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
    """``asyncio.run`` in a fresh thread; re-raise what it raised, fail if it outlives ``timeout``."""
    box: dict[str, Any] = {}

    def main() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"the coroutine was still running after {timeout} s")
    if "error" in box:
        raise box["error"]
    return box["value"]
