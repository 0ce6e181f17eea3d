"""One generation through the gateway: check, price, reserve, send, stream back, settle.

Nothing goes upstream before the reservation holds: a request that is malformed, too large,
for a model the class does not allow, screened out, of unknown price or over budget is refused
here with the service's error envelope (``{"error": {"code", "message"}}``; 402 for money, as
OpenRouter answers a key over its limit). The student's body is forwarded byte for byte with
the gateway's own key in place of the student's token.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio
import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .._wire.errors import error_body
from ._ledger import Refusal, Reservation, Student, to_nano, to_usd
from ._pricing import models_of, worst_case_usd
from ._stream import PassThrough
from ._thumbs import FirstImage, thumbnail
from ._usage import Bill

if TYPE_CHECKING:  # the gateway state builds the routes that call this module
    from ._state import GatewayState

__all__ = ["error", "generate", "prompt_of", "read_body"]

log = logging.getLogger("jupyter_imagegen.gateway")

#: Request headers passed upstream (attribution and content negotiation; never cookies or auth).
_FORWARD = ("content-type", "accept", "http-referer", "x-title", "x-openrouter-title",
            "x-openrouter-categories", "user-agent")
_PATHS = {"chat": "chat/completions", "images": "images"}
#: Tries to settle a finished call (settling twice counts once, so a retry is safe).
SETTLE_ATTEMPTS = 6


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The service's error envelope with ``status``."""
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


async def read_body(request: Request, limit: int, read_timeout: float) -> bytes | Response:
    """The request body, or the 413/408 refusal (the body is never read past ``limit``)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return error(413, f"Request body too large: {declared} bytes exceeds the limit of "
                     f"{limit} bytes", {"Connection": "close"})
    parts: list[bytes] = []
    size = 0
    with anyio.move_on_after(read_timeout) as timer:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return error(413, f"Request body too large: more than {limit} bytes",
                             {"Connection": "close"})
            parts.append(chunk)
    if timer.cancelled_caught:
        return error(408, f"Request body incomplete after {read_timeout:g} s",
                     {"Connection": "close"})
    return b"".join(parts)


def prompt_of(body: Mapping[str, Any], api: str) -> str:
    """The prompt a request carries: the Image API's ``prompt``, or the chat messages' text."""
    if api == "images":
        prompt = body.get("prompt")
        return prompt if isinstance(prompt, str) else ""
    texts: list[str] = []
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else ():
        content = message.get("content") if isinstance(message, Mapping) else None
        for part in content if isinstance(content, list) else [content]:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
                texts.append(part["text"])
    return "\n".join(texts)


def _refusal_message(refusal: Refusal, model: str) -> str:
    student = refusal.student
    need, left = to_usd(refusal.amount), to_usd(refusal.left)
    if refusal.scope == "class":
        return (f"The class budget is used up: ${left:.4f} is left for the whole class, and this "
                f"request to {model} may cost up to ${need:.4f}. Nothing was sent. Ask your "
                "teacher to raise the class budget.")
    if student.revoked:
        return "This gateway token was revoked. Nothing was sent."
    return (f"Budget exceeded for {student.name!r}: ${left:.4f} left of ${to_usd(student.budget):.2f}"
            f" (${to_usd(student.spent):.4f} spent, ${to_usd(student.reserved):.4f} running), and "
            f"this request to {model} may cost up to ${need:.4f}. Nothing was sent. Ask your "
            "teacher to raise your budget.")


async def _check(state: GatewayState, body: Mapping[str, Any], api: str
                 ) -> tuple[list[str], float] | Response:
    """The models and the worst case of a request, or its refusal."""
    models = models_of(body)
    if not models:
        return error(400, "The gateway needs a 'model' in the request (it prices by model).")
    allowed = state.config.models
    if allowed is not None:
        barred = [m for m in models if m.split(":", 1)[0] not in allowed]
        if barred:
            return error(403, f"Model {barred[0]!r} is not allowed in this class; allowed: "
                         f"{', '.join(sorted(allowed))}.")
    screened = state.screen(prompt_of(body, api))
    if screened is not None:
        return error(403, screened)
    try:
        listings = await state.prices.listings(models)
    except Exception as exc:
        return error(502, f"The gateway cannot price this request: {exc}. Nothing was sent.")
    worst = 0.0
    for model in models:
        price = worst_case_usd(model, body, api, listings)
        if price is None:
            return error(402, f"The price of {model!r} on this API is unknown to the gateway, so "
                         "a budget cannot hold for it; nothing was sent. Pick a model whose "
                         "listing gives a price.")
        worst = max(worst, price)
    return models, worst


async def generate(request: Request, api: str) -> Response:
    """``POST /chat/completions`` or ``POST /images`` through the budget."""
    state: GatewayState = request.app.state.gateway
    student = await state.authenticate(request)
    if isinstance(student, Response):
        return student
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        # As the local server: a page's cross-origin "simple" POST (text/plain, a form) needs no
        # preflight, a JSON one does; every client the gateway serves sends JSON.
        return error(415, f"POST {request.url.path} takes a JSON body: send Content-Type: "
                     "application/json")
    body_bytes = await read_body(request, state.config.max_body_bytes, state.config.read_timeout)
    if isinstance(body_bytes, Response):
        return body_bytes
    try:
        body = json.loads(body_bytes)
    except ValueError:
        return error(400, "The request body is not valid JSON.")
    if not isinstance(body, dict):
        return error(400, "The request body must be a JSON object.")
    checked = await _check(state, body, api)
    if isinstance(checked, Response):
        return checked
    models, worst = checked
    held = await state.run(state.ledger.reserve, student.id, to_nano(worst), models[0], api)
    if isinstance(held, Refusal):
        return error(402, _refusal_message(held, models[0]))
    return await _send(state, request, student, held, body_bytes, prompt_of(body, api))


async def _send(state: GatewayState, request: Request, student: Student, held: Reservation,
                body: bytes, prompt: str) -> Response:
    """Send upstream; an error status or a failed connection releases the reservation."""
    deadline = time.monotonic() + state.config.deadline
    headers = {k: v for k, v in request.headers.items() if k.lower() in _FORWARD}
    headers["accept-encoding"] = "identity"  # the bytes pass as they are: the scanner reads them
    if state.config.upstream_key:
        headers["authorization"] = f"Bearer {state.config.upstream_key}"
    url = f"{state.config.upstream_url}/{_PATHS[held.api]}"
    try:
        upstream = await state.client.send(
            state.client.build_request("POST", url, content=body, headers=headers), stream=True)
    except httpx.HTTPError as exc:
        await state.run(state.ledger.release, held)
        status = 504 if isinstance(exc, httpx.TimeoutException) else 502
        return error(status, f"The upstream could not be reached ({type(exc).__name__}); "
                     "nothing was charged.")
    if upstream.status_code >= 400:
        return await _upstream_error(state, upstream, held)

    catcher = FirstImage() if state.keeps_thumbnails else None

    async def settle(bill: Bill, how: str) -> None:
        await _settle(state, held, bill, how, prompt)
        b64 = catcher.base64 if catcher is not None else None
        if b64 is not None and bill.cost is not None:
            await state.run(_keep_thumbnail, state, held, prompt, b64)

    return PassThrough(upstream, settle, deadline,
                       on_chunk=catcher.feed if catcher is not None else None)


def _keep_thumbnail(state: GatewayState, held: Reservation, prompt: str, b64: bytes) -> None:
    """Make and keep the small preview the teacher's page shows (in a worker thread)."""
    made = thumbnail(b64)
    if made is not None:
        state.ledger.add_image(held.student_id, held.id, prompt, made[0], made[1])


async def _upstream_error(state: GatewayState, upstream: httpx.Response,
                          held: Reservation) -> Response:
    """Pass an upstream error on (its status and envelope, the key scrubbed); release the hold."""
    try:
        raw = b""
        async for chunk in upstream.aiter_raw():
            raw += chunk
            if len(raw) > 256 * 1024:
                break
    except httpx.HTTPError:
        raw = b""
    finally:
        await upstream.aclose()
        await state.run(state.ledger.release, held)
    text = state.scrub(raw.decode("utf-8", "replace"))
    try:
        obj = json.loads(text)
    except ValueError:
        obj = error_body(upstream.status_code, text[:2000] or f"upstream error {upstream.status_code}")
    headers = {k: upstream.headers[k] for k in ("retry-after",) if k in upstream.headers}
    return JSONResponse(obj, status_code=upstream.status_code, headers=headers)


async def _settle(state: GatewayState, held: Reservation, bill: Bill, how: str,
                  prompt: str) -> None:
    if bill.cost is not None:
        cost, outcome = to_nano(bill.cost), "settled"
    elif bill.error:
        cost, outcome = 0, "released"
    else:  # cut before the bill: the upstream may have charged; the hold is what counts
        cost, outcome = held.amount, "settled"
        log.warning("a call ended (%s) without usage.cost: charged its reservation", how)
    for attempt in range(SETTLE_ATTEMPTS):  # a database that blinks must not keep the hold
        try:
            await state.run(state.ledger.settle, held, cost, generation_id=bill.generation_id,
                            prompt=prompt, outcome=outcome)
            break
        except Exception:
            if attempt == SETTLE_ATTEMPTS - 1:
                raise
            log.warning("settling a call failed (attempt %d); retrying", attempt + 1)
            await anyio.sleep(min(5.0, 0.2 * 2 ** attempt))
    state.finished(held, bill)
