"""Serving ``POST /chat/completions``: JSON answers and SSE streams, faults included.

A function over the request handler (:class:`~._app.Handler`), as ``handle_images`` is for the
Image API, so the routing and connection handling read on their own; the handler supplies the
writers. Streams carry ``: OPENROUTER PROCESSING`` comments while "generating", as the real
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

if TYPE_CHECKING:  # the handler calls this module, so the reference back is type-only
    from ._app import Handler

__all__ = ["handle_chat"]


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
    answer = compose(req, app.cache, drop_images=kind == "no-image",
                     bad_base64=kind == "bad-base64")
    headers = {"X-Generation-Id": gen_id}
    if kind == "error-200" and fault is not None:
        handler._write_json(200, {"error": fault.envelope(), "id": gen_id}, headers)
        return
    choice_error = fault.envelope() if fault and kind in ("choice-error", "stream-error") else None
    body_obj = completion_json(gen_id, created, req, answer, choice_error)
    if choice_error is None:
        app.record(gen_id, req, answer, streamed=False, latency=time.monotonic() - started)
    handler._write_json(200, body_obj, headers, cut=kind == "cut-stream")


def _stream(handler: Handler, req: ChatRequest, gen_id: str, created: int, fault: Fault | None,
            delay: float, started: float) -> None:
    """The SSE answer: keep-alives, the chunks, ``[DONE]``; a fault may cut or end it early."""
    app = handler.server.app
    kind = fault.kind if fault else None
    handler._open_stream(gen_id, delay)
    if kind == "error-200" and fault is not None:  # a pre-content error, as a lone event
        handler._chunk(encode_sse(json.dumps({"id": gen_id, "error": fault.envelope(),
                                              "choices": []})))
        handler._chunk()
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
            handler._chunk(event[: len(event) // 2])
            handler._hang_up()
            return
        handler._chunk(*parts)
    if error is None:
        handler._chunk(encode_sse("[DONE]"))
        app.record(gen_id, req, answer, streamed=True, latency=time.monotonic() - started)
    handler._chunk()


def _cut_index(chunks: list[dict[str, Any]]) -> int:
    """The first image event, or the last event when there is no image."""
    for i, chunk in enumerate(chunks):
        for choice in chunk.get("choices") or ():
            if choice.get("delta", {}).get("images"):
                return i
    return len(chunks) - 1
