"""Reading answers, bounded: whole bodies, SSE events, and a watchdog for the deadline.

``requests`` restarts its read timeout on every byte, so a body dripping one byte a second, or a
stream of endless keep-alive comments, would hold a call forever; the :class:`Watchdog` shuts
the socket at the call's deadline instead. Every read is capped in bytes (a gzip body included),
so a hostile answer costs at most ``max_response_bytes`` of memory.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import requests
import urllib3

from .._exceptions import CancelledError, IncompleteStreamError, ResponseError
from .._wire.sse import SSEDecoder, SSEEvent
from .threads import WATCHDOG, Watch

__all__ = ["Watchdog", "drain", "iter_events", "read_body"]

_CHUNK = 64 * 1024  # big enough for multi-MB events, small enough that keep-alives arrive promptly


class Watchdog:
    """Shuts a response's socket at ``deadline`` (or on cancel), so a blocked read returns.

    One shared thread watches every open response (:data:`._threads.WATCHDOG`).
    """

    def __init__(self, response: requests.Response, deadline: float | None,
                 cancel: threading.Event | None = None) -> None:
        self._watch: Watch | None = None
        if deadline is not None or cancel is not None:
            self._watch = WATCHDOG.watch(lambda: _shutdown(response), deadline, cancel)

    @property
    def fired(self) -> bool:
        """True once the watchdog shut the socket (the deadline passed, or a cancel)."""
        return self._watch is not None and self._watch.fired

    def __enter__(self) -> Watchdog:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._watch is not None:
            WATCHDOG.forget(self._watch)


def _shutdown(response: requests.Response) -> None:
    """End a blocked read from the watchdog's thread.

    Shutting the socket down makes the reader's ``recv`` return, and the reader then fails in
    its own thread with the error ``read_body``/``iter_events`` turn into a typed one. Closing
    the response from here instead raced the reader: ``http.client`` sets ``fp = None`` under
    it, and the read escaped as ``AttributeError: 'NoneType' object has no attribute 'read'``.
    Only when no socket can be found is the response closed from here.
    """
    conn = getattr(response.raw, "_connection", None)
    sock = getattr(conn, "sock", None)
    if sock is None:
        fp = getattr(getattr(response.raw, "_fp", None), "fp", None)
        sock = getattr(getattr(fp, "raw", None), "_sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
            return
        except OSError:
            pass  # already closed: closing the response below is harmless
    response.close()


def read_body(response: requests.Response, limit: int) -> bytes:
    """The whole (decoded) body, at most ``limit`` bytes, or a typed error.

    Reads of up to ``limit + 1`` bytes (usually one): faster than requests' 10 KB steps, and
    urllib3 (>= 2.6) bounds what gzip may inflate to the amount asked for. A body that is not
    content-encoded skips urllib3's decode buffer (two more copies of every megabyte); read that
    way a cut body comes back short instead of raising, so reading goes on to the end, where
    urllib3 checks the length.
    """
    encoded = response.headers.get("Content-Encoding", "identity").strip().lower() != "identity"
    pieces: list[bytes] = []
    size = 0
    try:
        while size <= limit and (piece := response.raw.read(limit + 1 - size, decode_content=encoded)):
            pieces.append(piece)
            size += len(piece)
        content = b"".join(pieces)  # one piece: the same object, no copy
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise IncompleteStreamError(f"the response broke off ({type(exc).__name__})") from None
    except MemoryError:
        raise ResponseError("the response is too large to hold in memory") from None
    finally:
        response.close()
    if len(content) > limit:
        raise ResponseError(f"the response is larger than {limit:,} bytes; raise "
                            "Client(max_response_bytes=...) if that is expected")
    return content


def iter_events(response: requests.Response, limit: int,
                cancel: threading.Event | None = None) -> Iterator[SSEEvent]:
    """The SSE events of a streamed response, each at most ``limit`` bytes; cut streams raise."""
    decoder = SSEDecoder(max_event_bytes=limit)
    chunks = response.iter_content(chunk_size=_CHUNK)
    try:
        for chunk in chunks:
            if cancel is not None and cancel.is_set():
                raise CancelledError("generation cancelled")
            events = decoder.feed(chunk)
            events.reverse()
            while events:
                yield events.pop()  # drop each event once handed on (multi-MB images)
    except requests.exceptions.RequestException as exc:
        raise IncompleteStreamError(
            f"the stream broke off ({type(exc).__name__}); no partial image was kept") from None
    cut = " in the middle of an event" if decoder.pending else ""
    raise IncompleteStreamError(f"the stream ended{cut} before 'data: [DONE]'; no partial image was kept")


def drain(response: requests.Response, limit: int = 4) -> None:
    """Read the few bytes after ``[DONE]`` (the closing chunk) so the connection is reused.

    A stream left unread is closed instead of returned to the pool, and the next request then
    pays a new connection (a TLS handshake on the real service).
    """
    try:
        for _ in zip(range(limit), response.iter_content(chunk_size=_CHUNK), strict=False):
            pass
    except requests.exceptions.RequestException:
        pass  # the answer is complete; a connection that ends badly is simply not reused
