"""Encoding and the render cache: the server's answers are encoded once and reused."""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from PIL import Image

__all__ = ["RenderCache", "encode_image"]


def encode_image(image: Image.Image, mime: str) -> bytes:
    """Encode as PNG, JPEG or WebP; fast settings, since the server answers interactively."""
    buffer = io.BytesIO()
    if mime == "image/jpeg":
        image.convert("RGB").save(buffer, "JPEG", quality=90)
    elif mime == "image/webp":
        image.save(buffer, "WEBP", quality=85, method=0)
    else:
        image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


class RenderCache:
    """A thread-safe LRU of encoded images with single-flight filling.

    Concurrent requests for the same key render once: the others wait for the first, which keeps
    a burst of identical requests from rendering the same picture on every thread.
    """

    def __init__(self, maxsize: int = 64, *,
                 sign: Callable[[bytes, str], bytes] | None = None) -> None:
        self.maxsize = maxsize
        #: Signs a finished image's bytes (``LocalServer(sign=...)``); cached answers are signed.
        self.sign = sign
        self._items: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: dict[Hashable, threading.Lock] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, make: Callable[[], str]) -> str:
        """The cached value for ``key``, calling ``make()`` once when it is missing."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            gate = self._pending.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._items:
                    self.hits += 1
                    return self._items[key]
            value = make()
            with self._lock:
                self.misses += 1
                self._items[key] = value
                while len(self._items) > self.maxsize:
                    self._items.popitem(last=False)
                self._pending.pop(key, None)
        return value

    def finish(self, data: bytes, mime: str) -> bytes:
        """A final image's bytes as the server sends them: signed when signing is on."""
        return self.sign(data, mime) if self.sign is not None else data

    def clear(self) -> None:
        """Forget every cached image."""
        with self._lock:
            self._items.clear()
