"""Run a generation off the main thread while the main thread drives the live status line.

The kernel delivers interrupts (``KeyboardInterrupt``) to the main thread and routes display
messages to the running cell from it, so the request runs in a worker and the main thread only
waits, redraws and, on an interrupt, sets the ``cancel`` event so the client stops cleanly.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from ._client import StreamEvent
from ._exceptions import CancelledError
from ._results import ImageResult
from ._status import StatusLine

__all__ = ["run_with_status"]

#: How often the status line is redrawn while nothing arrives (so the elapsed time moves).
TICK = 0.2
#: How long an interrupted worker gets to notice the cancel event before it is abandoned.
CANCEL_GRACE = 2.0

Generate = Callable[[Callable[[StreamEvent], None], threading.Event], ImageResult]


def run_with_status(generate: Generate, status: StatusLine) -> ImageResult:
    """Call ``generate(on_event, cancel)`` in a worker thread; return its result or raise its error.

    A ``KeyboardInterrupt`` while waiting sets ``cancel`` and raises :class:`CancelledError`.
    """
    events: queue.Queue[tuple[str, object]] = queue.Queue()
    cancel = threading.Event()

    def work() -> None:
        try:
            events.put(("result", generate(lambda e: events.put(("event", e)), cancel)))
        except BaseException as exc:  # handed to the main thread, which re-raises it
            events.put(("error", exc))

    started = time.monotonic()
    worker = threading.Thread(target=work, name="jupyter-imagegen-magic", daemon=True)
    worker.start()
    try:
        while True:
            try:
                kind, value = events.get(timeout=TICK)
            except queue.Empty:
                status.tick()
                continue
            if kind == "event" and isinstance(value, StreamEvent):
                status.event(value)
            elif kind == "result" and isinstance(value, ImageResult):
                return value
            elif isinstance(value, BaseException):
                raise value
    except KeyboardInterrupt:
        cancel.set()
        worker.join(CANCEL_GRACE)
        raise CancelledError(f"cancelled after {time.monotonic() - started:.1f}s") from None
