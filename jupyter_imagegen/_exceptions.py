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
     │    ├── ModelCapabilityError     the model cannot do what was asked (caught before any request)
     │    └── PathError                a path the kit cannot write (also an OSError): which, and why
     ├── MemoryLimitError              an answer or a display over a memory cap: which cap, how to raise it
     ├── SpendLimitError               the request would exceed the configured spend limit
     └── CancelledError                the caller cancelled a running generation

Errors carry ``status``, ``code``, ``message``, ``metadata`` and ``request_id``; an error that came
with a billed answer (a reply without an image, an error envelope beside ``usage``) also carries
that ``usage`` and its ``cost``, and ``unfinished`` says the service may still bill a call that ended
before its answer was read (the spend guard counts both). Messages are built
from the service's text and our own hints only; the API key is never part of any of them.

Two scrubs live here, below everything else, because every message passes them:

- :func:`redact` removes every secret the kit holds *by value* (the key, a gateway token,
  whatever an ``Authorization`` header carried: :func:`remember_secret` adds one, and the
  client's key wrapper adds itself), then anything *shaped* like a key. Matching by shape alone
  let a proxy's "Invalid proxy token: <token>" through verbatim, into messages, HTML, widget
  state and the command line.
- :func:`inert` makes text from strangers harmless on a terminal: control characters and escape
  sequences (an OSC 52 clipboard write, cursor moves, a bidi override) are shown as visible
  ``\\x1b``-style escapes instead of being obeyed. Exception messages are made inert when built,
  the kit's log records by :data:`log`'s filter, and every text/plain output where it is made.
"""

from __future__ import annotations

import builtins
import logging
import re
import threading
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
    "MemoryLimitError",
    "ModelCapabilityError",
    "ModerationError",
    "NoImageError",
    "NotFoundError",
    "PathError",
    "PermissionDeniedError",
    "ProviderError",
    "RateLimitError",
    "RequestTimeoutError",
    "ResponseError",
    "SpendLimitError",
    "inert",
    "redact",
    "redact_data",
    "remember_secret",
    "scrub",
]

# OpenRouter keys look like sk-or-v1-<64 hex>; scrub those and any bearer token that leaks into text.
_KEY_PATTERN = re.compile(r"(sk-or-[A-Za-z0-9_-]{6,}|sk-[A-Za-z0-9_-]{16,}|Bearer\s+[^\s\"',]+)")
#: Secrets shorter than this are not matched by value: a placeholder key such as ``offline`` would
#: otherwise blank out an ordinary word (and a model id) everywhere. Real keys and tokens are long.
MIN_SECRET = 8
_secrets: set[str] = set()
_secret_pattern: re.Pattern[str] | None = None
_secret_lock = threading.Lock()


def remember_secret(value: str | None) -> None:
    """Redact ``value`` from every text the kit shows, stores or syncs from now on, whatever its shape.

    An ``Authorization`` value counts twice: whole, and its credentials after the scheme. The
    client registers its key (and any ``Authorization`` header it sends); a front end that holds
    another credential (a gateway's token) registers it here.
    """
    global _secret_pattern
    if not value:
        return
    plain = str.__str__(value)  # a wrapped key's own str() is already redacted
    found = {part for part in (plain.strip(), plain.partition(" ")[2].strip())
             if len(part) >= MIN_SECRET}
    with _secret_lock:
        if found <= _secrets:
            return
        _secrets.update(found)
        ordered = sorted(_secrets, key=len, reverse=True)  # the longest match first
        _secret_pattern = re.compile("|".join(map(re.escape, ordered)))


def redact(text: str) -> str:
    """``text`` with every remembered secret, and anything shaped like a key, as ``[redacted]``."""
    pattern = _secret_pattern
    if pattern is not None:
        text = pattern.sub("[redacted]", text)
    return _KEY_PATTERN.sub("[redacted]", text)


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


#: C0 controls but tab and newline, DEL, C1 controls (0x9b is a one-byte CSI, 0x9d an OSC), the
#: line and paragraph separators and the bidi controls (text that reads other than it runs).
_UNSAFE_CODES = [*(c for c in range(0x20) if c not in (0x09, 0x0A)), *range(0x7F, 0xA0),
                 0x061C, 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F),
                 *range(0x2066, 0x206A)]
_INERT = {code: _escape(code) for code in _UNSAFE_CODES}


def inert(text: str) -> str:
    """``text`` safe to print on a terminal: every control character shown as a visible escape.

    ``ESC ] 52 ; c ; ... BEL`` (a clipboard write) becomes the harmless ``\\x1b]52;c;...\\x07``;
    tabs and line breaks stay (a Windows line break becomes a plain one). Linear in ``len(text)``.
    """
    return text.replace("\r\n", "\n").translate(_INERT)


def scrub(text: str) -> str:
    """Both scrubs: no secret (:func:`redact`) and nothing a terminal obeys (:func:`inert`)."""
    return inert(redact(text))


class _ScrubRecords(logging.Filter):
    """The kit's log records, as a handler will print them, with both scrubs applied."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: the handler reports it as it would
            return True
        record.msg, record.args = scrub(message), None
        return True


#: The kit's one logger ("jupyter_imagegen"); every record it makes is scrubbed before a handler
#: sees it (a filter on a logger applies to its own records only, so the kit logs through this one).
log = logging.getLogger("jupyter_imagegen")
log.addFilter(_ScrubRecords())


def redact_data(value: Any, depth: int = 0) -> Any:
    """``value`` (JSON-like data) with every string redacted: what is stored or synced as data.

    A proxy may echo the key into error metadata, a reply into ``text``, an option into ``params``.
    """
    if depth > 20:
        return "[too deep]"
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact(str(k)): redact_data(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v, depth + 1) for v in value]
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
        self.message = scrub(message)
        self.status = status
        self.code = code
        self.metadata = redact_data(dict(metadata or {}))
        self.request_id = request_id
        self.hint = scrub(hint) if hint else None
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
        self.text = redact(text)
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


class PathError(InvalidInputError, OSError):
    """A path the kit was asked to write (or keep a store, a cache, a gallery in) cannot be used.

    Raised before the first write where the path itself is wrong (a NUL, a name over 255 bytes, a
    file where a folder must be, a device, ``/proc``), and for what the OS refuses while writing.
    ``path`` is the path, ``errno`` the OS's code when it gave one; the hint says what to pass.
    An ``OSError`` too, so code that caught the raw errors still catches these.
    """

    #: The path that cannot be used, as given.
    path: str

    def __init__(self, message: str, *, path: str = "", errno: int | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.path, self.errno = path, errno


class MemoryLimitError(ImageGenError):
    """An answer or a display would make the kernel hold more than one of the kit's caps allows.

    One answer may hold at most ``Client(max_answer_pixels=, max_answer_bytes=)`` in all its
    images (each is capped alone as well); one display (a result, a grid, a batch, the widget's
    newest result) decodes at most ``display_options(max_pixels=)`` for its previews. ``cap``
    names the cap, ``limit`` is its value and ``needed`` what was asked for; the hint says how to
    raise it. An answer refused here was still billed: ``usage`` and ``cost`` say so.
    """

    #: Which cap: ``"max_answer_pixels"``, ``"max_answer_bytes"`` or ``"display max_pixels"``.
    cap: str
    #: The cap's value, and what the answer or display would have needed.
    limit: int
    needed: int

    def __init__(self, message: str, *, cap: str, limit: int, needed: int, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.cap, self.limit, self.needed = cap, limit, needed


class SpendLimitError(ImageGenError):
    """Starting the request would exceed the configured spend limit; nothing was sent."""


class CancelledError(ImageGenError):
    """The caller cancelled a running generation."""
