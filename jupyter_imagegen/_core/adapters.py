"""The two image APIs as small adapters over one :class:`~jupyter_imagegen._core.request.Request`.

Each adapter knows its path, how to spell a request as its body, and how to read its answers
(JSON or stream events) into the same :class:`~jupyter_imagegen._wire.common.ChatCompletion`.
:func:`choose_api` is the routing rule; everything else in the client is API-blind.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from .._results.result import GeneratedImage, ImageResult
from .._wire.chat import StreamAccumulator, StreamUpdate, build_chat_body, parse_chat_completion
from .._wire.common import ChatCompletion, ImagePayload
from .._wire.dataurl import decode_data_url
from .._wire.images import (
    ImagesStreamAccumulator,
    ImagesStreamUpdate,
    build_images_body,
    parse_images_response,
)
from .._wire.sizes import chat_size, images_resolution
from .model import API_ONLY, ApiCaps, Model
from .request import Request

__all__ = ["ADAPTERS", "Adapter", "StreamEvent", "choose_api", "decode_payload"]


@dataclass(frozen=True)
class StreamEvent:
    """One step of a streamed generation, for progress displays.

    ``kind`` is ``"keepalive"`` (the service is still working), ``"text"`` / ``"reasoning"``
    (a delta in ``text``), ``"image"`` (a complete, decoded-ready image in ``image``),
    ``"partial"`` (an Image API preview in ``image``, never part of the result),
    ``"retry"`` (waiting ``delay`` seconds before attempt ``attempt``) or ``"done"`` (``result``).
    """

    kind: Literal["keepalive", "text", "reasoning", "image", "partial", "retry", "done"]
    text: str = ""
    image: GeneratedImage | None = None
    result: ImageResult | None = None
    elapsed: float = 0.0
    attempt: int = 0
    delay: float = 0.0


def decode_payload(payload: ImagePayload, lifted: Mapping[str, memoryview] | None = None,
                   max_bytes: int | None = None) -> GeneratedImage:
    """A payload's bytes, checked: a data URL that does not decode raises ``ImageDecodeError``."""
    url: str | memoryview = lifted.get(payload.url, payload.url) if lifted else payload.url
    mime, data = decode_data_url(url, index=payload.index, max_bytes=max_bytes)
    return GeneratedImage(data=data, mime=mime, index=payload.index)


class Adapter(Protocol):
    """What the client needs of an API."""

    name: Literal["chat", "images"]
    path: str

    def body(self, request: Request, model: Model | None, stream: bool) -> dict[str, Any]: ...
    def parse(self, obj: Any, status: int, generation_id: str | None, model: str) -> ChatCompletion: ...
    def accumulator(self, generation_id: str | None, model: str) -> Any: ...
    def events(self, update: Any, elapsed: float, lifted: Mapping[str, memoryview],
               max_bytes: int | None) -> Iterator[StreamEvent]: ...


class ChatAdapter:
    """``POST /chat/completions`` with ``modalities`` (the seed's documented path)."""

    name: Literal["chat", "images"] = "chat"
    path = "chat/completions"

    def body(self, request: Request, model: Model | None, stream: bool) -> dict[str, Any]:
        """The chat body; ``["image"]`` for image-only models, ``["image", "text"]`` otherwise."""
        modalities = request.modalities or (
            ("image", "text") if model is None or model.outputs_text else ("image",))
        return build_chat_body(
            request.prompt, request.model, images=request.images, modalities=modalities,
            aspect_ratio=request.aspect_ratio, image_size=chat_size(request.size),
            image_config=request.image_config, seed=request.seed, stream=stream,
            provider=request.provider, messages=request.messages, extra=request.extra_body)

    def parse(self, obj: Any, status: int, generation_id: str | None, model: str) -> ChatCompletion:
        """A JSON answer (errors inside a 200 raise)."""
        return parse_chat_completion(obj, status=status)

    def accumulator(self, generation_id: str | None, model: str) -> StreamAccumulator:
        """A stream accumulator that hands images on instead of keeping them."""
        return StreamAccumulator(keep_images=False)

    def events(self, update: StreamUpdate | None, elapsed: float,
               lifted: Mapping[str, memoryview], max_bytes: int | None) -> Iterator[StreamEvent]:
        """The progress events one chunk stands for."""
        if update is None:
            return
        if update.reasoning:
            yield StreamEvent("reasoning", text=update.reasoning, elapsed=elapsed)
        if update.text:
            yield StreamEvent("text", text=update.text, elapsed=elapsed)
        for payload in update.images:
            yield StreamEvent("image", image=decode_payload(payload, lifted, max_bytes), elapsed=elapsed)


class ImagesAdapter:
    """The dedicated ``POST /images`` (the path OpenRouter's guide documents since 2026-07)."""

    name: Literal["chat", "images"] = "images"
    path = "images"

    def body(self, request: Request, model: Model | None, stream: bool) -> dict[str, Any]:
        """The Image API body; ``stream`` only where the model streams (others ignore it anyway)."""
        caps = model.caps("images") if model is not None else None
        extra = {**_spelled(request.parameters, caps), **(request.extra_body or {})}
        return build_images_body(
            request.prompt, request.model, n=request.n, resolution=images_resolution(request.size),
            aspect_ratio=request.aspect_ratio, size=request.pixels, quality=request.quality,
            output_format=request.output_format, background=request.background,
            seed=request.seed, stream=stream and (caps is None or caps.streaming),
            input_references=request.images, provider=request.provider, extra=extra or None)

    def parse(self, obj: Any, status: int, generation_id: str | None, model: str) -> ChatCompletion:
        """A JSON answer (``data[].b64_json``)."""
        return parse_images_response(obj, status=status, generation_id=generation_id, model=model)

    def accumulator(self, generation_id: str | None, model: str) -> ImagesStreamAccumulator:
        """A stream accumulator for ``image_generation.*`` events."""
        return ImagesStreamAccumulator(keep_images=False, generation_id=generation_id, model=model)

    def events(self, update: ImagesStreamUpdate, elapsed: float,
               lifted: Mapping[str, memoryview], max_bytes: int | None) -> Iterator[StreamEvent]:
        """Partial previews and completed images."""
        if update.image is not None and update.kind in ("partial", "completed"):
            kind: Literal["partial", "image"] = "partial" if update.is_partial else "image"
            yield StreamEvent(kind, image=decode_payload(update.image, lifted, max_bytes), elapsed=elapsed)


def _spelled(parameters: Mapping[str, Any] | None, caps: ApiCaps | None) -> dict[str, Any]:
    """Descriptor-declared parameters as the wire wants them: an ``enum`` value is a string."""
    spelled: dict[str, Any] = {}
    for name, value in (parameters or {}).items():
        param = caps.descriptors.get(name) if caps is not None else None
        spelled[name] = str(value) if param is not None and param.type == "enum" else value
    return spelled


ADAPTERS: dict[str, Adapter] = {"chat": ChatAdapter(), "images": ImagesAdapter()}


def _fits(request: Request, caps: ApiCaps | None, api: str) -> bool:
    return caps is not None and not caps.problems(request, api)


def _problems(request: Request, caps: ApiCaps | None, api: str) -> list[str]:
    return caps.problems(request, api) if caps is not None else ["not served"]


def choose_api(request: Request, model: Model | None, default: str = "auto") -> str:
    """Which API to send ``request`` to.

    An explicit ``"chat"``/``"images"`` wins. ``"auto"``: the model's documented path (chat for
    text+image models, the Image API for image-only models it serves), unless only the other API
    takes what was asked (an Image-API-only ratio such as ``1:4``, ``n`` > 1, a pixel size, a
    descriptor-declared parameter; for an image-only model, only chat's own options such as
    ``modalities`` move it to chat). Without a catalogue record (``check_models=False``), chat;
    the client then remembers where a refusal sent it (:meth:`Catalogue.route_for`).
    """
    api = request.api or default
    if api in ("chat", "images"):
        return api
    if model is None:
        return "chat"
    first = model.default_api
    other = "images" if first == "chat" else "chat"
    if _fits(request, model.caps(first), first):
        return first
    if first == "images" and not any(getattr(request, name) for name in API_ONLY["chat"]):
        # An image-only model's listed chat entry is no promise that chat/completions serves it
        # (openai/gpt-image-2 is listed and refused there): its descriptors decide, and refuse.
        return first
    if _fits(request, model.caps(other), other):
        return other
    # Neither takes it: the API with fewer objections, so the refusal names what to change; on
    # a tie, the Image API for its own options (its refusal lists the parameters the model has).
    mine, theirs = (len(_problems(request, model.caps(api), api)) for api in (first, other))
    images_asked = any(getattr(request, name) for name in API_ONLY["images"])
    # Too many images for either: the API that takes the most, so the refusal gives the real limit.
    more_n = bool(request.n and request.n > 1 and _max_n(model, other) > _max_n(model, first))
    if model.caps(other) is not None and (
            theirs < mine or (theirs == mine and ((other == "images" and images_asked) or more_n))):
        return other
    return first


def _max_n(model: Model, api: str) -> int:
    caps = model.caps(api)
    return caps.max_n if caps is not None else 0
