"""Serving ``POST /chat/completions``: JSON answers and SSE streams, faults included.

A function over the request handler (:class:`~._app.Handler`), as ``handle_images`` is for the
Image API, so the routing and connection handling read on their own; the handler supplies the
writers. Streams carry ``: OPENROUTER PROCESSING`` comments while "generating", as the real
service sends them (docs ``streaming.mdx``).

Billing follows what the answer says it cost: every answer that carries usage is recorded for
``GET /generation`` (a reply without an image, a choice that failed after its tokens), and so is
a generation whose client went away or whose connection was cut, with ``cancelled: true`` when
the client left: the service finishes it and bills it ("Google and Google AI Studio do not
support stream cancellation", openrouter-protocol.md from the docs' provider list). Only
answers that fail the generation without usage (``error-200``, a stream's error event) are not
billed.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from jupyter_imagegen._wire.sse import encode_sse

from ._chat import Answer, completion_json, compose, sse_parts, stream_chunks
from ._chat_validate import ChatRequest, Rejected, parse_chat_request
from ._faults import Fault
from ._records import new_generation_id

if TYPE_CHECKING:  # the handler calls this module, so the reference back is type-only
    from ._app import Handler

__all__ = ["handle_chat"]

#: Faults whose stream says the generation failed (an error event without usage): not billed.
#: Non-streaming, ``choice-error`` and ``stream-error`` answer with usage beside the error: billed.
_FAILED = ("error-200", "stream-error", "choice-error")
#: Faults that answer without an image, and faults that leave the cost out of the answer.
_INSTEAD = ("refusal", "tool-call")
_UNREPORTED = ("no-cost", "no-usage")


def _compose(handler: Handler, req: ChatRequest, kind: str | None) -> Answer:
    """The reply a fault of ``kind`` shapes (or the plain one)."""
    answer = compose(req, handler.server.app.cache, drop_images=kind == "no-image",
                     bad_base64=kind == "bad-base64", reply=kind if kind in _INSTEAD else None,
                     huge=kind == "huge-images")
    return answer.unreported(kind) if kind in _UNREPORTED else answer


def handle_chat(handler: Handler, body: bytes, fault: Fault | None) -> None:
    """``POST /chat/completions``: validate, then answer with JSON or an SSE stream.

    ``fault`` is a queued non-status fault (a status fault never gets here): it shapes the
    answer (an error envelope, a cut connection, a missing or broken image) or only delays it.
    """
    app = handler.server.app
    started = time.monotonic()
    try:
        obj = json.loads(body)
    except ValueError as exc:
        handler._error(400, f"Invalid JSON in request body: {exc}")
        return
    try:
        req = parse_chat_request(obj, app.catalogue, app.image_catalogue)
    except Rejected as exc:
        handler._write_json(exc.status, exc.body())
        return
    kind = fault.kind if fault else None
    delay = app.latency + (fault.delay if fault else 0.0)
    gen_id = new_generation_id()
    created = int(time.time())
    if req.stream:
        _stream(handler, req, gen_id, created, fault, delay, started)
        return
    time.sleep(delay)
    answer = _compose(handler, req, kind)
    headers = {"X-Generation-Id": gen_id}
    if kind == "error-200" and fault is not None:
        handler._write_json(200, {"error": fault.envelope(), "id": gen_id}, headers)
        return
    choice_error = fault.envelope() if fault and kind in ("choice-error", "stream-error") else None
    body_obj = completion_json(gen_id, created, req, answer, choice_error)
    # billed before it is written: a client that went away (a read timeout) is billed too
    app.record(gen_id, req, answer, streamed=False, latency=time.monotonic() - started,
               finish="error" if choice_error else answer.finish)
    handler._write_json(200, body_obj, headers, cut=kind in ("cut-stream", "cut-after-image"))


class _Bill:
    """A streamed generation's bill: made once, when the generation has finished."""

    def __init__(self, handler: Handler, req: ChatRequest, gen_id: str, started: float) -> None:
        self.handler, self.req, self.gen_id, self.started = handler, req, gen_id, started
        self.answer: Answer | None = None
        self.made = False

    def __call__(self, *, cancelled: bool = False) -> None:
        if self.made or self.answer is None:
            return
        self.made = True
        self.handler.server.app.record(
            self.gen_id, self.req, self.answer, streamed=True, cancelled=cancelled,
            latency=time.monotonic() - self.started, finish=self.answer.finish)


def _stream(handler: Handler, req: ChatRequest, gen_id: str, created: int, fault: Fault | None,
            delay: float, started: float) -> None:
    """The SSE answer; a generation whose client went away mid-stream is still billed."""
    kind = fault.kind if fault else None
    bill = _Bill(handler, req, gen_id, started)
    try:
        _send_stream(handler, req, gen_id, created, fault, delay, bill)
    except OSError:  # the client left (a cancel, its deadline): the generation runs to the end
        if kind not in _FAILED:
            bill.answer = bill.answer or _compose(handler, req, kind)
            bill(cancelled=True)
        raise


def _send_stream(handler: Handler, req: ChatRequest, gen_id: str, created: int,
                 fault: Fault | None, delay: float, bill: _Bill) -> None:
    """Keep-alives, the chunks, ``[DONE]``; a fault may cut or end it early.

    ``bill`` is called as the generation ends (before ``[DONE]``, or at a cut in transit), so
    the bill exists by the time the client has read the answer.
    """
    kind = fault.kind if fault else None
    handler._open_stream(gen_id, delay)
    if kind == "error-200" and fault is not None:  # a pre-content error, as a lone event
        handler._chunk(encode_sse(json.dumps({"id": gen_id, "error": fault.envelope(),
                                              "choices": []})))
        handler._chunk()
        return
    bill.answer = answer = _compose(handler, req, kind)
    error = fault.envelope() if fault and kind in ("stream-error", "choice-error") else None
    chunks = list(stream_chunks(gen_id, created, req, answer, error))
    cut_at = _cut_index(chunks, after=kind == "cut-after-image") \
        if kind in ("cut-stream", "cut-after-image") else None
    for i, chunk in enumerate(chunks):
        parts = sse_parts(chunk)
        if i == cut_at:  # cut in transit: the generation itself finished, and is billed
            bill()
            event = b"".join(parts)
            handler._chunk(event[: len(event) // 2])
            handler._hang_up()
            return
        handler._chunk(*parts)
    if error is None:
        bill()
        handler._chunk(encode_sse("[DONE]"))
    handler._chunk()


def _cut_index(chunks: list[dict[str, Any]], *, after: bool = False) -> int:
    """The first image event (``after``: the event after the last one), else the last event."""
    found = [i for i, chunk in enumerate(chunks) for choice in chunk.get("choices") or ()
             if choice.get("delta", {}).get("images")]
    if not found:
        return len(chunks) - 1
    return min(found[-1] + 1, len(chunks) - 1) if after else found[0]
