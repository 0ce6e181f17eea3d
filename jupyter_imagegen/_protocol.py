"""OpenRouter's chat-completions image protocol as pure functions (no I/O, stdlib only).

Everything here maps between Python values and the JSON OpenRouter speaks: request bodies,
responses, streamed chunks and error envelopes. The client does the I/O around it, and the local
server uses the same shapes from the other side, so a wire-format bug shows up in cheap unit tests.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ImageGenError,
    InsufficientCreditsError,
    ModerationError,
    NoImageError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
    ResponseError,
)

__all__ = [
    "ASPECT_RATIOS",
    "DEFAULT_BASE_URL",
    "IMAGE_SIZES",
    "RETRYABLE_STATUSES",
    "ChatCompletion",
    "ImagePayload",
    "StreamAccumulator",
    "StreamUpdate",
    "Usage",
    "build_chat_body",
    "error_body",
    "error_from_envelope",
    "error_from_response",
    "is_done",
    "modalities_for",
    "parse_chat_completion",
    "parse_retry_after",
    "pixel_size",
    "retry_delay",
]

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"

#: ``image_config.aspect_ratio`` values and their pixel sizes at ``image_size="1K"`` (Gemini's table).
ASPECT_RATIOS: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}

#: ``image_config.image_size`` values and their scale relative to 1K.
IMAGE_SIZES: dict[str, float] = {"0.5K": 0.5, "1K": 1.0, "2K": 2.0, "4K": 4.0}

#: Statuses worth retrying: timeouts, rate limits and provider trouble. Never 400/401/402/403.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 524, 529})

_NO_IMAGE_CAUSES = (
    "Possible causes: (1) the model cannot output images (check that its output_modalities "
    "include 'image'); (2) the request did not ask for images (modalities must include "
    "'image'); (3) the prompt did not ask for a picture, or the model declined it."
)


def pixel_size(aspect_ratio: str | None = None, image_size: str | None = None) -> tuple[int, int]:
    """Pixel size for an aspect ratio and size label, as documented (1:1 at 1K is 1024x1024)."""
    width, height = ASPECT_RATIOS[aspect_ratio or "1:1"]
    scale = IMAGE_SIZES[image_size or "1K"]
    return round(width * scale), round(height * scale)


# ---------------------------------------------------------------------------------------------
# Requests


def modalities_for(output_modalities: Iterable[str]) -> list[str]:
    """``["image", "text"]`` for text+image models, ``["image"]`` for image-only models."""
    outputs = set(output_modalities)
    return ["image", "text"] if "text" in outputs else ["image"]


def build_chat_body(
    prompt: str,
    model: str,
    *,
    images: Sequence[str] = (),
    modalities: Sequence[str] = ("image", "text"),
    aspect_ratio: str | None = None,
    image_size: str | None = None,
    image_config: Mapping[str, Any] | None = None,
    seed: int | None = None,
    stream: bool = False,
    provider: Mapping[str, Any] | None = None,
    messages: Sequence[Mapping[str, Any]] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a ``POST /chat/completions`` body asking ``model`` for images.

    ``images`` are URLs (``data:`` or ``https:``) sent after the text, as the docs ask; ``messages``
    are earlier turns placed before the new user message; ``extra`` fields are merged last, so a
    caller can send anything the service accepts without waiting for a new release.
    """
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, not {type(prompt).__name__}")
    content: str | list[dict[str, Any]]
    if images:
        content = [{"type": "text", "text": prompt}]
        content += [{"type": "image_url", "image_url": {"url": url}} for url in images]
    else:
        content = prompt
    body: dict[str, Any] = {
        "model": model,
        "messages": [*(dict(m) for m in messages), {"role": "user", "content": content}],
        "modalities": list(modalities),
    }
    config = dict(image_config or {})
    if aspect_ratio is not None:
        config["aspect_ratio"] = aspect_ratio
    if image_size is not None:
        config["image_size"] = image_size
    if config:
        body["image_config"] = config
    if seed is not None:
        body["seed"] = int(seed)
    if stream:
        body["stream"] = True
    if provider:
        body["provider"] = dict(provider)
    if extra:
        body.update(extra)
    return body


# ---------------------------------------------------------------------------------------------
# Responses


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts and cost (USD credits) of one generation."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    image_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, obj: Any) -> Usage:
        """Read a ``usage`` object leniently: missing or odd fields become zero/None."""
        if not isinstance(obj, Mapping):
            return cls()
        details = obj.get("completion_tokens_details")
        details = details if isinstance(details, Mapping) else {}
        cost = obj.get("cost")
        return cls(
            prompt_tokens=_int(obj.get("prompt_tokens")),
            completion_tokens=_int(obj.get("completion_tokens")),
            total_tokens=_int(obj.get("total_tokens")),
            image_tokens=_int(details.get("image_tokens")),
            reasoning_tokens=_int(details.get("reasoning_tokens")),
            cost=_cost(cost),
            raw=dict(obj),
        )


@dataclass(frozen=True, slots=True)
class ImagePayload:
    """One image as the service sent it: a URL (normally a base64 data URL) and its index."""

    url: str
    index: int


@dataclass(frozen=True, slots=True)
class ChatCompletion:
    """The parts of a chat completion the kit uses, from a JSON body or an assembled stream."""

    id: str | None
    model: str | None
    provider: str | None
    created: int | None
    text: str
    reasoning: str | None
    images: tuple[ImagePayload, ...]
    finish_reason: str | None
    native_finish_reason: str | None
    usage: Usage

    def require_images(self) -> ChatCompletion:
        """Return self, or raise :class:`NoImageError` explaining why there are no images."""
        if self.images:
            return self
        said = f" The model said: {self.text.strip()[:300]!r}." if self.text.strip() else ""
        raise NoImageError(
            f"The response contains no image (finish_reason={self.finish_reason!r}, "
            f"native_finish_reason={self.native_finish_reason!r}).{said} {_NO_IMAGE_CAUSES}",
            text=self.text,
            finish_reason=self.finish_reason,
            native_finish_reason=self.native_finish_reason,
            request_id=self.id,
        )


def _cost(value: Any) -> float | None:
    """A reported cost, when it is a finite, non-negative number (NaN would disable spend limits)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _text_of(content: Any) -> str:
    """Message content may be a string, ``null`` or a list of parts; return its text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "".join(parts)
    return str(content)


def _images_of(items: Any, start: int = 0) -> list[ImagePayload]:
    """Images from a ``message.images`` / ``delta.images`` list; ``type``/``index`` are optional."""
    found: list[ImagePayload] = []
    if not isinstance(items, list):
        return found
    for item in items:
        url: Any = None
        if isinstance(item, Mapping):
            image_url = item.get("image_url")
            url = image_url.get("url") if isinstance(image_url, Mapping) else image_url
        elif isinstance(item, str):
            url = item
        if isinstance(url, str) and url:
            found.append(ImagePayload(url=url, index=start + len(found)))
    return found


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse_chat_completion(obj: Any, *, status: int = 200) -> ChatCompletion:
    """Parse a non-streaming response body; raise the mapped error for any error envelope.

    Errors count wherever they appear: a top-level ``error`` (even with HTTP 200) and an ``error``
    on a choice with ``finish_reason: "error"``.
    """
    if not isinstance(obj, Mapping):
        raise ResponseError(f"expected a JSON object, got {type(obj).__name__}")
    request_id = _str_or_none(obj.get("id"))
    if obj.get("error"):
        raise error_from_envelope(obj, status=status, request_id=request_id)
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices:
        raise ResponseError("the response has no choices", request_id=request_id)
    texts: list[str] = []
    reasoning: list[str] = []
    images: list[ImagePayload] = []
    finish = native = None
    for choice in choices:
        if not isinstance(choice, Mapping):
            continue
        if choice.get("error"):
            raise error_from_envelope(choice, status=status, request_id=request_id)
        message = choice.get("message")
        message = message if isinstance(message, Mapping) else {}
        texts.append(_text_of(message.get("content")))
        if isinstance(message.get("reasoning"), str):
            reasoning.append(message["reasoning"])
        images.extend(_images_of(message.get("images"), start=len(images)))
        finish = finish or _str_or_none(choice.get("finish_reason"))
        native = native or _str_or_none(choice.get("native_finish_reason"))
    if finish == "error":
        raise ProviderError("the provider reported an error (finish_reason='error')",
                            status=status, request_id=request_id)
    created = obj.get("created")
    return ChatCompletion(
        id=request_id,
        model=_str_or_none(obj.get("model")),
        provider=_str_or_none(obj.get("provider")),
        created=created if isinstance(created, int) else None,
        text="".join(texts),
        reasoning="".join(reasoning) or None,
        images=tuple(images),
        finish_reason=finish,
        native_finish_reason=native,
        usage=Usage.from_json(obj.get("usage")),
    )


@dataclass(frozen=True, slots=True)
class StreamUpdate:
    """What one streamed chunk added: text, reasoning, whole images, or a keep-alive."""

    text: str = ""
    reasoning: str = ""
    images: tuple[ImagePayload, ...] = ()
    keepalive: bool = False
    finish_reason: str | None = None


def is_done(data: str | bytes) -> bool:
    """True for the stream's end sentinel, ``data: [DONE]`` (text or bytes)."""
    return len(data) < 16 and data.strip() in ("[DONE]", b"[DONE]")


class StreamAccumulator:
    """Assemble streamed ``chat.completion.chunk`` objects into one :class:`ChatCompletion`.

    Each image arrives whole in one ``delta.images`` event; usage arrives on a late chunk (the last
    one seen wins). A chunk carrying ``error`` raises the mapped error at once.
    """

    def __init__(self, *, keep_images: bool = True) -> None:
        # A caller that decodes each image as it arrives passes keep_images=False, so megabytes
        # of base64 are not held twice until the end of the stream.
        self._keep_images = keep_images
        self._image_count = 0
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._images: list[ImagePayload] = []
        self._usage: Any = None
        self._meta: dict[str, Any] = {}
        self._finish: str | None = None
        self._native: str | None = None
        self.done = False

    def add_data(self, data: str | bytes) -> StreamUpdate | None:
        """Add one SSE ``data`` payload; ``[DONE]`` marks the end and returns ``None``."""
        if is_done(data):
            self.done = True
            return None
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise ResponseError(f"a streamed event is not valid JSON: {exc}",
                                request_id=self._meta.get("id")) from None
        return self.add_chunk(chunk)

    def add_chunk(self, chunk: Any) -> StreamUpdate:
        """Add one decoded chunk and report what it contributed."""
        if not isinstance(chunk, Mapping):
            raise ResponseError("a streamed event is not a JSON object")
        for key in ("id", "model", "provider", "created"):
            if key in chunk and key not in self._meta:
                self._meta[key] = chunk[key]
        request_id = _str_or_none(self._meta.get("id"))
        if chunk.get("error"):
            raise error_from_envelope(chunk, status=200, request_id=request_id)
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        text: list[str] = []
        reasoning: list[str] = []
        new_images: list[ImagePayload] = []
        finish = None
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, Mapping):
                continue
            if choice.get("error"):
                raise error_from_envelope(choice, status=200, request_id=request_id)
            delta = choice.get("delta")
            delta = delta if isinstance(delta, Mapping) else {}
            text.append(_text_of(delta.get("content")))
            if isinstance(delta.get("reasoning"), str):
                reasoning.append(delta["reasoning"])
            found = _images_of(delta.get("images"), start=self._image_count + len(new_images))
            new_images.extend(found)
            finish = _str_or_none(choice.get("finish_reason")) or finish
            native = _str_or_none(choice.get("native_finish_reason"))
            self._native = native or self._native
        if finish == "error":
            raise ProviderError("the provider reported an error mid-stream (finish_reason='error')",
                                status=200, request_id=request_id)
        self._finish = finish or self._finish
        update = StreamUpdate(text="".join(text), reasoning="".join(reasoning),
                              images=tuple(new_images), finish_reason=finish)
        self._text.append(update.text)
        self._reasoning.append(update.reasoning)
        self._image_count += len(new_images)
        if self._keep_images:
            self._images.extend(new_images)
        return update

    def result(self) -> ChatCompletion:
        """The assembled completion (call after ``[DONE]``)."""
        created = self._meta.get("created")
        return ChatCompletion(
            id=_str_or_none(self._meta.get("id")),
            model=_str_or_none(self._meta.get("model")),
            provider=_str_or_none(self._meta.get("provider")),
            created=created if isinstance(created, int) else None,
            text="".join(self._text),
            reasoning="".join(self._reasoning) or None,
            images=tuple(self._images),
            finish_reason=self._finish,
            native_finish_reason=self._native,
            usage=Usage.from_json(self._usage),
        )


# ---------------------------------------------------------------------------------------------
# Errors

_HINTS = {
    401: "Check OPENROUTER_API_KEY (or pass api_key=...); keys start with 'sk-or-'.",
    402: "Add credits at openrouter.ai/settings/credits or raise this key's limit.",
    429: "Wait and retry, lower the concurrency, or add credits to raise the rate limit.",
}


def parse_retry_after(value: Any) -> float | None:
    """Seconds from a ``Retry-After`` header value or ``retry_after_seconds``; ``None`` if unusable."""
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None  # HTTP-date form: not used by OpenRouter; fall back to backoff
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def error_from_envelope(
    obj: Mapping[str, Any],
    *,
    status: int | None = None,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> ImageGenError:
    """Map ``{"error": {code, message, metadata}}`` (at any status) to the exception tree."""
    err = obj.get("error")
    if not isinstance(err, Mapping):
        err = {"message": str(err)} if err else {}
    metadata = err.get("metadata")
    metadata = dict(metadata) if isinstance(metadata, Mapping) else {}
    raw_code = err.get("code")
    code: int | str | None = raw_code if isinstance(raw_code, (int, str)) else None
    numeric = _status_of(code, err, status)
    message = err.get("message")
    message = message if isinstance(message, str) and message else "the service returned an error"
    error_type = str(metadata.get("error_type") or err.get("error_type") or err.get("type") or "")
    if retry_after is None:
        retry_after = parse_retry_after(metadata.get("retry_after_seconds"))
    if retry_after is None and isinstance(metadata.get("headers"), Mapping):
        retry_after = parse_retry_after(metadata["headers"].get("Retry-After"))
    kwargs: dict[str, Any] = {"status": status, "code": code, "metadata": metadata,
                              "request_id": request_id}
    if "raw" in metadata and metadata["raw"] not in (None, ""):
        message = f"{message}: {str(metadata['raw'])[:500]}"
    if metadata.get("provider_name"):
        message = f"{message} [provider: {metadata['provider_name']}]"
    cls = _class_for(numeric, code, error_type, metadata)
    if cls is ModerationError:
        reasons = metadata.get("reasons")
        if isinstance(reasons, list) and reasons:
            message = f"{message} (reasons: {', '.join(map(str, reasons))})"
    error = cls(message, hint=_HINTS.get(numeric or 0), **kwargs)
    error.retry_after = retry_after
    return error


def _status_of(code: int | str | None, err: Mapping[str, Any], status: int | None) -> int | None:
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.isdigit():
        return int(code)
    http_status = err.get("http_status")
    if isinstance(http_status, int):
        return http_status
    return status if status and status >= 400 else None


def _class_for(
    status: int | None, code: Any, error_type: str, metadata: Mapping[str, Any]
) -> type[APIError]:
    if code == "model_not_found" or error_type == "model_not_found":
        return NotFoundError
    if status in (400, 413, 422):
        return BadRequestError
    if status == 401:
        return AuthenticationError
    if status == 402 or error_type == "payment_required":
        return InsufficientCreditsError
    if status == 403:
        return ModerationError if "reasons" in metadata or "flagged_input" in metadata \
            else PermissionDeniedError
    if status == 404:
        return NotFoundError
    if status == 408 or error_type == "timeout":
        return RequestTimeoutError
    if status == 429 or error_type == "rate_limit_exceeded":
        return RateLimitError
    if status is not None and status >= 500:
        return ProviderError
    if error_type in ("provider_overloaded", "provider_unavailable", "server"):
        return ProviderError
    return APIError


def error_from_response(
    status: int,
    body: bytes | str,
    *,
    retry_after: str | None = None,
    request_id: str | None = None,
) -> ImageGenError:
    """Map a non-2xx HTTP response (status, body, ``Retry-After``) to the exception tree."""
    seconds = parse_retry_after(retry_after)
    try:
        obj = json.loads(body) if body else None
    except ValueError:
        obj = None
    if isinstance(obj, Mapping) and "error" in obj:
        return error_from_envelope(obj, status=status, request_id=request_id, retry_after=seconds)
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    envelope = {"error": {"code": status, "message": text.strip()[:300] or f"HTTP {status}"}}
    return error_from_envelope(envelope, status=status, request_id=request_id, retry_after=seconds)


def error_body(code: int, message: str, metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The error envelope the service sends: ``{"error": {"code", "message", "metadata"?}}``."""
    err: dict[str, Any] = {"code": code, "message": message}
    if metadata:
        err["metadata"] = dict(metadata)
    return {"error": err}


# ---------------------------------------------------------------------------------------------
# Retries


def retry_delay(
    attempt: int,
    *,
    retry_after: float | None = None,
    initial: float = 0.5,
    maximum: float = 8.0,
    cap: float = 60.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based).

    The service's own delay (``Retry-After`` / ``retry_after_seconds``) wins, capped at ``cap``;
    otherwise exponential backoff from ``initial`` up to ``maximum`` with up to 25% jitter down.
    """
    if retry_after is not None:
        return min(max(retry_after, 0.0), cap)
    base = min(initial * 2.0**attempt, maximum)
    return base * (1 - 0.25 * rand())
