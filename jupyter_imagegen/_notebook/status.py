"""What the notebook shows while a call runs and after: the live status line, tables, the worker.

The magic shows a :class:`StatusLine` (elapsed time, streamed text) that the result replaces, and
line commands return a :class:`Table`; both render as escaped HTML with a plain-text fallback.

:func:`run_with_status` runs the generation off the main thread while the main thread drives the
status line. The kernel delivers interrupts (``KeyboardInterrupt``) to the main thread and routes
display messages to the running cell from it, so the request runs in a worker and the main thread
only waits, redraws and, on an interrupt, sets the ``cancel`` event so the client stops cleanly.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .._core.client import StreamEvent
from .._exceptions import CancelledError, scrub
from .._results.display import Bundle, groups_html, publish, status_html, table_html
from .._results.result import ImageResult

if TYPE_CHECKING:
    from IPython.display import DisplayHandle

__all__ = ["GroupedTable", "StatusLine", "Table", "run_with_status"]

#: How often the status line is redrawn while nothing arrives (so the elapsed time moves).
TICK = 0.2
#: How long an interrupted worker gets to notice the cancel event before it is abandoned.
CANCEL_GRACE = 2.0


class StatusLine:
    """A one-line live status (elapsed time, streamed text, keep-alives) in its own output slot.

    The line appears only once a request has run for ``delay`` seconds, so quick answers and
    errors caught before sending leave no trace. It is displayed with a ``display_id`` and
    updated in place; when the request ends the slot is replaced by the first output of the
    result (or emptied), so no stale "generating..." line is left in a saved notebook.
    """

    def __init__(self, label: str, *, enabled: bool = True, interval: float = 0.1,
                 delay: float = 0.0) -> None:
        self.label = label
        self.enabled = enabled
        self.interval = interval
        self.delay = delay
        self.started = time.monotonic()
        self.text = ""
        self.keepalives = 0
        self.images = 0
        self.retries = 0
        self._handle: DisplayHandle | None = None
        self._last = 0.0
        self._finished = False

    def start(self) -> None:
        """Start the clock; show the line now unless there is a ``delay``."""
        self.started = time.monotonic()
        self.tick()

    def _show(self) -> None:
        due = time.monotonic() - self.started >= self.delay
        if self.enabled and due and not self._finished and self._handle is None:
            self._handle = publish(self._bundle(), display_id=True)
            self._last = time.monotonic()

    def event(self, event: StreamEvent) -> None:
        """Fold a stream event into the line and redraw (throttled)."""
        if event.kind in ("text", "reasoning"):
            prefix = "thinking: " if event.kind == "reasoning" and not self.text else ""
            self.text = (self.text + prefix + event.text)[-400:]
        elif event.kind == "keepalive":
            self.keepalives += 1
        elif event.kind == "image":
            self.images += 1
        elif event.kind == "retry":
            self.retries += 1
        self.tick(force=event.kind in ("image", "retry"))

    def tick(self, *, force: bool = False) -> None:
        """Redraw if ``interval`` has passed (the elapsed time moves even without events)."""
        if self._handle is None:
            self._show()
            return
        now = time.monotonic()
        if force or now - self._last >= self.interval:
            self._handle.update(self._bundle()[0], raw=True)  # type: ignore[no-untyped-call]
            self._last = now

    def render(self) -> str:
        """The status text: label, elapsed seconds, progress counters, the tail of streamed text."""
        parts = [f"generating with {self.label}", f"{time.monotonic() - self.started:.1f}s"]
        if self.keepalives:
            parts.append(f"still working ({self.keepalives} keep-alive{'s' * (self.keepalives > 1)})")
        if self.retries:
            parts.append(f"retried {self.retries}x")
        if self.images:
            parts.append(f"{self.images} image{'s' * (self.images > 1)} received")
        line = " · ".join(parts)
        tail = " ".join(self.text.split())[-120:]
        return f"{line} · {tail}" if tail else line

    def _bundle(self) -> Bundle:
        text = self.render()
        return {"text/html": status_html(text), "text/plain": scrub(text)}, {}

    def replace(self, bundle: Bundle) -> bool:
        """Put ``bundle`` in the status slot; False when there is no slot (display it yourself)."""
        self._finished = True
        if self._handle is None:
            return False
        self._handle.update(bundle[0], raw=True, metadata=bundle[1])  # type: ignore[no-untyped-call]
        self._handle = None
        return True

    def clear(self) -> None:
        """Empty the slot (after an error: the error message says what happened)."""
        self.replace(({"text/plain": ""}, {}))


class Table:
    """A small table that renders as HTML in notebooks and as aligned text elsewhere.

    ``items`` holds the objects behind the rows (``ModelInfo`` for ``%imagegen models``), so
    ``models = %imagegen models flux`` is useful in code as well.
    """

    def __init__(self, headers: Sequence[str], rows: Sequence[Sequence[str]], *, caption: str = "",
                 items: Sequence[Any] = ()) -> None:
        self.headers = list(headers)
        self.rows = [list(r) for r in rows]
        self.caption = caption
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.rows)

    def _repr_html_(self) -> str:
        return table_html(self.headers, self.rows, self.caption)

    def __repr__(self) -> str:
        widths = [max(len(str(c)) for c in col) for col in zip(self.headers, *self.rows, strict=True)]
        lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                 for row in [self.headers, ["-" * w for w in widths], *self.rows]]
        # Ids and names come from a listing: IPython's terminal prints this as it is.
        return scrub("\n".join([*lines, self.caption] if self.caption else lines))

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))


class GroupedTable(Table):
    """A :class:`Table` shown in notebooks as collapsed groups (``%imagegen models``).

    ``groups`` maps each group's title to ``(name, detail)`` lines; the plain text is the
    table's. Groups open when there are few lines (a search), and stay closed otherwise.
    """

    OPEN_AT_MOST = 12

    def __init__(self, headers: Sequence[str], rows: Sequence[Sequence[str]], *,
                 groups: Sequence[tuple[str, Sequence[tuple[str, str]]]], caption: str = "",
                 items: Sequence[Any] = ()) -> None:
        super().__init__(headers, rows, caption=caption, items=items)
        self.groups = [(title, list(lines)) for title, lines in groups]

    def _repr_html_(self) -> str:
        return groups_html(self.groups, self.caption, opened=len(self.rows) <= self.OPEN_AT_MOST)


#: ``generate(on_event, cancel)``: the call :func:`run_with_status` runs in its worker.
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
