"""The dedicated Image API: ``POST /images`` (JSON or SSE) and ``GET /images/models``.

Pictures come from the same renderer and cache as the chat path; generations are recorded with
``api_type: "image"``; scripted faults with ``path="/images"`` apply. Billing is all-or-nothing, as
the docs say (55128d8c): failed or imageless generations are not recorded. A generation that
finished is billed even if its answer never arrived whole (a connection cut in transit, a broken
image, a client that went away: ``cancelled: true``), as the service bills what it generated.
"""

from __future__ import annotations

import base64
import io
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageChops

from jupyter_imagegen._wire.sse import encode_sse

from ._chat import sse_parts
from ._chat_validate import Rejected
from ._faults import Fault
from ._images_validate import ImagesRequest, parse_images_request
from ._pricing import charge, order_of, tokens_per_image
from ._records import GenerationRecord, new_generation_id
from ._render import RenderCache, backdrop, encode_image, render

if TYPE_CHECKING:  # the handler calls this module, so the reference back is type-only
    from ._app import Handler

__all__ = ["ImageGenerationRecord", "ImagesAnswer", "compose_images", "handle_images"]

BAD_BASE64 = "iVBORw0KGgo%%%%not*valid*base64!!"
PARTIAL = "image_generation.partial_image"
COMPLETED = "image_generation.completed"


@dataclass(frozen=True)
class ImageGenerationRecord(GenerationRecord):
    """A generation made through the Image API (``api_type: "image"``)."""

    def to_json(self) -> dict[str, Any]:
        """The ``GET /generation`` data, marked as an Image API generation."""
        data = super().to_json()
        data["api_type"] = "image"
        return data


@dataclass(frozen=True)
class ImagesAnswer:
    """The base64 images of one answer, their partial previews, and the usage."""

    images: tuple[str, ...]
    partials: tuple[tuple[str, ...], ...]
    usage: dict[str, Any]

    def sent_usage(self, kind: str | None) -> dict[str, Any] | None:
        """The usage the answer carries (the bill is ``usage`` whatever it says).

        ``no-cost``: OpenAI's Images shape, with no cost (``input_tokens``, ``output_tokens``,
        ``total_tokens``: OpenAI API reference, images ``usage``); ``no-usage``: none; else the
        recorded OpenRouter shape.
        """
        if kind == "no-usage":
            return None
        if kind == "no-cost":
            usage = self.usage
            return {"input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"],
                    "total_tokens": usage["total_tokens"]}
        return self.usage


# -- rendering ---------------------------------------------------------------------------------


def _encode(image: Image.Image, req: ImagesRequest, cache: RenderCache | None = None) -> str:
    """Base64 of the encoded image; ``cache`` given (a final image), signed when signing is on."""
    if req.compression is not None and req.mime in ("image/jpeg", "image/webp"):
        buffer = io.BytesIO()
        quality = max(1, req.compression)
        if req.mime == "image/jpeg":
            image.convert("RGB").save(buffer, "JPEG", quality=quality)
        else:
            image.save(buffer, "WEBP", quality=quality, method=0)
        raw = buffer.getvalue()
    else:
        raw = encode_image(image, req.mime)
    if cache is not None:
        raw = cache.finish(raw, req.mime)
    return base64.b64encode(raw).decode("ascii")


def _transparent(image: Image.Image, req: ImagesRequest, variant: int) -> Image.Image:
    """Make the background gradient transparent (the shapes and caption stay opaque)."""
    behind = backdrop(req.prompt, req.seed, req.size, variant, req.spec.style)
    alpha = ImageChops.difference(image.convert("RGB"), behind).convert("L").point(
        lambda v: 255 if v > 24 else 0)
    out = image.convert("RGBA")
    out.putalpha(alpha)
    return out


def _partial(image: Image.Image, k: int, count: int) -> Image.Image:
    """Partial ``k`` of ``count``: a blurred version that sharpens as ``k`` grows."""
    factor = 2 ** (count - k + 2)
    w, h = image.size
    small = image.resize((max(1, w // factor), max(1, h // factor)), Image.Resampling.BILINEAR)
    return small.resize((w, h), Image.Resampling.BILINEAR)


def _variant(req: ImagesRequest, cache: RenderCache, variant: int,
             partials: int) -> tuple[str, tuple[str, ...]]:
    key = ("images", req.spec.style, req.prompt, req.seed, req.size, req.inputs_digest, req.mime,
           req.background == "transparent", req.compression, variant)
    drawn: list[Image.Image] = []

    def picture() -> Image.Image:
        if not drawn:
            image = render(req.prompt, req.seed, req.size, variant=variant, inputs=req.inputs,
                           style=req.spec.style)
            if req.background == "transparent" and not req.inputs:
                image = _transparent(image, req, variant)
            drawn.append(image)
        return drawn[0]

    def preview(k: int) -> str:
        return cache.get((*key, "partial", k, partials),
                         lambda: _encode(_partial(picture(), k, partials), req))

    final = cache.get(key, lambda: _encode(picture(), req, cache))
    return final, tuple(preview(k) for k in range(partials))


def compose_images(req: ImagesRequest, cache: RenderCache, *, partials: bool = False,
                   drop_images: bool = False) -> ImagesAnswer:
    """Render (or fetch from the cache) the images of a valid request, and their usage."""
    count = 0 if drop_images else req.n
    made = [_variant(req, cache, i, req.partials if partials else 0) for i in range(count)]
    prompt_tokens = max(1, math.ceil(len(req.prompt) / 4)) + 258 * len(req.inputs)
    order = order_of(count, req.size, req.resolution, req.quality,
                     [image.size for image in req.inputs], req.prompt)
    per_image = tokens_per_image(req.spec.id, order)
    completion = per_image * count
    # the shape of a recorded POST /images answer (rbb-dev/Open-WebUI-OpenRouter-pipe@067605d6:
    # tests/fixtures/openrouter_image_generate_1K.json); prompt text and inputs are in the cost
    cost = charge(req.spec.price_lines, order, per_image)
    usage = {"completion_tokens": completion,
             "completion_tokens_details": {"image_tokens": completion, "reasoning_tokens": 0},
             "cost": cost,
             "cost_details": {"upstream_inference_completions_cost": cost,
                              "upstream_inference_cost": cost,
                              "upstream_inference_prompt_cost": 0},
             "is_byok": False, "prompt_tokens": prompt_tokens,
             "prompt_tokens_details": {"cached_tokens": 0},
             "total_tokens": prompt_tokens + completion}
    return ImagesAnswer(tuple(m[0] for m in made), tuple(m[1] for m in made), usage)


def _record(handler: Handler, gen_id: str, req: ImagesRequest, answer: ImagesAnswer, *,
            streamed: bool, started: float, cancelled: bool = False) -> None:
    """Bill a generation that made images (all-or-nothing: one without images is free)."""
    if not answer.images:
        return
    usage = answer.usage
    handler.server.app.generations.append(ImageGenerationRecord(
        id=gen_id, model=req.spec.id, created=time.time(), total_cost=usage["cost"],
        prompt_tokens=usage["prompt_tokens"], completion_tokens=usage["completion_tokens"],
        image_tokens=usage["completion_tokens"], reasoning_tokens=0,
        num_images=len(answer.images), num_input_images=len(req.inputs), streamed=streamed,
        finish_reason="stop", latency=time.monotonic() - started, cancelled=cancelled,
    ))


#: Fault kinds that answer without an image on the Image API (``data: []``, not billed).
_NO_IMAGE = ("no-image", "refusal", "tool-call")


def _stream_error(fault: Fault) -> dict[str, Any]:
    """The mid-stream error object, shaped as the spec's ``ImageGenStreamErrorEvent.error``.

    ``{message, code, param, type}`` with string-or-null ``code``; the defaults are the spec's
    example (``upstream_error``, ``provider_error``); a fault's ``code`` is sent as a string.
    """
    return {"message": fault.message or "The upstream provider returned an error",
            "code": str(fault.code) if fault.code is not None else "upstream_error",
            "param": None, "type": "provider_error"}


# -- HTTP ---------------------------------------------------------------------------------------


def handle_images(handler: Handler, body: bytes, fault: Fault | None) -> None:
    """``POST /images``: validate, then answer with JSON or an SSE stream."""
    app = handler.server.app
    started = time.monotonic()
    try:
        chat_only = {k for k, v in app.catalogue.items() if v.chat and v.makes_images}
        req = parse_images_request(json.loads(body), app.image_catalogue, chat_only)
    except ValueError as exc:
        handler._error(400, f"Invalid JSON in request body: {exc}")
        return
    except Rejected as exc:
        handler._write_json(exc.status, exc.body())
        return
    gen_id = new_generation_id()
    delay = app.latency + (fault.delay if fault else 0.0)
    if req.stream:
        _stream(handler, req, gen_id, fault, delay, started)
        return
    kind = fault.kind if fault else None
    time.sleep(delay)
    headers = {"X-Generation-Id": gen_id}
    if fault is not None and kind == "error-200":
        handler._write_json(200, {"error": fault.envelope()}, headers)
        return
    if fault is not None and kind in ("stream-error", "choice-error"):
        err = fault.envelope() if fault.code else {
            "code": 502, "message": fault.message or "Generation failed (injected fault)",
            "metadata": {"error_type": "server", "provider_name": "jupyter-imagegen offline"}}
        status = err["code"] if isinstance(err["code"], int) and err["code"] >= 400 else 502
        handler._write_json(status, {"error": err}, headers)
        return
    answer = compose_images(req, app.cache, drop_images=kind in _NO_IMAGE)
    data = [{"b64_json": b64, "media_type": req.mime} for b64 in answer.images]
    if kind == "bad-base64" and data:
        data[0]["b64_json"] = BAD_BASE64
    obj: dict[str, Any] = {"created": int(time.time()), "data": data}
    if (usage := answer.sent_usage(kind)) is not None:
        obj["usage"] = usage
    _record(handler, gen_id, req, answer, streamed=False, started=started)  # before the write
    handler._write_json(200, obj, headers, cut=kind in ("cut-stream", "cut-after-image"))


def _event(obj: dict[str, Any]) -> bytes:
    return b"".join(sse_parts(obj))


def _stream(handler: Handler, req: ImagesRequest, gen_id: str, fault: Fault | None,
            delay: float, started: float) -> None:
    """The SSE answer; a generation whose client went away mid-stream is still billed."""
    kind = fault.kind if fault else None
    made: list[ImagesAnswer] = []
    billed: list[bool] = []

    def bill(cancelled: bool = False) -> None:  # once, as the generation ends
        if made and not billed:
            billed.append(True)
            _record(handler, gen_id, req, made[0], streamed=True, started=started,
                    cancelled=cancelled)

    try:
        _send_stream(handler, req, gen_id, fault, delay, made, bill)
    except OSError:  # the client left: the generation runs to the end, and is billed
        if kind not in ("error-200", "stream-error"):
            made[:] = made or [compose_images(req, handler.server.app.cache,
                                              drop_images=kind in _NO_IMAGE)]
            bill(cancelled=True)
        raise


def _send_stream(handler: Handler, req: ImagesRequest, gen_id: str, fault: Fault | None,
                 delay: float, made: list[ImagesAnswer], bill: Callable[[], None]) -> None:
    """Partials, completed images, ``[DONE]``; ``bill()`` as the generation ends (or is cut)."""
    app = handler.server.app
    kind = fault.kind if fault else None
    handler._open_stream(gen_id, delay)
    if fault is not None and kind == "error-200":
        handler._chunk(_event({"type": "error", "error": _stream_error(fault)}))
        handler._chunk()
        return
    answer = compose_images(req, app.cache, partials=True, drop_images=kind in _NO_IMAGE)
    made.append(answer)
    created = int(time.time())
    last = len(answer.images) - 1
    for i, (b64, previews) in enumerate(zip(answer.images, answer.partials, strict=True)):
        for k, preview in enumerate(previews):
            handler._chunk(_event({"type": PARTIAL, "partial_image_index": k,
                                   "b64_json": preview}))
        if fault is not None and kind == "stream-error":
            handler._chunk(_event({"type": "error", "error": _stream_error(fault)}))
            handler._chunk()
            return
        done: dict[str, Any] = {"type": COMPLETED, "b64_json": b64, "media_type": req.mime,
                                "created": created}
        if kind == "bad-base64" and i == 0:
            done["b64_json"] = BAD_BASE64
        if i == last and (usage := answer.sent_usage(kind)) is not None:
            done["usage"] = usage
        parts = sse_parts(done)
        if kind == "cut-stream" and i == 0:  # cut in transit: the generation finished
            bill()
            event = b"".join(parts)
            handler._chunk(event[: len(event) // 2])
            handler._hang_up()
            return
        handler._chunk(*parts)
    bill()
    if kind == "cut-after-image":  # every image (and the usage) arrived; [DONE] never does
        handler._hang_up()
        return
    handler._chunk(encode_sse("[DONE]"))
    handler._chunk()
