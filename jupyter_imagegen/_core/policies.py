"""The small policies around a call: spend guard, replay cache and image store.

Each is a piece the client composes around the send (cache lookup → spend reservation → send →
settle → keep), like httpx's auth and redirect layers around its transport, instead of flags
threaded through one long method.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
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

__all__ = ["CLASS_BUDGET", "CacheSetting", "ClassGuard", "Hold", "Keepers", "Reservation",
           "SpendGuard", "StoreSetting", "guard_for", "resolve_cache", "resolve_store"]

#: The ``code`` of a refusal under a class's budget: front ends then add no way to lift it.
CLASS_BUDGET = "class_budget"

log = logging.getLogger("jupyter_imagegen")


@dataclass
class Reservation:
    """What one running request holds of the spend limit (USD), for ``images`` images."""

    amount: float = 0.0
    settled: bool = False
    images: int = 1

    @property
    def per_image(self) -> float:
        """The reserved price of one image (what an answer without ``cost`` counts per image)."""
        return self.amount / max(1, self.images)


@dataclass(eq=False)
class Hold:
    """A charge counted as spent whose bill is not known yet (USD, pending).

    A call that ended without an answer (a read timeout, the deadline, a cancel, a cut stream)
    or an answer without ``cost``: the service may have billed it, so it counts at ``amount``
    until its generation record (``generation_id``) says what it cost.
    """

    amount: float
    generation_id: str | None
    model: str
    resolved: bool = False


class SpendGuard:
    """Refuse, before sending, a request that could take the session past ``limit``.

    Each request reserves its worst case (the images it may return, at the model's estimated
    price) while it runs, so the parallel requests of a batch cannot all pass the check before
    any of them is paid for. What the answer says was billed (``usage.cost``) is what counts
    (:attr:`settled`); a call whose bill is not known (no answer, or an answer without ``cost``)
    keeps its reservation as :attr:`pending` until its generation record says what it cost,
    never as free. :attr:`spent` is both: what the limit is checked against.
    """

    #: True for a class's guard: its refusals say to ask the teacher, never how to lift the limit.
    locked = False

    def __init__(self, limit: float | None = None) -> None:
        self.limit = limit
        self.settled = 0.0
        self.pending = 0.0
        self.reserved = 0.0
        self._holds: set[Hold] = set()
        self._lock = threading.Lock()

    @property
    def spent(self) -> float:
        """USD counted: billed (:attr:`settled`) and held for calls not yet billed (:attr:`pending`)."""
        return self.settled + self.pending

    @spent.setter
    def spent(self, value: float) -> None:
        # Starting the count again (``client.spent = 0``) also forgets what was pending.
        with self._lock:
            self.settled, self.pending = float(value), 0.0
            for hold in self._holds:
                hold.resolved = True
            self._holds.clear()

    @contextmanager
    def reserve(self, model: str, quote: Quote) -> Iterator[Reservation]:
        """Hold the worst case of one request for the time it runs (nothing when no limit).

        An unknown worst case is refused under a limit, never guessed: the quote's detail says
        which charge could not be counted.
        """
        limit = self.limit
        if limit is None:  # nothing to refuse; the quote is what an unbilled call counts
            held = quote.worst if quote.worst is not None else (quote.expected or 0.0)
            yield Reservation(held, images=max(1, quote.images))
            return
        code = CLASS_BUDGET if self.locked else None
        if quote.worst is None:
            why = f" ({quote.detail})" if quote.detail else ""
            lift = ("Pick a model whose price is known (`%imagegen models`)." if self.locked else
                    f"Tell the client its price with Client(prices={{{model!r}: USD_PER_IMAGE}}), "
                    "or lift the limit (spend_limit=None).")
            raise SpendLimitError(
                f"the price of {model!r} is unknown for this request{why}, so a spend limit "
                f"(${limit:.2f}) cannot be enforced; nothing was sent. {lift}", code=code)
        amount = quote.worst
        with self._lock:
            committed = self.spent + self.reserved
            if committed + amount > limit + 1e-12:
                whose = "this class's budget" if self.locked else "the spend limit"
                raise SpendLimitError(
                    f"spend limit reached: ${committed:.4f} spent or running of ${limit:.2f} "
                    f"({whose}), and this request to {model!r} may cost up to ${amount:.4f} "
                    f"({quote.images} image(s); {quote.basis}: {quote.detail or 'no detail'}). "
                    "Nothing was sent. " + ("Ask your teacher if you need more." if self.locked
                                            else "Raise the spend limit (or set it to None) to "
                                            "continue."), code=code)
            self.reserved += amount
        reservation = Reservation(amount, images=max(1, quote.images))
        try:
            yield reservation
        finally:
            with self._lock:
                self.reserved -= amount

    def settle(self, cost: float | None, reservation: Reservation | None = None) -> Hold | None:
        """Count what a finished request cost: its billed cost, else its reservation as pending."""
        if cost is None:
            amount = reservation.amount if reservation is not None else 0.0
            return self.hold(amount, None, "", reservation)
        with self._lock:
            self.settled += cost
            if reservation is not None:
                reservation.settled = True
        return None

    def hold(self, amount: float, generation_id: str | None, model: str,
             reservation: Reservation | None = None) -> Hold:
        """Count ``amount`` as pending: a charge the service may have made, not yet known."""
        hold = Hold(max(0.0, amount), generation_id, model)
        with self._lock:
            self.pending += hold.amount
            self._holds.add(hold)
            if reservation is not None:
                reservation.settled = True
        return hold

    def resolve(self, hold: Hold, cost: float) -> bool:
        """Replace a pending charge by what its generation record says was billed (once)."""
        with self._lock:
            if hold.resolved or hold not in self._holds:
                return False
            hold.resolved = True
            self._holds.discard(hold)
            self.pending = max(0.0, self.pending - hold.amount)
            if not self._holds:
                self.pending = 0.0  # no float dust left over once nothing is pending
            self.settled += cost
        return True

    def holds(self) -> list[Hold]:
        """The pending charges (a snapshot)."""
        with self._lock:
            return list(self._holds)


class ClassGuard(SpendGuard):
    """A class's spend guard (``JUPYTER_IMAGEGEN_CLASS_MODE=1``): one per kernel, every client's.

    Why: in class the limit is the teacher's, so a student's notebook may lower it but never raise
    or remove it, never reset the count, and a new ``ig.Client()`` does not bring a fresh budget.
    This guards against accidents, not against a determined student (who controls the kernel):
    the hard limit is the classroom gateway's per-student budget or OpenRouter's per-key limit.
    """

    locked = True
    _limit: float | None

    def __init__(self, limit: float | None = None) -> None:
        self._told: set[tuple[float | None, float]] = set()
        super().__init__(limit)

    @property
    def limit(self) -> float | None:
        """USD the kernel may spend; only ever lowered."""
        return self._limit

    @limit.setter
    def limit(self, value: float | None) -> None:
        current = getattr(self, "_limit", None)
        if current is not None and (value is None or value > current):
            if (value, current) not in self._told:  # once: the magic re-applies it every cell
                self._told.add((value, current))
                warnings.warn(f"this class's spend limit is ${current:.2f}; it cannot be raised "
                              "or removed from the notebook", stacklevel=3)
            return
        self._limit = value

    @property
    def spent(self) -> float:
        """USD counted (billed and pending); it cannot be reset under a class's budget."""
        return self.settled + self.pending

    @spent.setter
    def spent(self, value: float) -> None:
        warnings.warn("this class's spend count cannot be reset from the notebook", stacklevel=3)


_class_guard: list[ClassGuard] = []
_class_lock = threading.Lock()


def guard_for(asked: float | None, imposed: float | None, class_mode: bool) -> SpendGuard:
    """A new client's spend guard: its own limit (``asked``, else ``imposed``), or the class's.

    ``imposed`` comes from the environment or the kernel's IPython config, so it holds for
    every client from the first call; in class mode every client shares one :class:`ClassGuard`.
    """
    if not class_mode:
        return SpendGuard(asked if asked is not None else imposed)
    with _class_lock:
        if not _class_guard:
            _class_guard.append(ClassGuard(imposed))
        guard = _class_guard[0]
        if imposed is not None and (guard.limit is None or imposed < guard.limit):
            guard.limit = imposed
        if asked is not None:
            guard.limit = asked  # lowers it, or warns that it cannot be raised
        return guard


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
