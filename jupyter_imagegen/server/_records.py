"""What the server saw and made: recorded requests and generation records.

Tests assert on the request the client actually built (``server.requests[-1].json``) and on the
generations the server answered (``GET /generation?id=``), so both are kept, thread-safely, in
bounded logs: a long-running server (a notebook, ``jupyter-imagegen serve``) forgets the oldest
records instead of keeping every request body and key forever.
"""

from __future__ import annotations

import json
import secrets
import string
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

__all__ = ["GenerationRecord", "RecordList", "RecordedRequest", "new_generation_id"]

_ALNUM = string.ascii_letters + string.digits
_SECRET_HEADERS = {"authorization", "cookie", "proxy-authorization"}

T = TypeVar("T")


def new_generation_id(now: float | None = None) -> str:
    """A generation id in the service's form, ``gen-<unix>-<20 alphanumerics>``."""
    stamp = int(time.time() if now is None else now)
    return f"gen-{stamp}-{''.join(secrets.choice(_ALNUM) for _ in range(20))}"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received. ``headers`` include ``Authorization``; ``repr`` hides it."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    time: float = field(default_factory=time.time)

    @property
    def json(self) -> Any:
        """The body parsed as JSON (``None`` when empty or not JSON)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    def header(self, name: str) -> str | None:
        """A header value by case-insensitive name."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    def __repr__(self) -> str:
        shown = {k: ("[redacted]" if k.lower() in _SECRET_HEADERS else v)
                 for k, v in self.headers.items()}
        return (f"RecordedRequest(method={self.method!r}, path={self.path!r}, "
                f"query={dict(self.query)!r}, headers={shown!r}, body=<{len(self.body)} bytes>)")


@dataclass(frozen=True)
class GenerationRecord:
    """One generation this server answered, as ``GET /generation`` reports it."""

    id: str
    model: str
    created: float
    total_cost: float
    prompt_tokens: int
    completion_tokens: int
    image_tokens: int
    reasoning_tokens: int
    num_images: int
    num_input_images: int
    streamed: bool
    finish_reason: str
    latency: float
    #: The client went away before it read the answer (the generation still ran and is billed).
    cancelled: bool = False

    def to_json(self) -> dict[str, Any]:
        """The ``data`` object of ``GET /api/v1/generation?id=``."""
        created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.created))
        ms = round(self.latency * 1000)
        return {
            "id": self.id, "upstream_id": None, "total_cost": self.total_cost,
            "cache_discount": None, "upstream_inference_cost": None,
            "created_at": f"{created}.000Z", "model": self.model, "app_id": None,
            "streamed": self.streamed, "cancelled": self.cancelled,
            "provider_name": "jupyter-imagegen offline", "latency": ms,
            "moderation_latency": None, "generation_time": ms,
            "finish_reason": self.finish_reason,
            "native_finish_reason": self.finish_reason.upper() if self.finish_reason else None,
            "tokens_prompt": self.prompt_tokens, "tokens_completion": self.completion_tokens,
            "native_tokens_prompt": self.prompt_tokens,
            "native_tokens_completion": self.completion_tokens,
            "native_tokens_completion_images": self.image_tokens,
            "native_tokens_reasoning": self.reasoning_tokens, "native_tokens_cached": 0,
            "num_media_prompt": self.num_input_images, "num_input_audio_prompt": 0,
            "num_media_completion": self.num_images, "num_search_results": 0,
            "num_fetches": 0, "origin": "", "usage": self.total_cost, "is_byok": False,
            "api_type": "completions", "http_referer": None, "external_user": None,
            "preset_id": None, "provider_responses": None, "router": None,
            "service_tier": None, "user_agent": None, "web_search_engine": None,
            "workspace_id": None, "data_region": "global", "request_id": None,
        }


class RecordList(Generic[T]):
    """A thread-safe, bounded, append-only log with the read side of ``list``.

    ``maxlen`` caps the number of records and ``max_bytes`` the total ``size(record)``; when
    either is exceeded the oldest records are dropped (the newest one is always kept).
    ``on_drop`` sees every record dropped that way (under the log's lock, so keep it short);
    :attr:`dropped` counts them.
    """

    def __init__(self, maxlen: int | None = None, *, max_bytes: int | None = None,
                 size: Callable[[T], int] | None = None,
                 on_drop: Callable[[T], None] | None = None) -> None:
        if maxlen is not None and maxlen < 1:
            raise ValueError("maxlen must be >= 1 (or None for no limit)")
        if max_bytes is not None and max_bytes < 0:
            raise ValueError("max_bytes must be >= 0 (or None for no limit)")
        self._lock = threading.Lock()
        self._items: deque[T] = deque()
        self.maxlen = maxlen
        self.max_bytes = max_bytes
        self._size = size or (lambda _item: 0)
        self._on_drop = on_drop
        self._bytes = 0
        self.dropped = 0

    def append(self, item: T) -> None:
        """Add one record, dropping the oldest ones beyond the limits."""
        with self._lock:
            self._items.append(item)
            self._bytes += self._size(item)
            while len(self._items) > 1 and (
                    (self.maxlen is not None and len(self._items) > self.maxlen)
                    or (self.max_bytes is not None and self._bytes > self.max_bytes)):
                old = self._items.popleft()
                self._bytes -= self._size(old)
                self.dropped += 1
                if self._on_drop is not None:
                    self._on_drop(old)

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        """The total ``size`` of the records kept (request bodies, for the request log)."""
        with self._lock:
            return self._bytes

    def snapshot(self) -> list[T]:
        """A copy of the records, oldest first."""
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.snapshot())

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: int | slice) -> T | list[T]:
        with self._lock:
            if isinstance(index, slice):
                return list(self._items)[index]
            try:
                return self._items[index]
            except IndexError:
                raise IndexError("record index out of range") from None

    def __repr__(self) -> str:
        return f"RecordList({self.snapshot()!r})"
