"""One call's running state, and the network step on another executor (a process pool, Dask).

Why the network step alone goes elsewhere: the spend limit is enforced by whoever dispatches.
A batch sent through a pickling executor used to unpickle a fresh client in every task, each
with its own ledger at $0.00, so a $0.20 limit let twenty $0.04 requests through. Now the driver
runs the whole send chain (replay cache, route, check, reserve, settle, keep) in its own threads
and ships only :func:`run_remote`, which sends one already-checked request and returns the result,
or raises the error with what the spend guard needs to settle it: the answer's ``usage``, or
``unfinished`` and the generation id when the call ended before its answer was read. The driver
settles from what comes back, so every executor that hands back a result or an exception reports
(``concurrent.futures`` futures and Dask's alike); a worker that is lost leaves the reservation
standing, never a free call.
"""

from __future__ import annotations

import concurrent.futures as cf
import pickle
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .._exceptions import CancelledError, ImageGenError
from .transport import Timeout

if TYPE_CHECKING:  # the client imports this module: type-only back-references
    from .._results.result import ImageResult
    from .client import Client
    from .model import Model
    from .request import Request

__all__ = ["Call", "Dispatcher", "dispatcher", "run_remote", "send_remote"]


class _Future(Protocol):
    """What a dispatched task gives back: ``concurrent.futures.Future`` and Dask's both do."""

    def add_done_callback(self, fn: Callable[[Any], object], /) -> object: ...
    def cancel(self) -> object: ...
    def result(self) -> Any: ...


class Dispatcher(Protocol):
    """An executor the network step can run on (``submit`` returning a future)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any: ...


@dataclass
class Call:
    """How one call is run (not what it asks for), and how far it got.

    ``sent`` is true while the request may be at the service with no complete answer read: the
    transport sets it before each try and clears it when a try is answered (or never connected);
    the reader clears it once the whole answer is in. A call that fails while ``sent`` may still
    be billed, so its reservation stays pending. ``generation_id`` is the answer's
    ``X-Generation-Id`` (or stream id), the key of its generation record.
    """

    sse: bool
    cancel: threading.Event | None
    timeout: Timeout
    started: float
    remote: Dispatcher | None = None
    sent: bool = False
    generation_id: str | None = None

    def mark_sent(self, out: bool) -> None:
        """The transport's report: a try is out (``True``) or it ended with an answer (``False``)."""
        self.sent = out


def dispatcher(executor: Any) -> Dispatcher:
    """The executor to ship network steps to: a Dask ``distributed.Client`` becomes its executor.

    Dask runs a task once per key, and by default the key is the hash of the task's arguments:
    two identical requests would be one generation, one bill and two results counted. So the
    executor submits with ``pure=False``, and :func:`send_remote` adds a nonce to every task,
    which keeps a ``get_executor()`` made without it (the README's recipe) from merging them too.
    """
    get_executor = getattr(executor, "get_executor", None)
    if callable(get_executor):
        executor = get_executor(pure=False)
    if not callable(getattr(executor, "submit", None)):
        from .._exceptions import InvalidInputError

        raise InvalidInputError(f"executor must have a submit() method (a concurrent.futures "
                                f"executor or a Dask client), not {type(executor).__name__}")
    dispatch: Dispatcher = executor
    return dispatch


def send_remote(client: Client, request: Request, model: Model | None, api: str,
                call: Call) -> ImageResult:
    """Send on ``call.remote`` and wait (a cancel stops the wait); the ledger stays here."""
    assert call.remote is not None
    future: _Future = call.remote.submit(run_remote, client, request, model, api, call.sse,
                                         call.timeout, uuid.uuid4().hex)
    call.sent = True  # from here on the request may reach the service
    done = threading.Event()
    future.add_done_callback(lambda _f: done.set())
    while not done.wait(0.05):
        if call.cancel is not None and call.cancel.is_set():
            call.sent = future.cancel() is not True  # cancelled before it started: not sent
            raise CancelledError("generation cancelled")
    try:
        result: ImageResult = future.result()
    except ImageGenError as exc:  # the worker's reading: billed, unfinished, or neither
        call.sent, call.generation_id = exc.unfinished, exc.request_id
        raise
    except cf.CancelledError:  # the executor dropped the task before it ran
        call.sent = False
        raise CancelledError("the executor cancelled the generation before it was sent") from None
    except pickle.PicklingError:  # the task never left: nothing was sent
        call.sent = False
        raise
    call.sent = False
    result._client, result.request = client, request
    return result


def run_remote(client: Client, request: Request, model: Model | None, api: str, sse: bool,
               timeout: Timeout, nonce: str = "") -> ImageResult:
    """The task an executor runs: send one checked request, no ledger of its own.

    A failure goes back with ``unfinished`` and the generation id when the request was out,
    so the driver keeps the reservation until the generation record says what it cost.
    ``nonce`` only makes each task unique (see :func:`dispatcher`).
    """
    call = Call(sse, None, timeout, time.perf_counter())
    steps = client._send_with_fallback(request, model, api, call)
    try:
        while True:
            next(steps)
    except StopIteration as stop:
        result: ImageResult = stop.value
        return result
    except ImageGenError as exc:
        if exc.usage is None and call.sent:
            exc.unfinished = True
            exc.request_id = exc.request_id or call.generation_id
        raise
