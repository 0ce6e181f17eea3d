"""What both image APIs answer with, once parsed: usage, image payloads, one completion shape.

The chat path and the Image API differ on the wire but carry the same things (images, text,
usage, ids), so both parsers produce a :class:`ChatCompletion` and everything above the protocol
layer handles one shape. The number readers here are the only place wire numbers become Python
numbers: a hostile ``1e400`` or a 400-digit integer must end as "unknown", never as an
``OverflowError`` deep inside a display hook. Pure, stdlib only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._exceptions import NoImageError, ResponseError

__all__ = [
    "DEFAULT_BASE_URL",
    "ChatCompletion",
    "ImagePayload",
    "Usage",
    "as_float",
    "as_int",
    "loads",
]

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
#: Integers beyond this are not counts anyone meant (tokens, timestamps): treat them as unknown.
_INT_LIMIT = 10**15

NO_IMAGE_CAUSES = (
    "Possible causes: (1) the model cannot output images (check that its output_modalities "
    "include 'image'); (2) the request did not ask for images (modalities must include "
    "'image'); (3) the prompt did not ask for a picture, or the model declined it."
)


def loads(text: str | bytes | bytearray, what: str = "the response") -> Any:
    """``json.loads`` whose every failure is a :class:`ResponseError` (deep nesting included).

    ``json`` recurses once per nesting level, so a body of 100,000 ``[`` raises ``RecursionError``;
    huge exponents give ``inf``, which :func:`as_float` then rejects.
    """
    try:
        return json.loads(text)
    except RecursionError:
        raise ResponseError(f"{what} is nested too deeply to be a real answer") from None
    except (ValueError, TypeError) as exc:
        raise ResponseError(f"{what} is not valid JSON ({type(exc).__name__})") from None


def as_float(value: Any) -> float | None:
    """A finite, non-negative number from the wire, else ``None`` (bools, strings, NaN, inf, huge)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int) and abs(value) > _INT_LIMIT:
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def as_int(value: Any, default: int = 0) -> int:
    """A sane non-negative integer from the wire, else ``default``."""
    number = as_float(value)
    if number is None or number > _INT_LIMIT:
        return default
    return int(number)


def as_str(value: Any) -> str | None:
    """A string from the wire, else ``None``."""
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts and cost (USD credits) of one generation.

    ``cost`` is what OpenRouter billed. With BYOK it is 0 and the provider's own charge is in
    ``usage.cost_details.upstream_inference_cost`` (docs ``usage-accounting.mdx``; the recorded
    gemini-2.5-flash-image answer in openrouter-protocol.md carries both), kept as ``upstream_cost``.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    image_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float | None = None
    is_byok: bool = False
    upstream_cost: float | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, obj: Any) -> Usage:
        """Read a ``usage`` object leniently: missing or odd fields become zero/None."""
        if not isinstance(obj, Mapping):
            return cls()
        details = obj.get("completion_tokens_details")
        details = details if isinstance(details, Mapping) else {}
        cost_details = obj.get("cost_details")
        cost_details = cost_details if isinstance(cost_details, Mapping) else {}
        return cls(
            prompt_tokens=as_int(obj.get("prompt_tokens")),
            completion_tokens=as_int(obj.get("completion_tokens")),
            total_tokens=as_int(obj.get("total_tokens")),
            image_tokens=as_int(details.get("image_tokens")),
            reasoning_tokens=as_int(details.get("reasoning_tokens")),
            cost=as_float(obj.get("cost")),
            is_byok=obj.get("is_byok") is True,
            upstream_cost=as_float(cost_details.get("upstream_inference_cost")),
            raw={k: v for k, v in obj.items() if isinstance(k, str)},
        )


@dataclass(frozen=True, slots=True)
class ImagePayload:
    """One image as the service sent it: a URL (normally a base64 data URL) and its index."""

    url: str
    index: int


@dataclass(frozen=True, slots=True)
class ChatCompletion:
    """The parts of an answer the kit uses, from either API, a JSON body or an assembled stream."""

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
    #: ``message.refusal`` (the spec's "Refusal message if content was refused"), when sent.
    refusal: str | None = None

    def require_images(self) -> ChatCompletion:
        """Return self, or raise :class:`NoImageError` explaining why there are no images.

        The error keeps the answer's ``usage``: a reply without an image is still billed (its
        tokens, docs ``usage-accounting.mdx``: usage comes "with every response"), and the spend
        guard counts what it cost.
        """
        if self.images:
            return self
        said = f" The model said: {self.text.strip()[:300]!r}." if self.text.strip() else ""
        if self.refusal:
            said += f" It refused: {self.refusal.strip()[:300]!r}."
        error = NoImageError(
            f"The response contains no image (finish_reason={self.finish_reason!r}, "
            f"native_finish_reason={self.native_finish_reason!r}).{said} {NO_IMAGE_CAUSES}",
            text=self.text or self.refusal or "",
            finish_reason=self.finish_reason,
            native_finish_reason=self.native_finish_reason,
            request_id=self.id,
        )
        error.usage = self.usage
        raise error


def created_of(value: Any) -> int | None:
    """A plausible unix timestamp (an int between 1970 and 2200), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value < 7_258_118_400 else None
