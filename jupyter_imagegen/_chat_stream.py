"""Streamed chat completions: one accumulator over ``chat.completion.chunk`` events.

Images arrive whole in ``choices[].delta.images`` (docs 1c9b4627 streaming sample; the AI SDK
provider reads the same field), text and reasoning as deltas, usage on the last chunk; an
``error`` on a chunk or a choice ends the stream with the mapped error. Pure, stdlib only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._exceptions import ProviderError, ResponseError
from ._sse import is_done
from ._wire_common import ChatCompletion, ImagePayload, Usage, as_str, created_of, loads
from ._wire_errors import error_from_envelope

__all__ = ["StreamAccumulator", "StreamUpdate", "images_of", "text_of"]


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
            text.append(text_of(delta.get("content")))
            if isinstance(delta.get("reasoning"), str):
                reasoning.append(delta["reasoning"])
            found = images_of(delta.get("images"), start=self._image_count + len(new_images))
            new_images.extend(found)
            finish = as_str(choice.get("finish_reason")) or finish
            native = as_str(choice.get("native_finish_reason"))
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
        )
