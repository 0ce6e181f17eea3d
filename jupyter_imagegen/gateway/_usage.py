"""Find what an answer billed while its bytes stream through, without holding the answer.

A generation's bill is ``usage.cost``: at the end of a JSON body (chat completions put ``usage``
after ``choices``; the Image API's ``{created, data, usage}`` too), or in the last SSE event that
carries it (docs ``usage-accounting.mdx``: "included in the last SSE message"; the Image API's
``image_generation.completed`` event has it at top level). Images are multi-megabyte base64
strings, so the scanner keeps only the first and last :data:`WINDOW` bytes of a JSON body and,
for a stream, only lines shorter than :data:`WINDOW` (an image line is skipped as it passes).
Pure: bytes in, a :class:`Bill` out.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._wire.common import as_float

__all__ = ["WINDOW", "Bill", "UsageScanner"]

#: Bytes kept of a JSON body's head and tail, and the longest SSE line read.
WINDOW = 256 * 1024
_OPEN_OBJECT = re.compile(rb"\s*:\s*\{")
_ID_KEY = re.compile(rb'(?<!\\)"id"\s*:\s*"([A-Za-z0-9_.:-]{1,120})"')


@dataclass
class Bill:
    """What a finished answer says: the billed cost (``None``: not found), an error, its id."""

    cost: float | None = None
    error: bool = False
    generation_id: str | None = None


def _usage_cost(usage: Any) -> float | None:
    return as_float(usage.get("cost")) if isinstance(usage, Mapping) else None


def _last_usage(data: bytes) -> float | None:
    """The ``cost`` of the last decodable ``"usage": {...}`` object in ``data``.

    Searched backwards with ``rfind`` (memchr speed: the usage object sits at the end, after
    megabytes of base64 in which a regular expression crawled); a ``"usage"`` preceded by a
    backslash is inside a string, not a key.
    """
    decoder = json.JSONDecoder()
    end = len(data)
    for _ in range(64):
        at = data.rfind(b'"usage"', 0, end)
        if at < 0:
            return None
        end = at
        brace = _OPEN_OBJECT.match(data, at + 7)
        if (at and data[at - 1:at] == b"\\") or brace is None:
            continue
        start = brace.end() - 1
        try:
            obj, _ = decoder.raw_decode(data[start:start + 64 * 1024].decode("utf-8", "replace"))
        except ValueError:
            continue
        cost = _usage_cost(obj)
        if cost is not None:
            return cost
    return None


class UsageScanner:
    """Feed the answer's chunks as they pass; :meth:`result` reads the bill at the end.

    ``sse`` selects the stream reader (line by line) over the JSON reader (head and tail).
    """

    def __init__(self, *, sse: bool) -> None:
        self.sse = sse
        self.bytes = 0
        self._head = bytearray()
        self._tail: deque[bytes] = deque()  # the newest chunks, at least WINDOW bytes of them
        self._tail_bytes = 0
        self._line = bytearray()
        self._skipping = False  # inside an over-long line (an image): dropped until its end
        self._bill = Bill()

    def feed(self, chunk: bytes) -> None:
        """Look at one chunk of the answer (it is not kept beyond the windows)."""
        self.bytes += len(chunk)
        if self.sse:
            self._feed_lines(chunk)
            return
        if len(self._head) < WINDOW:
            self._head += chunk[: WINDOW - len(self._head)]
        self._tail.append(chunk)  # chunks are kept, not copied: O(1) per chunk
        self._tail_bytes += len(chunk)
        while self._tail_bytes - len(self._tail[0]) >= WINDOW:
            self._tail_bytes -= len(self._tail.popleft())

    def _feed_lines(self, chunk: bytes) -> None:
        start = 0
        while start < len(chunk):
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            if not self._skipping:
                self._line += piece
                if len(self._line) > WINDOW:
                    self._line.clear()
                    self._skipping = True
            if end < 0:
                return
            if not self._skipping:
                self._read_line(bytes(self._line).rstrip(b"\r"))
            self._line.clear()
            self._skipping = False
            start = end + 1

    def _read_line(self, line: bytes) -> None:
        if not line.startswith(b"data:"):
            return
        payload = line[5:].strip()
        if not payload or payload == b"[DONE]" or b"{" not in payload[:1]:
            return
        try:
            obj = json.loads(payload)
        except ValueError:
            return
        if not isinstance(obj, Mapping):
            return
        if obj.get("error") is not None or obj.get("type") == "error":
            self._bill.error = True
        cost = _usage_cost(obj.get("usage"))
        if cost is not None:
            self._bill.cost = cost
        gen = obj.get("id")
        if isinstance(gen, str) and self._bill.generation_id is None:
            self._bill.generation_id = gen[:120]

    def result(self) -> Bill:
        """The bill as far as the answer went (call once the body has ended)."""
        if self.sse:
            if self._line and not self._skipping:
                self._read_line(bytes(self._line).rstrip(b"\r"))
                self._line.clear()
            return self._bill
        tail = b"".join(self._tail) if len(self._head) >= WINDOW else b""
        body = tail or bytes(self._head)
        cost = _last_usage(body)
        if cost is None and tail:
            cost = _last_usage(bytes(self._head))
        found = _ID_KEY.search(bytes(self._head))
        return Bill(cost=cost, error=b'"error"' in bytes(self._head[:2048]),
                    generation_id=found.group(1).decode() if found else None)
