"""The answer's way back: upstream bytes to the student as they arrive, then the bill settled.

:class:`PassThrough` is an ASGI response that writes each upstream chunk on as it comes (no
answer is held whole: an image event of several megabytes passes in the upstream's own chunks)
while a :class:`~._usage.UsageScanner` watches for ``usage.cost``. Whatever ends the answer (its
end, a student who hangs up, an upstream that breaks, the deadline, the server stopping) the
reservation is settled exactly once, in a shielded scope:

* ``usage.cost`` found: that is what counts;
* an error and no cost (an SSE ``error`` event): released, as for an upstream error status;
* no cost at all (a cut answer): the reservation is charged, since the upstream may have
  billed it and the gateway cannot tell; never counted as free.

A student who disconnects does not stop the reading: the upstream keeps generating (and
billing), so the gateway drains the answer to its end, within the deadline, to learn the cost.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import anyio
import httpx
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ._usage import Bill, UsageScanner

__all__ = ["PassThrough", "forward_headers", "widen_reads"]

log = logging.getLogger("jupyter_imagegen.gateway")

_BACK = ("content-type", "x-generation-id", "cache-control", "retry-after", "content-length")

Settle = Callable[[Bill, str], Awaitable[None]]
#: What one read from the upstream socket may return. httpcore reads 64 KiB at a time, and each
#: read costs the event loop a timeout scope and an h11 event: a 2.4 MB image was ~40 of them,
#: most of the gateway's time per call. The gateway process reads up to 1 MiB instead
#: (:func:`widen_reads`), and each read goes on to the student as it came.
FULL_READ = 1024 * 1024


def widen_reads() -> None:
    """Let httpcore's HTTP/1.1 connections read up to :data:`FULL_READ` bytes at once.

    A class setting of httpcore's (``READ_NUM_BYTES``, there since its 0.x releases), changed for
    the gateway's process only: the bytes are the same, the reads fewer. Never made smaller.
    """
    import httpcore

    connection = httpcore.AsyncHTTP11Connection
    if getattr(connection, "READ_NUM_BYTES", FULL_READ) < FULL_READ:
        connection.READ_NUM_BYTES = FULL_READ


def forward_headers(upstream: httpx.Response) -> list[tuple[bytes, bytes]]:
    """The upstream answer's headers a client may see (no cookies, no hop-by-hop, no server)."""
    return [(name.encode("latin-1"), upstream.headers[name].encode("latin-1"))
            for name in _BACK if name in upstream.headers]


class PassThrough(Response):
    """Stream ``upstream`` to the client, then call ``settle(bill, how)`` once."""

    def __init__(self, upstream: httpx.Response, settle: Settle, deadline: float,
                 on_chunk: Callable[[bytes], None] | None = None) -> None:
        # Not Response.__init__: there is no body to render; the upstream's bytes are the body.
        self.status_code = upstream.status_code
        self.background = None
        self.upstream = upstream
        self.settle = settle
        self.deadline = deadline  # time.monotonic() by which the answer must have ended
        self.on_chunk = on_chunk
        sse = "text/event-stream" in upstream.headers.get("content-type", "")
        self.scanner = UsageScanner(sse=sse)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        how = "complete"
        try:
            await send({"type": "http.response.start", "status": self.upstream.status_code,
                        "headers": forward_headers(self.upstream)})
            how = await self._pump(send)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            how = "client gone"
        finally:
            with anyio.CancelScope(shield=True):
                await self._finish(how)

    async def _pump(self, send: Send) -> str:
        """Copy chunks until the answer ends; returns how it ended.

        Each read goes out as it came: reads are up to :data:`FULL_READ` bytes (a multi-MB image
        in a few writes), and a short one (an SSE event, a keep-alive) must not wait.
        """
        sending = True
        with anyio.move_on_after(max(0.0, self.deadline - time.monotonic())) as limit:
            try:
                async for chunk in self.upstream.aiter_raw():
                    self.scanner.feed(chunk)
                    if self.on_chunk is not None:
                        self.on_chunk(chunk)
                    if sending:
                        sending = await self._write(send, chunk)
            except httpx.HTTPError as exc:
                log.warning("upstream answer broke off: %s", type(exc).__name__)
                return "upstream broke"
        return "deadline" if limit.cancelled_caught else "complete"

    @staticmethod
    async def _write(send: Send, chunk: bytes) -> bool:
        """Send ``chunk`` as one body message; False once the student has hung up."""
        try:
            await send({"type": "http.response.body", "more_body": True, "body": chunk})
        except OSError:  # the student hung up: keep reading for the bill
            return False
        return True

    async def _finish(self, how: str) -> None:
        with contextlib.suppress(Exception):  # closing a broken stream may fail; the bill matters
            await self.upstream.aclose()
        try:
            await self.settle(self.scanner.result(), how)
        except Exception:
            log.exception("could not settle a call")
