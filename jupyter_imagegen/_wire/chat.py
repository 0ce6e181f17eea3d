"""OpenRouter's chat-completions image protocol as pure functions (no I/O, stdlib only).

Request bodies, answers and streamed chunks of ``POST /chat/completions`` with ``modalities``.
The client does the I/O around it, and the local server uses the same shapes from the other side,
so a wire-format bug shows up in cheap unit tests. Errors are mapped in :mod:`.errors` (shared
with the Image API); sizes live in :mod:`.sizes`. Nothing is re-exported: each name is imported
from the module it lives in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._exceptions import ProviderError, ResponseError
from .common import (
    ChatCompletion,
    ImagePayload,
    Usage,
    as_str,
    created_of,
    loads,
)
from .errors import (
    error_from_envelope,
    with_usage,
)
from .sse import is_done

__all__ = [
    "StreamAccumulator", "StreamUpdate", "build_chat_body", "images_of", "modalities_for",
    "parse_chat_completion", "text_of",
]


# -- reading a streamed chat answer ----------------------------------------------------------------

# Streamed chat completions: one accumulator over ``chat.completion.chunk`` events.
#
# Images arrive whole in ``choices[].delta.images`` (docs 1c9b4627 streaming sample; the AI SDK
# provider reads the same field), text and reasoning as deltas, usage on the last chunk; an
# ``error`` on a chunk or a choice ends the stream with the mapped error. Pure, stdlib only.

def text_of(content: Any) -> str:
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


def images_of(items: Any, start: int = 0) -> list[ImagePayload]:
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


@dataclass(frozen=True, slots=True)
class StreamUpdate:
    """What one streamed chunk added: text, reasoning, whole images, or a keep-alive."""

    text: str = ""
    reasoning: str = ""
    images: tuple[ImagePayload, ...] = ()
    keepalive: bool = False
    finish_reason: str | None = None


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
        self._refusal: list[str] = []
        self._images: list[ImagePayload] = []
        self._usage: Any = None
        self._meta: dict[str, Any] = {}
        self._finish: str | None = None
        self._native: str | None = None
        self.done = False

    def add_data(self, data: str | bytes | bytearray) -> StreamUpdate | None:
        """Add one SSE ``data`` payload; ``[DONE]`` marks the end and returns ``None``."""
        if is_done(data):
            self.done = True
            return None
        return self.add_chunk(loads(data, "a streamed event"))

    def add_chunk(self, chunk: Any) -> StreamUpdate:
        """Add one decoded chunk and report what it contributed."""
        if not isinstance(chunk, Mapping):
            raise ResponseError("a streamed event is not a JSON object")
        for key in ("id", "model", "provider", "created"):
            if key in chunk and key not in self._meta:
                self._meta[key] = chunk[key]
        request_id = as_str(self._meta.get("id"))
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        if chunk.get("error"):
            raise with_usage(error_from_envelope(chunk, status=200, request_id=request_id),
                             self._usage)
        text: list[str] = []
        reasoning: list[str] = []
        new_images: list[ImagePayload] = []
        finish = None
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, Mapping):
                continue
            if choice.get("error"):
                raise with_usage(error_from_envelope(choice, status=200, request_id=request_id),
                                 self._usage)
            delta = choice.get("delta")
            delta = delta if isinstance(delta, Mapping) else {}
            text.append(text_of(delta.get("content")))
            if isinstance(delta.get("reasoning"), str):
                reasoning.append(delta["reasoning"])
            if isinstance(delta.get("refusal"), str):
                self._refusal.append(delta["refusal"])
            found = images_of(delta.get("images"), start=self._image_count + len(new_images))
            new_images.extend(found)
            finish = as_str(choice.get("finish_reason")) or finish
            native = as_str(choice.get("native_finish_reason"))
            self._native = native or self._native
        if finish == "error":
            raise with_usage(ProviderError(
                "the provider reported an error mid-stream (finish_reason='error')",
                status=200, request_id=request_id), self._usage)
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
            id=as_str(self._meta.get("id")),
            model=as_str(self._meta.get("model")),
            provider=as_str(self._meta.get("provider")),
            created=created_of(created),
            text="".join(self._text),
            reasoning="".join(self._reasoning) or None,
            images=tuple(self._images),
            finish_reason=self._finish,
            native_finish_reason=self._native,
            usage=Usage.from_json(self._usage),
            refusal="".join(self._refusal) or None,
        )


# -- request bodies and whole answers --------------------------------------------------------------

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
    refusals: list[str] = []
    images: list[ImagePayload] = []
    finish = native = None
    for choice in choices:
        if not isinstance(choice, Mapping):
            continue
        if choice.get("error"):
            raise with_usage(error_from_envelope(choice, status=status, request_id=request_id),
                             obj.get("usage"))
        message = choice.get("message")
        message = message if isinstance(message, Mapping) else {}
        texts.append(text_of(message.get("content")))
        for name, kept in (("reasoning", reasoning), ("refusal", refusals)):
            if isinstance(message.get(name), str):
                kept.append(message[name])
        images.extend(images_of(message.get("images"), start=len(images)))
        finish = finish or as_str(choice.get("finish_reason"))
        native = native or as_str(choice.get("native_finish_reason"))
    if finish == "error":
        raise with_usage(ProviderError("the provider reported an error (finish_reason='error')",
                                       status=status, request_id=request_id), obj.get("usage"))
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
        refusal="".join(refusals) or None,
    )
