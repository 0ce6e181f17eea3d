"""Serving ``POST /chat/completions``: JSON answers and SSE streams, faults included.

A mixin of the request handler (:class:`~._app.Handler`), kept apart so the routing and
connection handling read on their own. Streams are chunked HTTP/1.1 (close-delimited for
HTTP/1.0 peers) with ``: OPENROUTER PROCESSING`` comments while "generating", as the real
service sends them (docs ``streaming.mdx``).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from jupyter_imagegen._wire.sse import encode_sse

from ._chat import completion_json, compose, sse_parts, stream_chunks
from ._chat_validate import ChatRequest, Rejected, parse_chat_request
from ._faults import Fault
from ._records import new_generation_id

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["KEEPALIVE", "ChatHandling"]

KEEPALIVE = "OPENROUTER PROCESSING"


class ChatHandling:
    """The chat-completions half of the handler (it relies on the handler's writers)."""

    server: Any
    wfile: Any
    close_connection: bool

    if TYPE_CHECKING:  # provided by the handler this is mixed into
        @property
        def _chunked(self) -> bool:
            raise NotImplementedError

        def _write_json(self, status: int, obj: Any, headers: Mapping[str, str] | None = None,
                        *, cut: bool = False) -> None:
            raise NotImplementedError

        def _error(self, status: int, message: str, metadata: Mapping[str, Any] | None = None) -> None:
            raise NotImplementedError

        def _hang_up(self) -> None:
            raise NotImplementedError

        def send_response(self, code: int, message: str | None = None) -> None:
            raise NotImplementedError

        def send_header(self, keyword: str, value: str) -> None:
            raise NotImplementedError

        def end_headers(self) -> None:
            raise NotImplementedError

    # -- chat ----------------------------------------------------------------------------------

    def _chat(self, body: bytes, fault: Fault | None) -> None:
        app = self.server.app
        started = time.monotonic()
        try:
            obj = json.loads(body)
        except ValueError as exc:
            self._error(400, f"Invalid JSON in request body: {exc}")
            return
        try:
            req = parse_chat_request(obj, app.catalogue, app.image_catalogue)
        except Rejected as exc:
            self._write_json(exc.status, exc.body())
            return
        kind = fault.kind if fault else None
        delay = app.latency + (fault.delay if fault else 0.0)
        gen_id = new_generation_id()
        created = int(time.time())
        if req.stream:
            self._stream(req, gen_id, created, fault, delay, started)
            return
        time.sleep(delay)
        answer = compose(req, app.cache, drop_images=kind == "no-image",
                         bad_base64=kind == "bad-base64")
        headers = {"X-Generation-Id": gen_id}
        if kind == "error-200" and fault is not None:
            self._write_json(200, {"error": fault.envelope(), "id": gen_id}, headers)
            return
        choice_error = fault.envelope() if fault and kind in ("choice-error",
                                                                "stream-error") else None
        body_obj = completion_json(gen_id, created, req, answer, choice_error)
        if choice_error is None:
            app.record(gen_id, req, answer, streamed=False, latency=time.monotonic() - started)
        self._write_json(200, body_obj, headers, cut=kind == "cut-stream")

    def _chunk(self, *parts: bytes) -> None:
        """One HTTP/1.1 chunk made of ``parts`` (none: the empty chunk that ends the body).

        Small chunks go out in one write; a large part (an image) is written as is, never
        joined with the rest. For an HTTP/1.0 peer the data is written as is, and the end is
        the connection's close.
        """
        size = sum(map(len, parts))
        if not self._chunked:
            self.wfile.writelines(part for part in parts if part)
        elif size < 65536:
            self.wfile.write(b"%x\r\n%b\r\n" % (size, b"".join(parts)))
        else:
            self.wfile.writelines([b"%x\r\n" % size, *parts, b"\r\n"])

    def _open_stream(self, gen_id: str, delay: float) -> None:
        """Start an SSE response, then keep it alive with comments while "generating" for ``delay``."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        if self._chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:  # HTTP/1.0 has no chunks: the body ends when the connection does
            self.send_header("Connection", "close")
            self.close_connection = True
        self.send_header("X-Generation-Id", gen_id)
        self.end_headers()
        self._chunk(encode_sse(comment=KEEPALIVE))
        deadline = time.monotonic() + delay
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, self.server.app.keepalive_interval))
            if deadline - time.monotonic() > 0:
                self._chunk(encode_sse(comment=KEEPALIVE))

    def _stream(self, req: ChatRequest, gen_id: str, created: int, fault: Fault | None,
                delay: float, started: float) -> None:
        app = self.server.app
        kind = fault.kind if fault else None
        self._open_stream(gen_id, delay)
        if kind == "error-200" and fault is not None:  # a pre-content error, as a lone event
            self._chunk(encode_sse(json.dumps({"id": gen_id, "error": fault.envelope(),
                                               "choices": []})))
            self._chunk()
            return
        answer = compose(req, app.cache, drop_images=kind == "no-image",
                         bad_base64=kind == "bad-base64")
        error = fault.envelope() if fault and kind in ("stream-error", "choice-error") else None
        chunks = list(stream_chunks(gen_id, created, req, answer, error))
        cut_at = _cut_index(chunks) if kind == "cut-stream" else None
        for i, chunk in enumerate(chunks):
            parts = sse_parts(chunk)
            if i == cut_at:
                event = b"".join(parts)
                self._chunk(event[: len(event) // 2])
                self._hang_up()
                return
            self._chunk(*parts)
        if error is None:
            self._chunk(encode_sse("[DONE]"))
            app.record(gen_id, req, answer, streamed=True, latency=time.monotonic() - started)
        self._chunk()


def _cut_index(chunks: list[dict[str, Any]]) -> int:
    """The first image event, or the last event when there is no image."""
    for i, chunk in enumerate(chunks):
        for choice in chunk.get("choices") or ():
            if choice.get("delta", {}).get("images"):
                return i
    return len(chunks) - 1
