"""The one exception tree of jupyter_imagegen.

Every error the kit raises on purpose derives from :class:`ImageGenError`, so
``except ImageGenError`` is always enough. The tree::

    ImageGenError
     ├── APIError                      the service answered with an error envelope
     │    ├── BadRequestError          400 / 413 / 422: fix the request
     │    ├── AuthenticationError      401: key missing, wrong or expired
     │    ├── InsufficientCreditsError 402: add credits or raise the key's limit
     │    ├── PermissionDeniedError    403: guardrail or permission
     │    │    └── ModerationError     403 with moderation metadata (reasons, flagged_input)
     │    ├── NotFoundError            404 / model_not_found
     │    ├── RequestTimeoutError      408, and client-side timeouts (also a builtin TimeoutError)
     │    ├── RateLimitError           429, carries ``retry_after``
     │    └── ProviderError            500 / 502 / 503 / 524 / 529, carries ``raw`` and ``provider_name``
     ├── APIConnectionError            no usable HTTP response (refused, reset, DNS)
     ├── ResponseError                 a response arrived but cannot be used
     │    ├── NoImageError             a valid response without images
     │    ├── ImageDecodeError         an image payload that does not decode
     │    └── IncompleteStreamError    the stream ended before ``[DONE]`` / mid-event
     ├── InvalidInputError             an argument the kit cannot use (also a ValueError); nothing was sent
 │    └── ModelCapabilityError     the model cannot do what was asked (caught before any request)
     ├── SpendLimitError               the request would exceed the configured spend limit
     └── CancelledError                the caller cancelled a running generation

Errors carry ``status``, ``code``, ``message``, ``metadata`` and ``request_id``; an error that came
with a billed answer (a reply without an image, an error envelope beside ``usage``) also carries
that ``usage`` and its ``cost``, and ``unfinished`` says the service may still bill a call that ended
before its answer was read (the spend guard counts both). Messages are built
from the service's text and our own hints only; the API key is never part of any of them, and
:func:`redact` scrubs anything that looks like one before it reaches an exception.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping
from typing import Any, Protocol

__all__ = [
    "APIConnectionError",
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "CancelledError",
    "ImageDecodeError",
    "ImageGenError",
    "IncompleteStreamError",
    "InsufficientCreditsError",
    "InvalidInputError",
    "ModelCapabilityError",
    "ModerationError",
    "NoImageError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProviderError",
    "RateLimitError",
    "RequestTimeoutError",
    "ResponseError",
    "SpendLimitError",
]

# OpenRouter keys look like sk-or-v1-<64 hex>; scrub those and any bearer token that leaks into text.
_KEY_PATTERN = re.compile(r"(sk-or-[A-Za-z0-9_-]{6,}|sk-[A-Za-z0-9_-]{16,}|Bearer\s+[^\s\"',]+)")


def redact(text: str) -> str:
    """Replace anything shaped like an API key or bearer token with ``[redacted]``."""
    return _KEY_PATTERN.sub("[redacted]", text)


def _redacted(value: Any, depth: int = 0) -> Any:
    """``value`` with every string redacted (a proxy may echo the key into error metadata)."""
    if depth > 20:
        return "[too deep]"
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact(str(k)): _redacted(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(v, depth + 1) for v in value]
    return value


class BilledUsage(Protocol):
    """What an error keeps of a billed answer's ``usage`` (``_wire.common.Usage`` is one).

    A protocol, not the class: the exception tree sits below the wire layer that parses usage.
    """

    @property
    def cost(self) -> float | None: ...
    @property
    def prompt_tokens(self) -> int: ...
    @property
    def completion_tokens(self) -> int: ...
    @property
    def image_tokens(self) -> int: ...


class ImageGenError(Exception):
    """Base class of every error jupyter_imagegen raises on purpose."""

    #: HTTP status of the response that carried the error, if any.
    status: int | None
    #: ``error.code`` from the envelope (an int on OpenRouter, sometimes a string elsewhere).
    code: int | str | None
    #: ``error.metadata`` from the envelope (``raw``, ``provider_name``, ``reasons`` ...).
    metadata: dict[str, Any]
    #: Generation id (``gen-...``) or request id the error belongs to, when known.
    request_id: str | None
    #: Seconds the service asked us to wait (``Retry-After`` / ``retry_after_seconds``), if any.
    retry_after: float | None = None
    #: The "this model is served elsewhere" family the answer belongs to (the names are
    #: ``_wire.errors.WRONG_ENDPOINT`` and ``WRONG_MODALITIES``), or ``None``: the router reads it.
    refusal: str | None = None
    #: The API the service named as the right one (``"chat"``, ``"images"``, or the path of an
    #: endpoint the kit has no adapter for), or ``None`` when it named none.
    endpoint_hint: str | None = None
    #: The ``usage`` of the answer this error came with (a reply without an image, an error
    #: envelope beside ``usage``): what the service billed for it, counted by the spend guard.
    #: ``None`` when no answer with usage arrived.
    usage: BilledUsage | None = None
    #: True when the request reached the service and ended before its answer was read (a read
    #: timeout, the deadline, a cancel, a cut stream): the service may finish and bill it, so the
    #: spend guard keeps its reservation as pending until the generation record says what it cost.
    unfinished: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | str | None = None,
        metadata: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = redact(message)
        self.status = status
        self.code = code
        self.metadata = _redacted(dict(metadata or {}))
        self.request_id = request_id
        self.hint = redact(hint) if hint else None
        super().__init__(self.message)

    def __str__(self) -> str:
        text = self.message
        if self.status is not None and f"{self.status}" not in text[:12]:
            text = f"{text} (HTTP {self.status})"
        if self.hint:
            text = f"{text}\n{self.hint}"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"

    @property
    def cost(self) -> float | None:
        """USD billed for the answer this error came with (``usage.cost``), when it said."""
        return self.usage.cost if self.usage is not None else None


class APIError(ImageGenError):
    """The service answered with an error envelope ``{"error": {code, message, metadata}}``."""


class BadRequestError(APIError):
    """The request was rejected as invalid (400, 413, 422): change the request, do not retry."""


class AuthenticationError(APIError):
    """The API key is missing, wrong or expired (401)."""


class InsufficientCreditsError(APIError):
    """The account or the key has run out of credits (402)."""


class PermissionDeniedError(APIError):
    """The request is not allowed (403): a guardrail, a permission or moderation."""


class ModerationError(PermissionDeniedError):
    """The input was flagged by moderation (403); ``reasons`` and ``flagged_input`` say why."""

    @property
    def reasons(self) -> list[str]:
        """Moderation categories the input was flagged for."""
        value = self.metadata.get("reasons")
        return [str(v) for v in value] if isinstance(value, list) else []

    @property
    def flagged_input(self) -> str | None:
        """The flagged part of the input (the service truncates it to ~100 characters)."""
        value = self.metadata.get("flagged_input")
        return str(value) if value is not None else None


class NotFoundError(APIError):
    """The model (or another resource) does not exist (404 or ``model_not_found``)."""

    #: Close matches for an unknown model id, best first.
    suggestions: list[str]

    def __init__(self, message: str, *, suggestions: list[str] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.suggestions = list(suggestions or [])


class RequestTimeoutError(APIError, builtins.TimeoutError):
    """The request timed out: a 408 from the service or a client-side timeout."""


class RateLimitError(APIError):
    """Too many requests (429); ``retry_after`` is the delay the service asked for, in seconds."""


class ProviderError(APIError):
    """The upstream provider failed or no provider was available (5xx)."""

    @property
    def raw(self) -> str | None:
        """The provider's own error text from ``metadata.raw``, when present."""
        value = self.metadata.get("raw")
        return None if value is None else redact(str(value))

    @property
    def provider_name(self) -> str | None:
        """The provider that failed, from ``metadata.provider_name``."""
        value = self.metadata.get("provider_name")
        return None if value is None else str(value)


class APIConnectionError(ImageGenError):
    """No usable HTTP response: the connection was refused, reset or could not be made."""


class ResponseError(ImageGenError):
    """A response arrived but cannot be turned into a result."""


class NoImageError(ResponseError):
    """A valid response that contains no image; ``text`` and ``finish_reason`` say what came back."""

    text: str
    finish_reason: str | None
    native_finish_reason: str | None

    def __init__(
        self,
        message: str,
        *,
        text: str = "",
        finish_reason: str | None = None,
        native_finish_reason: str | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(message, **kw)
        self.text = text
        self.finish_reason = finish_reason
        self.native_finish_reason = native_finish_reason


class ImageDecodeError(ResponseError):
    """An image payload (data URL, base64 or image bytes) that cannot be decoded."""

    #: Position of the bad image in the response, when known.
    index: int | None

    def __init__(self, message: str, *, index: int | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.index = index


class IncompleteStreamError(ResponseError):
    """The stream ended before ``data: [DONE]`` or in the middle of an event; nothing partial is kept."""


class InvalidInputError(ImageGenError, ValueError):
    """An argument the kit cannot use (an unreadable input image, a bad option); nothing was sent."""


class ModelCapabilityError(InvalidInputError):
    """The model cannot do what was asked (for example it cannot output images)."""

    #: Models that can do it, best first.
    alternatives: list[str]

    def __init__(self, message: str, *, alternatives: list[str] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.alternatives = list(alternatives or [])


class SpendLimitError(ImageGenError):
    """Starting the request would exceed the configured spend limit; nothing was sent."""


class CancelledError(ImageGenError):
    """The caller cancelled a running generation."""
