"""The small policies around a call: spend guard, replay cache and image store.

Each is a piece the client composes around the send (cache lookup → spend reservation → send →
settle → keep), like httpx's auth and redirect layers around its transport, instead of flags
threaded through one long method.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from .._exceptions import SpendLimitError
from .._wire.prices import Quote
from .request import Request

if TYPE_CHECKING:
    from .._results.cache import ReplayCache
    from .._results.result import ImageResult
    from .._results.store import ImageStore

#: What ``Client(cache=...)`` takes: ``True`` for the default folder, a folder, or a cache.
CacheSetting = Union[bool, str, "os.PathLike[str]", "ReplayCache", None]
#: What ``Client(store=...)`` takes: a folder or a store.
StoreSetting = Union[bool, str, "os.PathLike[str]", "ImageStore", None]

__all__ = ["CacheSetting", "Keepers", "Reservation", "SpendGuard", "StoreSetting", "resolve_cache",
           "resolve_store"]

log = logging.getLogger("jupyter_imagegen")


@dataclass
class Reservation:
    """What one running request holds of the spend limit (USD)."""

    amount: float = 0.0
    settled: bool = False


class SpendGuard:
    """Refuse, before sending, a request that could take the session past ``limit``.

    Each request reserves its worst case (the images it may return, at the model's estimated
    price) while it runs, so the parallel requests of a batch cannot all pass the check before
    any of them is paid for. What the answer says was billed (``usage.cost``) is what counts;
    an answer that reports no cost counts as its reservation, never as free.
    """

    def __init__(self, limit: float | None = None) -> None:
        self.limit = limit
        self.spent = 0.0
        self.reserved = 0.0
        self._lock = threading.Lock()

    @contextmanager
    def reserve(self, model: str, quote: Quote) -> Iterator[Reservation]:
        """Hold the worst case of one request for the time it runs (nothing when no limit).

        An unknown worst case is refused under a limit, never guessed: the quote's detail says
        which charge could not be counted.
        """
        limit = self.limit
        if limit is None:
            yield Reservation()
            return
        if quote.worst is None:
            why = f" ({quote.detail})" if quote.detail else ""
            raise SpendLimitError(
                f"the price of {model!r} is unknown for this request{why}, so a spend limit "
                f"(${limit:.2f}) cannot be enforced; nothing was sent. Tell the client its price "
                f"with Client(prices={{{model!r}: USD_PER_IMAGE}}), or lift the limit "
                "(spend_limit=None).")
        amount = quote.worst
        with self._lock:
            committed = self.spent + self.reserved
            if committed + amount > limit + 1e-12:
                raise SpendLimitError(
                    f"spend limit reached: ${committed:.4f} spent or running of ${limit:.2f}, and "
                    f"this request to {model!r} may cost up to ${amount:.4f} ({quote.images} "
                    f"image(s); {quote.basis}: {quote.detail or 'no detail'}). Nothing was sent. "
                    "Raise the spend limit (or set it to None) to continue.")
            self.reserved += amount
        reservation = Reservation(amount)
        try:
            yield reservation
        finally:
            with self._lock:
                self.reserved -= amount

    def settle(self, cost: float | None, reservation: Reservation | None = None) -> None:
        """Count what a finished request cost: its billed cost, else (under a limit) its hold."""
        with self._lock:
            if cost is not None:
                self.spent += cost
            elif reservation is not None and self.limit is not None:
                self.spent += reservation.amount
            if reservation is not None:
                reservation.settled = True


class Keepers:
    """The replay cache and the image store, around a call."""

    def __init__(self, cache: CacheSetting = None, store: StoreSetting = None) -> None:
        self.cache = resolve_cache(cache)
        self.store = resolve_store(store)

    def key(self, request: Request, api: str, base_url: str) -> str | None:
        """The replay-cache key of a request: its identity, not how the answer arrives."""
        if self.cache is None:
            return None
        try:
            key: str = self.cache.key_for({**request.identity(), "api": api}, base_url)
        except (TypeError, ValueError):
            return None  # options that are not JSON: not cacheable, still sendable
        return key

    def lookup(self, key: str | None) -> ImageResult | None:
        """A cached result for ``key``, or ``None``."""
        return self.cache.get(key) if key is not None and self.cache is not None else None

    def keep(self, key: str | None, result: ImageResult) -> None:
        """Keep a fresh result in the cache and the store; a full disk costs the copy, never it."""
        cache, store = self.cache, self.store
        jobs: list[tuple[str, Callable[[], object]]] = []
        if key is not None and cache is not None:
            jobs.append(("replay cache", lambda: cache.put(key, result)))
        if store is not None:
            jobs.append(("image store", lambda: store.add(result)))
        for name, job in jobs:
            try:
                job()
            except Exception as exc:  # reported; the paid result is still returned
                log.warning("jupyter_imagegen: could not keep the result in the %s: %s: %s",
                            name, type(exc).__name__, exc)


def resolve_cache(cache: CacheSetting) -> ReplayCache | None:
    """``True`` means the default folder; a path that folder; a cache object is used as is."""
    if cache is None or cache is False:
        return None
    from .._results.cache import ReplayCache

    if cache is True:
        return ReplayCache()
    if isinstance(cache, (str, os.PathLike)):
        return ReplayCache(cache)
    return cache


def resolve_store(store: StoreSetting) -> ImageStore | None:
    """``True`` means the default folder; a path an :class:`ImageStore` there; a store as is."""
    if store is None or store is False:
        return None
    from .._results.store import ImageStore

    if store is True:
        return ImageStore()
    if isinstance(store, (str, os.PathLike)):
        return ImageStore(store)
    return store
