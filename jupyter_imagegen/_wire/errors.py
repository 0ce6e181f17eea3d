"""One error mapper for both image APIs (pure, stdlib only).

Chat completions answer errors as ``{"error": {"code": 404, "message", "metadata"}}``; the Image
API and its streams as ``{"error": {"code": "upstream_error", "type": "provider_error", ...}}``;
since 2026-08-19 model availability errors add ``error.availability`` and may carry
``error_type`` and ``http_status`` with no ``code`` at all (OpenRouterTeam/docs
``errors-and-debugging.mdx`` at 4e27fe52). Every shape goes through :func:`error_from_envelope`, so
each documented failure lands on the same class of the exception tree whichever API produced it.

It also names the *refusal families*: the ways the real service says "this model is served by the
other API" (see :data:`WRONG_ENDPOINT`, :data:`WRONG_MODALITIES` and :func:`route_refusal`), so the
router reads a typed ``error.refusal`` and ``error.endpoint_hint`` instead of matching one sentence.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Mapping
from typing import Any

from .._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ImageGenError,
    InsufficientCreditsError,
    ModerationError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
)
from .common import Usage, as_float, loads

__all__ = [
    "IMAGE_ONLY_SERVER_ERROR",
    "RETRYABLE_STATUSES",
    "WRONG_ENDPOINT",
    "WRONG_MODALITIES",
    "error_body",
    "error_from_envelope",
    "error_from_response",
    "images_error",
    "parse_retry_after",
    "retry_delay",
    "route_refusal",
    "with_usage",
]

#: Statuses worth retrying: timeouts, rate limits and provider trouble. Never 400/401/402/403.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 524, 529})

# -- refusal families ---------------------------------------------------------------------------
# What the real service answers when a model is sent to the API that does not serve it, as public
# projects recorded it (each family is ``error.refusal``; the API it names is ``endpoint_hint``):
#
# (a) chat/completions, an image-only model the Image API serves, no ``modalities`` or
#     ``["image"]``: 404 ``{"error": {"message": "<model> is an image generation model and cannot be
#     used with the chat/completions endpoint. Use the /api/v1/images endpoint instead.",
#     "code": 404}}`` (openrouter-changes-2026.md "Not in the docs but in real traffic"; the same
#     body for meta/muse-image after ``["image"]``, and the modalities 404 below first for
#     ``["image", "text"]``, in a public image-gen plugin that retries through both).
# (b) chat/completions with ``modalities`` the model cannot output (``["image", "text"]`` to an
#     image-only model): 404 ``{"error": {"message": "No endpoints found that support the requested
#     output modalities: image, text", "code": 404, "metadata": {"routing_funnel": [{"step":
#     "Initial Endpoints", "endpoint_count": 1}], "failed_routing_step": "Filter by Model Output
#     Modalities"}}}`` (HKUDS/DeepTutor#1348, bytedance-seed/seedream-5-0-lite; the same message
#     without metadata for openai/gpt-image-2 in BerriAI/litellm#34908 and Pasta-Devs/Marinara-Engine
#     #5749). It names no endpoint: the router tries the other API.
# (c) chat/completions, ``["image"]``, some image-only models: a bare 500 (SillyTavern/SillyTavern
#     #5962: bytedance-seed/seedream-5-0-pro, which the Image API serves). No body was published, so
#     this family is known from context only: :func:`route_refusal`.
# (d) the documented availability code ``wrong_endpoint`` (400, ``error.availability`` with
#     ``constraint.detail`` naming the endpoint to retry on; docs errors-and-debugging at 4e27fe52).
# (e) the reverse, a chat-only model sent to the Image API: no real answer is recorded; the docs'
#     (d) is the documented one, and is read the same way.

#: Family (a) and (d), and the ``code`` given to both: "use the endpoint named here instead".
WRONG_ENDPOINT = "wrong_endpoint"
#: Family (b): no endpoint of the model outputs the requested modalities (names no endpoint).
WRONG_MODALITIES = "wrong_modalities"
#: Family (c): the bare 500 of chat/completions for an image-only model (context only).
IMAGE_ONLY_SERVER_ERROR = "image_only_server_error"
_WRONG_ENDPOINT_TEXT = "cannot be used with the chat/completions endpoint"
_MODALITIES_TEXT = "no endpoints found that support the requested output modalities"
_MODALITIES_STEP = "filter by model output modalities"
#: The kit's two APIs by the path the service names ("Use the /api/v1/images endpoint").
_APIS = {"images": "images", "chat/completions": "chat"}
_USE = re.compile(r"\buse (?:the )?((?:/api/v1)?/[a-z][a-z0-9_/-]*)", re.IGNORECASE)
_PATH = re.compile(r"((?:/api/v1)?/[a-z][a-z0-9_/-]*)", re.IGNORECASE)

# String error codes seen in Image API errors (``{"code": "server_error"}``, openapi example
# ``upstream_error``), as HTTP statuses so they map onto the same classes as numeric codes.
_STRING_CODES = {
    "server_error": 502, "upstream_error": 502, "internal_error": 500,
    "rate_limit_exceeded": 429, "invalid_request_error": 400, "bad_request": 400,
    "invalid_request": 400, "content_policy_violation": 400, "moderation_blocked": 403,
    "insufficient_quota": 402, "payment_required": 402, "timeout": 504, "model_not_found": 400,
    "not_found": 404, "unauthorized": 401, "provider_overloaded": 529,
    "provider_unavailable": 502,
}

# ``error.availability.code`` values and their documented statuses (docs 4e27fe52).
_AVAILABILITY = {
    "model_not_found": 400, "wrong_endpoint": 400, "no_endpoints": 404, "model_deprecated": 404,
    "model_unavailable_upstream": 404, "privacy_restricted": 404, "constraint_filtered": 404,
    "free_variant_ended": 404, "capacity_exhausted": 429, "temporarily_unavailable": 503,
    "region_restricted": 403,
}
_NOT_FOUND_CODES = frozenset({"model_not_found", "no_endpoints", "model_deprecated",
                              "model_unavailable_upstream", "privacy_restricted",
                              "constraint_filtered", "free_variant_ended", WRONG_ENDPOINT})

_HINTS = {
    401: "Check OPENROUTER_API_KEY (or pass api_key=...); keys start with 'sk-or-'.",
    402: "Add credits at openrouter.ai/settings/credits or raise this key's limit.",
    429: "Wait and retry, lower the concurrency, or add credits to raise the rate limit.",
}


def parse_retry_after(value: Any) -> float | None:
    """Seconds from a ``Retry-After`` header value or ``retry_after_seconds``; ``None`` if unusable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value[:32])
        except ValueError:
            return None  # HTTP-date form: not used by OpenRouter; fall back to backoff
    seconds = as_float(value)
    return seconds if seconds is not None and math.isfinite(seconds) else None


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
        err = {"message": str(err)[:500]} if err else {}
    availability = err.get("availability")
    availability = dict(availability) if isinstance(availability, Mapping) else {}
    metadata = err.get("metadata")
    metadata = dict(metadata) if isinstance(metadata, Mapping) else {}
    raw_code = err.get("code")
    code: int | str | None = raw_code if isinstance(raw_code, (int, str)) and not isinstance(
        raw_code, bool) else None
    if isinstance(code, int) and not 100 <= code <= 599:
        code = None
    if availability.get("code") and isinstance(availability["code"], str):
        code = availability["code"]
        metadata["availability"] = availability
    numeric = _status_of(code, err, status)
    message = err.get("message")
    message = message[:2000] if isinstance(message, str) and message else \
        "the service returned an error"
    error_type = str(metadata.get("error_type") or err.get("error_type") or err.get("type") or "")[:100]
    if not error_type and isinstance(code, str):
        error_type = code.lower()[:100]
    refusal, hint = _refusal_of(code, message, metadata, availability)
    if refusal == WRONG_ENDPOINT:
        code = WRONG_ENDPOINT
    if retry_after is None:
        retry_after = parse_retry_after(availability.get("retry_after"))
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
    error.refusal, error.endpoint_hint = refusal, hint
    return with_usage(error, obj.get("usage"))


def with_usage(error: ImageGenError, usage: Any) -> ImageGenError:
    """``error``, keeping the ``usage`` object of the answer it came in (when it has one).

    An error envelope beside ``usage`` (a 200 whose choice failed with ``finish_reason: "error"``
    after the provider produced tokens, docs ``errors-and-debugging.mdx`` "Error inside a 200")
    is a billed answer: the spend guard counts ``usage.cost``, and a retry would bill again.
    """
    if isinstance(usage, Mapping) and usage and error.usage is None:
        error.usage = Usage.from_json(usage)
    return error


def _refusal_of(code: int | str | None, message: str, metadata: Mapping[str, Any],
                availability: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The refusal family of an envelope (families (a), (b), (d) above) and the API it names."""
    lowered = message.lower()
    if code == WRONG_ENDPOINT:
        constraint = availability.get("constraint")
        detail = constraint.get("detail") if isinstance(constraint, Mapping) else None
        named = _endpoint_in(str(detail)[:300], _PATH) if detail else None
        return WRONG_ENDPOINT, named or _endpoint_in(message, _USE)
    if _WRONG_ENDPOINT_TEXT in lowered:
        return WRONG_ENDPOINT, _endpoint_in(message, _USE)
    step = metadata.get("failed_routing_step")
    if lowered.startswith(_MODALITIES_TEXT) or (
            isinstance(step, str) and step.lower() == _MODALITIES_STEP):
        return WRONG_MODALITIES, None
    return None, None


def _endpoint_in(text: str, pattern: re.Pattern[str]) -> str | None:
    """``"images"``/``"chat"`` for the kit's APIs, the path itself for another endpoint, or None."""
    found = pattern.search(text)
    if found is None:
        return None
    named = found.group(1).rstrip("/.")
    return _APIS.get(named.lower().removeprefix("/api/v1").lstrip("/"), named[:100])


def route_refusal(error: ImageGenError, *, api: str, image_only: bool | None) -> str | None:
    """The refusal family ``error`` belongs to, for a request sent to ``api``; ``None`` if none.

    Families (a), (b), (d) and (e) are read from the answer itself (``error.refusal``). The 500 of
    family (c) carries nothing of its own, and a 500 may be a generation that failed late, so it
    counts only where it was recorded: chat/completions, a model the listing says outputs images
    and no text, and an envelope without usage (SillyTavern/SillyTavern#5962: seedream-5-0-pro
    answered 500 there and was served by ``POST /api/v1/images``, whose billing is all-or-nothing,
    docs 55128d8c). Any other 500 is never a reason to send the request again elsewhere.
    """
    if error.refusal is not None:
        return error.refusal
    if (api == "chat" and image_only and error.status == 500 and isinstance(error, ProviderError)
            and "usage" not in error.metadata):
        return IMAGE_ONLY_SERVER_ERROR
    return None


def _status_of(code: int | str | None, err: Mapping[str, Any], status: int | None) -> int | None:
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.isascii() and code.isdigit() and len(code) == 3:
        return int(code)
    http_status = err.get("http_status")
    if isinstance(http_status, int) and not isinstance(http_status, bool) and 100 <= http_status <= 599:
        return http_status
    if isinstance(code, str) and code.lower() in _AVAILABILITY:
        return _AVAILABILITY[code.lower()]
    if isinstance(code, str) and code.lower() in _STRING_CODES and not (status and status >= 400):
        return _STRING_CODES[code.lower()]
    return status if status and status >= 400 else None


def _class_for(
    status: int | None, code: Any, error_type: str, metadata: Mapping[str, Any]
) -> type[APIError]:
    if code in _NOT_FOUND_CODES or error_type == "model_not_found":
        return NotFoundError
    if error_type in ("content_policy_violation", "moderation_blocked"):
        return ModerationError
    if code == "capacity_exhausted":
        return RateLimitError
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
        obj = loads(body) if body else None
    except ImageGenError:
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


def images_error(obj: Mapping[str, Any], *, status: int | None = None,
                 request_id: str | None = None) -> ImageGenError:
    """Map an Image API error (``{"error": {...}}`` or a ``{"type": "error", ...}`` stream event)."""
    err = obj.get("error")
    if not isinstance(err, Mapping):
        err = {"message": err} if isinstance(err, str) and err else \
            {k: v for k, v in obj.items() if k != "type"}
    return error_from_envelope({"error": dict(err)}, status=status, request_id=request_id)
