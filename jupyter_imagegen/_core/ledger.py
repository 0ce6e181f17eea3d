"""Every billed answer settles: the spend guard's side of a call, and reconciling what is pending.

The guard (:class:`~.policies.SpendGuard`) holds the numbers; this decides what a call that
ended counts, and turns pending charges into billed ones from the service's generation records.

* An answer that says what it cost (``usage.cost``) counts that, success or not: a reply with
  text, a refusal or a tool call and no image, an error envelope beside ``usage``.
* An answer without ``cost`` counts as its reservation, and at least every image it carries at the
  reserved price per image (40 delivered images count as 40), as *pending*.
* A call that ended before its answer was read (a read timeout, the deadline, a cancel, a stream
  cut after the image arrived, a worker that was lost) was still billed by the service, which
  finishes the generation: its reservation stays as pending.
* Anything else (refused before sending, an error answer without usage, a connection that was
  never made) ended unbilled: its reservation is released.

Pending charges with a generation id are looked up with ``GET /generation?id=`` off the caller's
thread, each request under a short deadline, on a backoff (the record appears some time after
the answer: RooCodeInc/Roo-Code#915 and AbanteAI/LoCoDiff-bench#46 saw 404s for the first
seconds), for about two minutes; the billed ``total_cost`` then replaces the hold. One the service
never names (a read timeout before any header) cannot be looked up and stays pending.
:meth:`Ledger.reconcile` waits for it all, bounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._exceptions import ImageGenError, SpendLimitError
from .._wire.common import as_float
from .policies import Hold, Reservation, SpendGuard
from .threads import _FORKED, WORKERS

if TYPE_CHECKING:
    from .._results.result import ImageResult
    from .._wire.account import KeyInfo
    from .dispatch import Call
    from .transport import Transport

__all__ = ["FETCH_DEADLINE", "SCHEDULE", "Ledger", "Settlement", "SpendAccount", "billed_cost"]

#: Seconds after a hold (then between tries) before its generation record is fetched again.
SCHEDULE = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)
#: Seconds one ``GET /generation`` may take, retries included.
FETCH_DEADLINE = 5.0
#: Seconds between tries while someone waits in :meth:`Ledger.reconcile`.
_EAGER = 0.25


def billed_cost(record: Mapping[str, Any] | None) -> float | None:
    """What a generation record says was billed (``total_cost``, else ``usage``), or ``None``.

    Both are numbers in the spec's ``GenerationResponse`` (OpenRouterTeam/docs openapi at
    c26125a5); ``cancelled`` generations report what they cost too (0 when nothing was billed).
    """
    if record is None:
        return None
    cost = as_float(record.get("total_cost"))
    return cost if cost is not None else as_float(record.get("usage"))


@dataclass(eq=False)
class _Retry:
    due: float
    tries: int = 0


@dataclass
class Settlement:
    """One running call's side of the ledger; the send chain hands it the result."""

    ledger: Ledger
    held: Reservation
    call: Call
    model: str
    result: ImageResult | None = field(default=None, repr=False)

    def settle(self, result: ImageResult) -> None:
        """The answer arrived: what it cost settles when the call's context ends."""
        self.result = result


class Ledger:
    """Settles each call on ``guard`` and reconciles pending charges through ``fetch``.

    ``fetch(generation_id, deadline_seconds)`` returns the generation record (its ``data``) or
    raises an :class:`ImageGenError` (a 404 while the record is not there yet).
    """

    def __init__(self, guard: SpendGuard,
                 fetch: Callable[[str, float], Mapping[str, Any]]) -> None:
        self.guard = guard
        self._fetch = fetch
        self._reset()
        #: True in a copy of a client made by unpickling while a limit was set: the copy cannot
        #: share the ledger it came from, so it refuses to spend until given a limit of its own.
        self.detached = False
        _FORKED.add(self)

    def _reset(self) -> None:
        """No worker and no running call (also in a forked child: the parent's are not its own)."""
        self._cond = threading.Condition()
        self._running = 0
        self._due: dict[Hold, _Retry] = {}
        self._worker = False
        self._eager_until = 0.0

    # -- one call ---------------------------------------------------------------------------------

    @contextmanager
    def running(self, held: Reservation, call: Call, model: str) -> Iterator[Settlement]:
        """Around one call's send: settle whatever way it ends (an exit without a result too)."""
        self.check_attached()
        settlement = Settlement(self, held, call, model)
        with self._cond:
            self._running += 1
        try:
            yield settlement
        except BaseException as exc:
            self.failed(exc, held, call, model)
            raise
        else:
            if settlement.result is not None:
                self.answered(settlement.result, held, model)
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()

    def check_attached(self) -> None:
        """Refuse to spend in a copy that cannot report to the ledger it was copied from."""
        limit = self.guard.limit
        if self.detached and limit is not None:
            raise SpendLimitError(
                f"this client is a copy made in another process (a pickled client, as Dask and "
                f"process pools make), so it cannot share the spend ledger of the client it came "
                f"from, and its spend limit (${limit:.2f}) cannot hold here; nothing was sent. Run "
                "the batch from the original client with generate_many(..., executor=...), which "
                "keeps one ledger for every worker, or give this copy a budget of its own by "
                "setting its spend_limit again.")

    def answered(self, result: ImageResult, held: Reservation, model: str) -> None:
        """An answer with images: its cost, else its reservation and every image, pending."""
        if result.cost is not None:
            self.guard.settle(result.cost, held)
            return
        amount = max(held.amount, held.per_image * len(result.generated))
        self.watch(self.guard.hold(amount, result.id, model, held))

    def failed(self, exc: BaseException, held: Reservation, call: Call, model: str) -> None:
        """A call that raised: billed if its answer says so, pending if it may be, else free."""
        error = exc if isinstance(exc, ImageGenError) else None
        usage = error.usage if error is not None else None
        generation_id = (error.request_id if error is not None else None) or call.generation_id
        if usage is not None and usage.cost is not None:
            self.guard.settle(usage.cost, held)
            return
        unfinished = usage is None and (call.sent or (error is not None and error.unfinished))
        if usage is None and not unfinished:
            return  # refused, or answered with an error that carries no bill: nothing spent
        if error is not None:
            error.unfinished = unfinished
            error.request_id = generation_id
        self.watch(self.guard.hold(held.amount, generation_id, model, held))

    # -- reconciling --------------------------------------------------------------------------------

    def watch(self, hold: Hold) -> None:
        """Look the hold's generation record up in the background (nothing to do without an id)."""
        if hold.generation_id is None:
            return
        with self._cond:
            self._due[hold] = _Retry(time.monotonic() + SCHEDULE[0])
            self._start()

    def reconcile(self, timeout: float = 10.0) -> float:
        """Wait (at most ``timeout`` s) for running calls to settle and pending ones to resolve.

        Every pending charge with a generation id is looked up again now, every quarter second
        while this waits. Returns what is still pending (USD).
        """
        end = time.monotonic() + max(0.0, timeout)
        with self._cond:
            while self._running and (left := end - time.monotonic()) > 0:
                self._cond.wait(left)
            now = time.monotonic()
            self._eager_until = end
            for hold in self.guard.holds():
                if hold.generation_id is not None:
                    self._due[hold] = _Retry(now)
            self._start()
            self._cond.notify_all()
            while self._live() and (left := end - time.monotonic()) > 0:
                self._cond.wait(min(left, _EAGER))
        return self.guard.pending

    def _live(self) -> list[Hold]:
        return [hold for hold in self._due if not hold.resolved]

    def _start(self) -> None:
        """Start the background worker if none runs (call with the condition held)."""
        if not self._worker and self._due:
            self._worker = True
            WORKERS.submit(self._run)

    def _run(self) -> None:
        """Fetch the due records until nothing is left to look up."""
        while True:
            with self._cond:
                for hold in [h for h in self._due if h.resolved]:
                    del self._due[hold]
                if not self._due:
                    self._worker = False
                    self._cond.notify_all()
                    return
                now = time.monotonic()
                due = [hold for hold, retry in self._due.items() if retry.due <= now]
                if not due:
                    self._cond.wait(min(r.due for r in self._due.values()) - now)
                    continue
            for hold in due:
                self._try(hold)

    def _try(self, hold: Hold) -> None:
        """One look at a hold's record; resolve it, or try again later (or give up, pending)."""
        assert hold.generation_id is not None
        try:
            cost = billed_cost(self._fetch(hold.generation_id, FETCH_DEADLINE))
        except ImageGenError:  # not there yet (404), or the service is busy: later
            cost = None
        with self._cond:
            retry = self._due.get(hold)
            if cost is not None:
                self.guard.resolve(hold, cost)
                self._due.pop(hold, None)
            elif retry is not None:
                now = time.monotonic()
                if now < self._eager_until:  # someone is waiting: look often, count no try
                    retry.due = now + _EAGER
                elif (tries := retry.tries + 1) < len(SCHEDULE):
                    retry.tries = tries
                    retry.due = now + SCHEDULE[retry.tries]
                else:  # given up for now: it stays pending; reconcile() looks again
                    self._due.pop(hold, None)
            self._cond.notify_all()


class SpendAccount:
    """The spend figures of a client (``Client`` inherits them): limit, spent, settled, pending.

    A mixin over the client's :class:`SpendGuard` and :class:`Ledger`, so the client class reads
    as its send chain and this reads as its money.
    """

    _guard: SpendGuard
    _ledger: Ledger
    _transport: Transport

    def key_info(self) -> KeyInfo | None:
        """``GET /key``: the key's limit and what is left; ``None`` when the service does not say.

        Behind a classroom gateway that is the student's budget.
        """
        return self._transport.key_info()

    @property
    def spend_limit(self) -> float | None:
        """USD this client may spend in this session; ``None`` for no limit."""
        return self._guard.limit

    @spend_limit.setter
    def spend_limit(self, value: float | None) -> None:
        self._guard.limit = value
        self._ledger.detached = False  # a limit set here is this client's own

    @property
    def spent(self) -> float:
        """USD counted for this client's generations: :attr:`settled` plus :attr:`pending`.

        The spend limit is checked against it. Cache hits cost nothing. Setting it
        (``client.spent = 0``) starts the count again.
        """
        return self._guard.spent

    @spent.setter
    def spent(self, value: float) -> None:
        self._guard.spent = value

    @property
    def settled(self) -> float:
        """USD the service said it billed: answers' ``usage.cost`` and generation records."""
        return self._guard.settled

    @property
    def pending(self) -> float:
        """USD counted as spent but not billed yet, as far as this client knows.

        Calls that ended without an answer (a read timeout, the deadline, a cancel, a cut
        stream) and answers without ``cost``: the service may have billed them, so they count at
        their reservation (an answer, at least every image it carries) until the generation
        record says what they cost, looked up in the background; :meth:`reconcile` waits for it.
        """
        return self._guard.pending

    def reconcile(self, timeout: float = 10.0) -> float:
        """Wait, at most ``timeout`` seconds, until pending charges are settled; return the rest.

        Calls still running settle first; then every pending charge with a generation id is
        looked up (``GET /generation?id=``) until its record tells the billed cost. A call the
        service never named (a read timeout before any answer) stays pending.
        """
        return self._ledger.reconcile(timeout)
