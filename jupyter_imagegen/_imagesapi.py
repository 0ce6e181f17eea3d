"""OpenRouter's dedicated Image API (``POST /images``, ``GET /images/models``) as pure functions.

The Image API answers in an OpenAI-Images-like shape (``{created, data:[{b64_json, media_type}],
usage}``) and streams ``image_generation.partial_image`` / ``image_generation.completed`` events.
This module maps both onto the chat path's :class:`~jupyter_imagegen._protocol.ChatCompletion`, so
the client builds the same result whichever API produced the pictures. Stdlib only, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._dataurl import sniff_mime
from ._exceptions import ImageGenError, ResponseError
from ._protocol import (
    ASPECT_RATIOS,
    ChatCompletion,
    ImagePayload,
    Usage,
    error_from_envelope,
    is_done,
)

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

#: The ``aspect_ratio`` values the Image API documents (a model accepts a subset).
IMAGES_ASPECT_RATIOS: tuple[str, ...] = (
    "1:1", "1:2", "1:4", "1:8", "2:1", "2:3", "3:2", "3:4", "4:1", "4:3", "4:5", "5:4", "8:1",
    "9:16", "16:9", "9:19.5", "19.5:9", "9:20", "20:9", "9:21", "21:9", "auto",
)
#: ``resolution`` tiers and their scale relative to 1K (1:1 at 1K is 1024x1024).
IMAGES_RESOLUTIONS: dict[str, float] = {"512": 0.5, "1K": 1.0, "2K": 2.0, "4K": 4.0}
#: ``output_format`` values and their media types.
IMAGES_OUTPUT_FORMATS: dict[str, str] = {
    "png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "svg": "image/svg+xml",
}

# String error codes seen in Image API errors (``{"code": "server_error"}``), as HTTP statuses so
# the chat path's mapping picks the right exception class.
_STRING_CODES = {
    "server_error": 502, "internal_error": 500, "rate_limit_exceeded": 429,
    "invalid_request_error": 400, "bad_request": 400, "invalid_request": 400,
    "content_policy_violation": 403, "moderation_blocked": 403, "insufficient_quota": 402,
    "payment_required": 402, "timeout": 408, "model_not_found": 400, "not_found": 404,
    "unauthorized": 401, "provider_overloaded": 529, "provider_unavailable": 503,
}


# ---------------------------------------------------------------------------------------------
# Sizes


def parse_size(size: str) -> tuple[int, int] | None:
    """``"1536x1024"`` → ``(1536, 1024)``; ``None`` for tiers (``"2K"``), ``"auto"`` or junk."""
    width, sep, height = size.strip().lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        return None
    w, h = int(width), int(height)
    return (w, h) if w > 0 and h > 0 else None


def _ratio_value(aspect_ratio: str) -> float:
    left, sep, right = aspect_ratio.partition(":")
    try:
        value = float(left) / float(right)
    except (ValueError, ZeroDivisionError):
        value = float("nan")
    if not sep or not math.isfinite(value) or value <= 0:
        raise ValueError(f"not an aspect ratio: {aspect_ratio!r} (expected e.g. '16:9')")
    return value


def images_pixel_size(aspect_ratio: str | None = None,
                      resolution: str | None = None) -> tuple[int, int]:
    """Pixel size for an Image API ``aspect_ratio`` and ``resolution`` tier.

    Ratios in the documented Gemini table use its sizes (16:9 at 1K is 1344x768); their transposes
    are transposed (9:21 is 672x1536); any other ratio keeps the 1K area of about one megapixel,
    with sides rounded to multiples of 32. The tier scales the result (``"512"`` halves it).
    ``None`` and ``"auto"`` mean 1:1 and 1K.
    """
    ratio = "1:1" if aspect_ratio in (None, "", "auto") else str(aspect_ratio)
    tier = resolution or "1K"
    if tier not in IMAGES_RESOLUTIONS:
        raise ValueError(f"unknown resolution {tier!r}; valid: {', '.join(IMAGES_RESOLUTIONS)}")
    scale = IMAGES_RESOLUTIONS[tier]
    if ratio in ASPECT_RATIOS:
        width, height = ASPECT_RATIOS[ratio]
    else:
        left, _, right = ratio.partition(":")
        flipped = f"{right}:{left}"
        if flipped in ASPECT_RATIOS:
            height, width = ASPECT_RATIOS[flipped]
        else:
            value = _ratio_value(ratio)
            width = max(32, round(math.sqrt(1024 * 1024 * value) / 32) * 32)
            height = max(32, round(1024 * 1024 / width / 32) * 32)
    return round(width * scale), round(height * scale)


# ---------------------------------------------------------------------------------------------
# Requests


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


def images_error(obj: Mapping[str, Any], *, status: int | None = None,
                 request_id: str | None = None) -> ImageGenError:
    """Map an Image API error (``{"error": {...}}`` or a ``{"type": "error", ...}`` event).

    String codes such as ``"server_error"`` get the matching HTTP status, so they land on the same
    exception classes as the chat path's numeric codes.
    """
    err = obj.get("error")
    if not isinstance(err, Mapping):
        err = {"message": err} if isinstance(err, str) and err else \
            {k: v for k, v in obj.items() if k != "type"}
    err = dict(err)
    code = err.get("code")
    if isinstance(code, str) and not code.isdigit() and "http_status" not in err:
        mapped = _STRING_CODES.get(code.lower())
        if mapped is not None:
            err["http_status"] = mapped
        if code.lower() == "model_not_found":
            err.setdefault("error_type", "model_not_found")
    return error_from_envelope({"error": err}, status=status, request_id=request_id)


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
    return value if isinstance(value, str) and value else None


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
        raise images_error(obj, status=status, request_id=request_id)
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
        created=created if isinstance(created, int) and not isinstance(created, bool) else None,
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

    def add_data(self, data: str | bytes) -> ImagesStreamUpdate:
        """Add one SSE ``data`` payload (JSON or ``[DONE]``)."""
        if is_done(data):
            self.done = True
            return ImagesStreamUpdate(kind="done")
        try:
            event = json.loads(data)
        except ValueError as exc:
            raise ResponseError(f"a streamed event is not valid JSON: {exc}",
                                request_id=self._generation_id) from None
        return self.add_event(event)

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
                else self.partials
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
            created = event.get("created")
            if isinstance(created, int) and not isinstance(created, bool):
                self._created = created
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


# ---------------------------------------------------------------------------------------------
# Discovery: GET /images/models


@dataclass(frozen=True)
class ImageParameter:
    """One capability descriptor: ``enum`` (``values``), ``range`` (``min``/``max``) or ``boolean``."""

    name: str
    type: str
    values: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None

    @classmethod
    def from_json(cls, name: str, obj: Any) -> ImageParameter:
        """Read a descriptor leniently (a bare list is an enum, ``true`` a boolean)."""
        if isinstance(obj, list):
            return cls(name, "enum", tuple(str(v) for v in obj))
        if not isinstance(obj, Mapping):
            return cls(name, "boolean")
        kind = str(obj.get("type") or ("enum" if "values" in obj else
                                       "range" if "min" in obj or "max" in obj else "boolean"))
        values = obj.get("values")
        low, high = obj.get("min"), obj.get("max")
        return cls(
            name, kind,
            tuple(str(v) for v in values) if isinstance(values, list) else (),
            int(low) if isinstance(low, (int, float)) and not isinstance(low, bool) else None,
            int(high) if isinstance(high, (int, float)) and not isinstance(high, bool) else None,
        )

    def allows(self, value: Any) -> bool:
        """Whether ``value`` is acceptable for this parameter."""
        if self.type == "enum":
            return str(value) in self.values
        if self.type == "range":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return False
            return (self.min is None or value >= self.min) and (
                self.max is None or value <= self.max)
        return True

    def describe(self) -> str:
        """The accepted values, for error messages (``1:1, 16:9`` or ``1-4``)."""
        if self.type == "enum":
            return ", ".join(self.values)
        if self.type == "range":
            return f"{'' if self.min is None else self.min}-{'' if self.max is None else self.max}"
        return "supported"


def _tuple(value: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else default


def _parameters(obj: Any) -> dict[str, ImageParameter]:
    if not isinstance(obj, Mapping):
        return {}
    return {str(k): ImageParameter.from_json(str(k), v) for k, v in obj.items()}


@dataclass(frozen=True)
class ImageModelInfo:
    """One model of ``GET /images/models``, with accessors for what a request may ask."""

    id: str
    name: str
    description: str = ""
    created: int | None = None
    input_modalities: tuple[str, ...] = ("text",)
    output_modalities: tuple[str, ...] = ("image",)
    supported_parameters: Mapping[str, ImageParameter] = field(default_factory=dict)
    supports_streaming: bool = False
    endpoints: str | tuple[Mapping[str, Any], ...] | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def parameter(self, name: str) -> ImageParameter | None:
        """The descriptor of ``name``, or ``None`` when the model does not support it."""
        return self.supported_parameters.get(name)

    def supports(self, name: str) -> bool:
        """Whether the request field ``name`` is supported (an absent key means no)."""
        return name in self.supported_parameters

    def _enum(self, name: str) -> tuple[str, ...]:
        param = self.supported_parameters.get(name)
        return param.values if param is not None and param.type == "enum" else ()

    def _range_max(self, name: str, absent: int) -> int:
        param = self.supported_parameters.get(name)
        return param.max if param is not None and param.max is not None else absent

    @property
    def aspect_ratios(self) -> tuple[str, ...]:
        """Accepted ``aspect_ratio`` values (empty: not selectable)."""
        return self._enum("aspect_ratio")

    @property
    def resolutions(self) -> tuple[str, ...]:
        """Accepted ``resolution`` tiers."""
        return self._enum("resolution")

    @property
    def output_formats(self) -> tuple[str, ...]:
        """Accepted ``output_format`` values."""
        return self._enum("output_format")

    @property
    def sizes(self) -> tuple[str, ...]:
        """Accepted ``size`` values when the model lists them."""
        return self._enum("size")

    @property
    def qualities(self) -> tuple[str, ...]:
        """Accepted ``quality`` values."""
        return self._enum("quality")

    @property
    def backgrounds(self) -> tuple[str, ...]:
        """Accepted ``background`` values."""
        return self._enum("background")

    @property
    def max_n(self) -> int:
        """The most images one request may ask for (1 when ``n`` is not listed)."""
        return self._range_max("n", 1)

    @property
    def max_input_references(self) -> int:
        """The most ``input_references`` accepted (0 when not listed)."""
        return self._range_max("input_references", 0)

    @property
    def supports_seed(self) -> bool:
        """Whether ``seed`` is honoured."""
        return "seed" in self.supported_parameters

    @property
    def accepts_images(self) -> bool:
        """Whether reference images can be sent."""
        return self.max_input_references > 0 or "image" in self.input_modalities

    def check(self, params: Mapping[str, Any]) -> list[str]:
        """Problems with request fields ``params`` (``None`` values skipped); empty when fine.

        ``quality`` is skipped when unsupported, since providers without the knob ignore it.
        """
        problems: list[str] = []
        for name, value in params.items():
            if value is None or name in ("model", "prompt", "provider", "stream"):
                continue
            if name == "input_references":
                count = len(value) if isinstance(value, (list, tuple)) else 1
                if count and count > self.max_input_references:
                    problems.append(f"{self.id} accepts at most {self.max_input_references} "
                                    f"input reference(s), got {count}")
                continue
            param = self.supported_parameters.get(name)
            if param is None:
                if name == "n" and value == 1:
                    continue
                if name not in ("quality", "output_compression"):
                    problems.append(f"{self.id} does not support {name!r}")
            elif not param.allows(value):
                problems.append(f"{self.id} does not accept {name}={value!r}; valid: "
                                f"{param.describe()}")
        if params.get("stream") and not self.supports_streaming:
            problems.append(f"{self.id} does not support streaming")
        return problems

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ImageModelInfo:
        """Read one listing entry (or an endpoints record) leniently."""
        arch = obj.get("architecture")
        arch = arch if isinstance(arch, Mapping) else {}
        raw_endpoints = obj.get("endpoints")
        endpoints: str | tuple[Mapping[str, Any], ...] | None = None
        params = _parameters(obj.get("supported_parameters"))
        streaming = obj.get("supports_streaming")
        if isinstance(raw_endpoints, str):
            endpoints = raw_endpoints
        elif isinstance(raw_endpoints, list):
            endpoints = tuple(e for e in raw_endpoints if isinstance(e, Mapping))
            for endpoint in endpoints if not params else ():  # union when the model omits it
                for name, param in _parameters(endpoint.get("supported_parameters")).items():
                    params.setdefault(name, param)
            if not isinstance(streaming, bool):
                streaming = any(e.get("supports_streaming") is True for e in endpoints)
        created = obj.get("created")
        return cls(
            id=str(obj.get("id", "")),
            name=str(obj.get("name") or obj.get("id", "")),
            description=str(obj.get("description") or ""),
            created=created if isinstance(created, int) and not isinstance(created, bool) else None,
            input_modalities=_tuple(arch.get("input_modalities"), ("text",)),
            output_modalities=_tuple(arch.get("output_modalities"), ("image",)),
            supported_parameters=params,
            supports_streaming=streaming is True,
            endpoints=endpoints,
            raw=dict(obj),
        )


def parse_image_models(obj: Any) -> list[ImageModelInfo]:
    """Parse ``GET /images/models`` (``{"data": [...]}``, or a bare list) into model records."""
    data = obj.get("data") if isinstance(obj, Mapping) else obj
    if not isinstance(data, list):
        raise ResponseError("the image model listing has no 'data' list")
    return [ImageModelInfo.from_json(m) for m in data if isinstance(m, Mapping) and m.get("id")]
