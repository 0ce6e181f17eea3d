"""OpenRouter's dedicated Image API (``POST /images``, ``GET /images/models``) as pure functions.

The Image API answers in an OpenAI-Images-like shape (``{created, data:[{b64_json, media_type}],
usage}``) and streams ``image_generation.partial_image`` / ``image_generation.completed`` events.
This module maps both onto the chat path's :class:`~jupyter_imagegen._wire.chat.ChatCompletion`, so
the client builds the same result whichever API produced the pictures. Stdlib only, no I/O.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._exceptions import ResponseError
from .common import ChatCompletion, ImagePayload, Usage, as_str, created_of, loads
from .dataurl import sniff_mime
from .errors import images_error, with_usage
from .listings import ImageModelInfo, ImageParameter, parse_image_models
from .sizes import IMAGES_ASPECT_RATIOS, IMAGES_RESOLUTIONS, images_pixel_size, parse_size
from .sse import is_done

__all__ = [
    "IMAGES_ASPECT_RATIOS",
    "IMAGES_OUTPUT_FORMATS",
    "IMAGES_RESOLUTIONS",
    "ImageModelInfo",
    "ImageParameter",
    "ImagesStreamAccumulator",
    "ImagesStreamUpdate",
    "build_images_body",
    "images_error",
    "images_pixel_size",
    "parse_image_models",
    "parse_images_response",
    "parse_size",
]

#: ``output_format`` values and their media types.
IMAGES_OUTPUT_FORMATS: dict[str, str] = {
    "png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "svg": "image/svg+xml",
}


def build_images_body(
    prompt: str,
    model: str,
    *,
    n: int | None = None,
    resolution: str | None = None,
    aspect_ratio: str | None = None,
    size: str | None = None,
    quality: str | None = None,
    output_format: str | None = None,
    background: str | None = None,
    seed: int | None = None,
    stream: bool = False,
    input_references: Sequence[str] = (),
    provider: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a ``POST /images`` body; parameters left as ``None`` are not sent.

    ``input_references`` are image URLs (``data:`` or ``https:``), sent as
    ``{"type": "image_url", "image_url": {"url": ...}}`` items; ``extra`` is merged last.
    """
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, not {type(prompt).__name__}")
    if not isinstance(model, str) or not model:
        raise TypeError("model must be a non-empty str")
    body: dict[str, Any] = {"model": model, "prompt": prompt}
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        body["n"] = n
    optional = {"resolution": resolution, "aspect_ratio": aspect_ratio, "size": size,
                "quality": quality, "output_format": output_format, "background": background}
    body.update({key: str(value) for key, value in optional.items() if value is not None})
    if seed is not None:
        body["seed"] = int(seed)
    if stream:
        body["stream"] = True
    refs = [input_references] if isinstance(input_references, str) else list(input_references)
    if refs:
        body["input_references"] = [{"type": "image_url", "image_url": {"url": url}}
                                    for url in refs]
    if provider:
        body["provider"] = dict(provider)
    if extra:
        body.update(extra)
    return body


# ---------------------------------------------------------------------------------------------
# Responses


def _usage_of(obj: Any) -> Usage:
    """``usage`` in the Image API's (chat-like) shape, or OpenAI's ``input/output_tokens``."""
    if isinstance(obj, Mapping) and "prompt_tokens" not in obj and (
            "input_tokens" in obj or "output_tokens" in obj):
        obj = {**obj, "prompt_tokens": obj.get("input_tokens"),
               "completion_tokens": obj.get("output_tokens")}
    return Usage.from_json(obj)


def _media_type(b64: str, declared: Any) -> str:
    if isinstance(declared, str) and "/" in declared:
        return declared.strip().lower()
    try:  # sniff the magic bytes from the first few base64 characters
        head = base64.b64decode(b64[:64] + "=" * (-len(b64[:64]) % 4))
    except (binascii.Error, ValueError):
        head = b""
    return sniff_mime(head) or "image/png"


def _image_url(item: Mapping[str, Any]) -> str | None:
    b64 = item.get("b64_json")
    if isinstance(b64, str) and b64:
        return f"data:{_media_type(b64, item.get('media_type'))};base64,{b64}"
    url = item.get("url")
    return url if isinstance(url, str) and url else None


def _str_or_none(value: Any) -> str | None:
    return as_str(value) or None


def parse_images_response(
    obj: Any,
    *,
    status: int = 200,
    generation_id: str | None = None,
    model: str | None = None,
) -> ChatCompletion:
    """Parse a non-streaming ``POST /images`` body into a :class:`ChatCompletion`.

    ``data[].b64_json`` + ``media_type`` become ``data:`` URLs (``url`` items are kept as they
    are); ``usage`` and ``created`` are carried over. The body has no id, so ``generation_id``
    (from the ``X-Generation-Id`` header) fills it; ``model`` fills ``model`` likewise. An error
    envelope raises the mapped exception at any status; an empty ``data`` gives a completion
    without images (``require_images()`` raises :class:`NoImageError`).
    """
    if not isinstance(obj, Mapping):
        raise ResponseError(f"expected a JSON object, got {type(obj).__name__}",
                            request_id=generation_id)
    request_id = _str_or_none(obj.get("id")) or generation_id
    if obj.get("error"):
        raise with_usage(images_error(obj, status=status, request_id=request_id), obj.get("usage"))
    data = obj.get("data")
    if not isinstance(data, list):
        raise ResponseError("the Image API response has no 'data' list", request_id=request_id)
    images: list[ImagePayload] = []
    revised: list[str] = []
    for item in data:
        if not isinstance(item, Mapping):
            continue
        url = _image_url(item)
        if url is not None:
            images.append(ImagePayload(url=url, index=len(images)))
        if isinstance(item.get("revised_prompt"), str):
            revised.append(item["revised_prompt"])
    created = obj.get("created")
    return ChatCompletion(
        id=request_id,
        model=_str_or_none(obj.get("model")) or model,
        provider=_str_or_none(obj.get("provider")),
        created=created_of(created),
        text="\n".join(revised),
        reasoning=None,
        images=tuple(images),
        finish_reason="stop" if images else None,
        native_finish_reason=None,
        usage=_usage_of(obj.get("usage")),
    )


# ---------------------------------------------------------------------------------------------
# Streaming

PARTIAL = "image_generation.partial_image"
COMPLETED = "image_generation.completed"


@dataclass(frozen=True, slots=True)
class ImagesStreamUpdate:
    """What one Image API stream event contributed.

    ``kind`` is ``"partial"`` (a preview: ``image`` holds it, ``partial_index`` its number, and
    ``image_index`` the final image it previews), ``"completed"`` (``image`` is a finished
    picture), ``"done"`` (``[DONE]``) or ``"other"`` (an event type this module ignores).
    """

    kind: str
    image: ImagePayload | None = None
    partial_index: int | None = None
    image_index: int | None = None
    usage: Usage | None = None

    @property
    def is_partial(self) -> bool:
        """True for a partial (preview) image; never part of the final result."""
        return self.kind == "partial"

    @property
    def is_completed(self) -> bool:
        """True for a finished image."""
        return self.kind == "completed"

    @property
    def done(self) -> bool:
        """True for the ``[DONE]`` sentinel."""
        return self.kind == "done"


class ImagesStreamAccumulator:
    """Assemble an Image API SSE stream into one :class:`ChatCompletion`.

    Partial images are reported as they come but never enter the result; each completed event
    adds one image; the last ``usage`` seen wins; an error event raises the mapped exception.
    """

    def __init__(self, *, keep_images: bool = True, generation_id: str | None = None,
                 model: str | None = None) -> None:
        self._keep_images = keep_images
        self._generation_id = generation_id
        self._model = model
        self._images: list[ImagePayload] = []
        self._revised: list[str] = []
        self._usage: Any = None
        self._created: int | None = None
        self.completed = 0
        self.partials = 0
        self.done = False

    def add_data(self, data: str | bytes | bytearray) -> ImagesStreamUpdate:
        """Add one SSE ``data`` payload (JSON or ``[DONE]``)."""
        if is_done(data):
            self.done = True
            return ImagesStreamUpdate(kind="done")
        return self.add_event(loads(data, "a streamed event"))

    def add_event(self, event: Any) -> ImagesStreamUpdate:
        """Add one decoded event and report what it contributed."""
        if not isinstance(event, Mapping):
            raise ResponseError("a streamed event is not a JSON object",
                                request_id=self._generation_id)
        kind = event.get("type")
        if kind == "error" or event.get("error"):
            raise images_error(event, status=200, request_id=self._generation_id)
        if kind == PARTIAL:
            url = _image_url(event)
            if url is None:
                return ImagesStreamUpdate(kind="other")
            index = event.get("partial_image_index")
            index = index if isinstance(index, int) and not isinstance(index, bool) \
                and 0 <= index < 1000 else self.partials
            self.partials += 1
            return ImagesStreamUpdate(kind="partial", image=ImagePayload(url=url, index=index),
                                      partial_index=index, image_index=self.completed)
        if kind == COMPLETED:
            url = _image_url(event)
            if url is None:
                raise ResponseError("an image_generation.completed event carries no image",
                                    request_id=self._generation_id)
            image = ImagePayload(url=url, index=self.completed)
            self.completed += 1
            if self._keep_images:
                self._images.append(image)
            self._created = created_of(event.get("created")) or self._created
            if isinstance(event.get("revised_prompt"), str):
                self._revised.append(event["revised_prompt"])
            usage = None
            if event.get("usage"):
                self._usage = event["usage"]
                usage = _usage_of(self._usage)
            return ImagesStreamUpdate(kind="completed", image=image, image_index=image.index,
                                      usage=usage)
        return ImagesStreamUpdate(kind="other")

    def result(self) -> ChatCompletion:
        """The assembled completion: completed images only (call after ``[DONE]``)."""
        return ChatCompletion(
            id=self._generation_id,
            model=self._model,
            provider=None,
            created=self._created,
            text="\n".join(self._revised),
            reasoning=None,
            images=tuple(self._images),
            finish_reason="stop" if self.completed else None,
            native_finish_reason=None,
            usage=_usage_of(self._usage),
        )


