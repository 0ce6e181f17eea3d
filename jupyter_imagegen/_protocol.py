"""OpenRouter's chat-completions image protocol as pure functions (no I/O, stdlib only).

Request bodies, answers and streamed chunks of ``POST /chat/completions`` with ``modalities``.
The client does the I/O around it, and the local server uses the same shapes from the other side,
so a wire-format bug shows up in cheap unit tests. Errors are mapped in :mod:`._wire_errors`
(shared with the Image API); sizes live in :mod:`._sizes`. The names re-exported below keep older
imports (the server, tests) working.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._chat_stream import StreamAccumulator, StreamUpdate, images_of, text_of
from ._exceptions import ProviderError, ResponseError
from ._sizes import ASPECT_RATIOS, IMAGE_SIZES, pixel_size
from ._sse import is_done
from ._wire_common import (
    DEFAULT_BASE_URL,
    ChatCompletion,
    ImagePayload,
    Usage,
    as_str,
    created_of,
)
from ._wire_errors import (
    RETRYABLE_STATUSES,
    error_body,
    error_from_envelope,
    error_from_response,
    parse_retry_after,
    retry_delay,
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


def parse_chat_completion(obj: Any, *, status: int = 200) -> ChatCompletion:
    """Parse a non-streaming response body; raise the mapped error for any error envelope.

    Errors count wherever they appear: a top-level ``error`` (even with HTTP 200) and an ``error``
    on a choice with ``finish_reason: "error"``.
    """
    if not isinstance(obj, Mapping):
        raise ResponseError(f"expected a JSON object, got {type(obj).__name__}")
    request_id = as_str(obj.get("id"))
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
        texts.append(text_of(message.get("content")))
        if isinstance(message.get("reasoning"), str):
            reasoning.append(message["reasoning"])
        images.extend(images_of(message.get("images"), start=len(images)))
        finish = finish or as_str(choice.get("finish_reason"))
        native = native or as_str(choice.get("native_finish_reason"))
    if finish == "error":
        raise ProviderError("the provider reported an error (finish_reason='error')",
                            status=status, request_id=request_id)
    created = obj.get("created")
    return ChatCompletion(
        id=request_id,
        model=as_str(obj.get("model")),
        provider=as_str(obj.get("provider")),
        created=created_of(created),
        text="".join(texts),
        reasoning="".join(reasoning) or None,
        images=tuple(images),
        finish_reason=finish,
        native_finish_reason=native,
        usage=Usage.from_json(obj.get("usage")),
    )
