"""Scripted failures: a ``Fault`` value and the thread-safe queue the server consumes.

Clients must cope with every way the real service fails (error envelopes at each status, errors
inside HTTP 200, mid-stream errors, cut connections, missing or broken images, slowness). Tests
and demos script those here, in-process (``server.faults.push(Fault("429"))``), over HTTP
(``POST /api/v1/_faults``) or from the CLI (``--fault 429,retry_after=2,times=3``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ._availability import AVAILABILITY, availability_body

__all__ = ["FAULT_KINDS", "Fault", "FaultQueue", "parse_fault_spec"]

#: Named fault kinds (any HTTP status from 400 to 599 is a kind too, e.g. ``"429"``).
FAULT_KINDS = {
    "error-200": "HTTP 200 whose body is a top-level error envelope",
    "choice-error": "HTTP 200 with an error on the choice and finish_reason 'error'",
    "stream-error": "an error chunk in the middle of a stream (non-streaming: like choice-error)",
    "cut-stream": "the connection closes in the middle of the image data",
    "cut-after-image": "a stream's connection closes after its images, before [DONE] "
                       "(non-streaming: like cut-stream)",
    "no-image": "a valid answer with text only and no image (billed for its tokens)",
    "refusal": "a valid answer with message.refusal, content null and no image (billed)",
    "tool-call": "a valid answer with message.tool_calls, finish_reason 'tool_calls', no image",
    "no-cost": "a valid answer whose usage has tokens and no cost (still billed: see /generation)",
    "no-usage": "a valid answer with no usage object (still billed: see /generation)",
    "bad-base64": "an image data URL whose base64 is malformed",
    "huge-images": "a valid answer of sixteen 6000x6000 one-colour PNGs: each under a per-image "
                   "cap, 576 Mpx in all (the issue-19 memory attack; chat only)",
    "slow": "no failure, only `delay` seconds (keep-alive comments when streaming)",
    "redirect": "a 302 to `message` (a URL or a path), as a misconfigured proxy or a captive "
                "portal answers; the same path on 127.0.0.1:1 when no message is given",
    **{code: f"HTTP {row.status}: error.availability code {code!r} (docs' example shape)"
       for code, row in AVAILABILITY.items()},
}
#: Status codes with the documented metadata the fault adds by default.
_DEFAULT_MESSAGES = {
    400: "Bad request (injected fault)",
    401: "User not found.",
    402: "Insufficient credits. Add more using https://openrouter.ai/settings/credits",
    403: "Input was flagged by moderation (injected fault)",
    404: "No endpoints found (injected fault)",
    408: "Request timed out (injected fault)",
    412: "Precondition failed (injected fault)",
    413: "Request payload too large (injected fault)",
    422: "Unprocessable request (injected fault)",
    429: "Rate limit exceeded (injected fault)",
    500: "Internal Server Error (injected fault)",
    502: "Provider returned error",
    503: "No available providers (injected fault)",
    504: "The provider did not respond in time (injected fault)",
    524: "Request timed out at the edge (injected fault)",
    529: "Provider overloaded (injected fault)",
}
#: The docs' canonical ``metadata.error_type`` for statuses that have one (errors-and-debugging).
_ERROR_TYPES = {400: "invalid_request", 402: "payment_required", 403: "permission_denied",
                404: "not_found",
                408: "timeout", 412: "precondition_failed", 413: "payload_too_large",
                422: "unprocessable", 429: "rate_limit_exceeded", 500: "server",
                502: "provider_unavailable", 503: "provider_overloaded", 504: "timeout",
                529: "provider_overloaded"}


@dataclass(frozen=True)
class Fault:
    """One scripted failure.

    ``kind`` is an HTTP status as text (``"429"``) or a name from :data:`FAULT_KINDS`, including
    the docs' ``error.availability`` codes (``capacity_exhausted``, ``no_endpoints``...), which
    answer with that code's status and the docs' example body shape. ``delay``
    adds seconds before answering; ``retry_after`` sets the 429/503 ``Retry-After`` header and
    ``metadata.retry_after_seconds``; ``path`` (default ``/chat/completions``, ``"*"`` for all)
    and ``model`` restrict which requests consume it.

    Every answer the server sends is billed as its usage says, and recorded for
    ``GET /generation`` even when the client went away (a timeout, a cancel) or the connection
    was cut after the generation finished, as the real service finishes and bills it;
    ``no-cost`` and ``no-usage`` leave the cost out of the answer, not out of the bill.

    With ``path="/images"`` (the Image API) the kinds read: ``stream-error`` is a
    ``{"type": "error"}`` event after the first image's partials (non-streaming: a 502 failed
    generation), ``error-200`` a 200 error envelope (streaming: a lone error event), ``cut-stream``
    cuts the first completed image, ``no-image`` (and ``refusal``, ``tool-call``) returns
    ``data: []``, ``bad-base64`` breaks the first ``b64_json``, ``no-cost`` answers with OpenAI's
    Images usage (``input_tokens``, ``output_tokens``, ``total_tokens``).
    """

    kind: str
    message: str | None = None
    metadata: Mapping[str, Any] | None = None
    retry_after: float | None = None
    delay: float = 0.0
    path: str = "/chat/completions"
    model: str | None = None
    code: int | None = None

    def __post_init__(self) -> None:
        kind = str(self.kind).strip().lower()
        object.__setattr__(self, "kind", kind)
        if kind not in FAULT_KINDS and not (kind.isdigit() and 400 <= int(kind) <= 599):
            raise ValueError(f"unknown fault kind {self.kind!r}: use an HTTP status 400-599 or "
                             f"one of {', '.join(sorted(FAULT_KINDS))}")
        if self.delay < 0:
            raise ValueError("delay must be >= 0")

    @property
    def status(self) -> int | None:
        """The HTTP status for status and availability faults, else ``None``."""
        if self.kind in AVAILABILITY:
            return AVAILABILITY[self.kind].status
        return int(self.kind) if self.kind.isdigit() else None

    def body(self, model: str | None, path: str) -> dict[str, Any]:
        """The whole error body of a status fault (availability faults: the docs' shape)."""
        if self.kind in AVAILABILITY:
            other = "/api/v1/chat/completions" if path == "/images" else "/api/v1/images"
            return availability_body(self.kind, model or self.model or "offline/sketch",
                                     retry_after=self.retry_after, message=self.message,
                                     endpoint=other)
        return {"error": self.envelope()}

    def matches(self, path: str, model: str | None) -> bool:
        """Whether a request to ``path`` (relative to ``/api/v1``) for ``model`` consumes it."""
        if self.path != "*" and self.path.rstrip("/") != path.rstrip("/"):
            return False
        return self.model is None or self.model == model

    def envelope(self) -> dict[str, Any]:
        """The error object (``code``, ``message``, ``metadata``) this fault answers with."""
        # Errors inside a 200 default to the docs' examples: a provider error (502), and a rate
        # limit for the mid-stream case.
        code = self.code or self.status or (429 if self.kind == "stream-error" else 502)
        meta: dict[str, Any] = {}
        message = self.message or _DEFAULT_MESSAGES.get(code, f"Injected error {code}")
        if code == 403:
            meta = {"reasons": ["violence"], "flagged_input": "a frightening…picture",
                    "provider_name": "jupyter-imagegen offline", "model_slug": self.model
                    or "offline/sketch"}
        elif code == 429:
            meta = {"error_type": "rate_limit_exceeded"}
            if self.retry_after is not None:
                meta["retry_after_seconds"] = self.retry_after
                meta["headers"] = {"Retry-After": _seconds(self.retry_after)}
        elif code in (502, 503):
            meta = {"raw": '{"error":{"code":503,"message":"The model is overloaded."}}',
                    "provider_name": "jupyter-imagegen offline",
                    "error_type": "provider_unavailable" if code == 502
                    else "provider_overloaded"}
            if self.retry_after is not None:
                meta["retry_after_seconds"] = self.retry_after
        elif code in _ERROR_TYPES:
            meta = {"error_type": _ERROR_TYPES[code]}
        if meta and "error_type" not in meta:  # the SDKs require it whenever metadata is sent
            meta["error_type"] = _ERROR_TYPES.get(code, "unmapped")
        meta.update(self.metadata or {})
        err: dict[str, Any] = {"code": code, "message": message}
        if meta:
            err["metadata"] = meta
        return err

    @classmethod
    def from_mapping(cls, obj: Mapping[str, Any]) -> tuple[Fault, int | None]:
        """Build ``(fault, times)`` from JSON such as ``{"kind": "429", "times": 2}``."""
        data = dict(obj)
        try:
            times = _times(data.pop("times", 1))
        except ValueError:
            raise ValueError(f"fault field 'times' must be a whole number >= 1 or 'forever', got "
                             f"{obj.get('times')!r}") from None
        if "spec" in data:
            return parse_fault_spec(str(data.pop("spec")))
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        for name in ("delay", "retry_after"):
            if data.get(name) is not None:
                data[name] = _number(name, data[name], float)
        if data.get("code") is not None:
            data["code"] = _number("code", data["code"], int)
        if "kind" not in data:
            raise ValueError("a fault needs a 'kind' (an HTTP status or a fault name)")
        return cls(**data), times


def _number(name: str, value: Any, kind: type[float] | type[int]) -> Any:
    """``value`` as a number, or a ValueError that names the fault field."""
    try:
        number = kind(value)
    except (TypeError, ValueError):
        what = "a whole number" if kind is int else "a number of seconds"
        raise ValueError(f"fault field {name!r} must be {what}, got {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):  # NaN, inf
        raise ValueError(f"fault field {name!r} must be a finite number, got {value!r}")
    return number


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _times(value: Any) -> int | None:
    if value is None or str(value).lower() in ("forever", "inf", "*"):
        return None
    times = int(value)
    if times < 1:
        raise ValueError("times must be >= 1 (or 'forever')")
    return times


def parse_fault_spec(spec: str) -> tuple[Fault, int | None]:
    """Parse the CLI syntax ``KIND[,key=value...]`` into ``(fault, times)``.

    Keys: ``times`` (a count or ``forever``), ``delay``, ``retry_after``, ``path``, ``model``,
    ``message``, ``code``. Examples: ``429,retry_after=2,times=3``, ``slow,delay=5``, ``cut-stream``.
    """
    kind, *pairs = [part.strip() for part in spec.split(",")]
    data: dict[str, Any] = {"kind": kind}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"fault option {pair!r} is not key=value (in {spec!r})")
        data[key.strip().replace("-", "_")] = value.strip()
    return Fault.from_mapping(data)


class FaultQueue:
    """Thread-safe queue of pending faults; each request consumes the first that matches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[list[Any]] = []  # [fault, remaining or None for forever]

    def push(self, fault: Fault | str, times: int | None = 1) -> None:
        """Queue ``fault`` (a :class:`Fault` or a CLI spec) for the next ``times`` requests.

        ``times=None`` keeps it forever (until :meth:`clear`).
        """
        if isinstance(fault, str):
            fault, spec_times = parse_fault_spec(fault)
            times = spec_times if times == 1 else times
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        with self._lock:
            self._entries.append([fault, times])

    def take(self, path: str, model: str | None) -> Fault | None:
        """Consume and return the first fault matching this request, if any."""
        with self._lock:
            for entry in self._entries:
                fault, remaining = entry
                if fault.matches(path, model):
                    if remaining is not None:
                        entry[1] = remaining - 1
                        if entry[1] <= 0:
                            self._entries.remove(entry)
                    return fault  # type: ignore[no-any-return]
        return None

    def clear(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._entries.clear()

    def pending(self) -> list[tuple[Fault, int | None]]:
        """Snapshot of ``(fault, remaining)`` pairs, first to be consumed first."""
        with self._lock:
            return [(entry[0], entry[1]) for entry in self._entries]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
