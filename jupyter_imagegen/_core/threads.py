"""Threads every call shares: reusable workers, and one watchdog for all open responses.

Why not a thread per need: a call that can be cancelled or has a deadline waits for its headers
in a worker (so the caller can give up at once) and reads its body under a watchdog (which shuts
the socket at the deadline). Starting those two threads for every call cost about 0.5 ms of a
20 ms generation, and with many calls in flight (``AsyncClient``, batches) it put dozens of
threads polling for the GIL beside the event loop. Here a worker is reused, and a new one starts
only when every worker is busy, so a request abandoned on cancel never holds up another; one
watchdog thread looks at every watched response twenty times a second, and sleeps when there is
nothing to watch. All are daemon threads: an abandoned request never delays interpreter exit.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Executor, Future
from concurrent.futures import wait as futures_wait
from typing import Any, TypeVar

__all__ = ["WATCHDOG", "WORKERS", "SharedWatchdog", "Watch", "WorkerExecutor", "Workers"]

T = TypeVar("T")

log = logging.getLogger("jupyter_imagegen")
_POLL = 0.05  # seconds between the watchdog's looks: how late a cancel or a deadline may act


class Workers:
    """An elastic pool of daemon threads that never makes the submitter wait.

    A task runs in an idle worker, else in a new one (up to ``max_workers``; beyond that it
    waits its turn). New threads are started by a spawner thread, never by ``submit``:
    ``Thread.start`` waits for the new thread to run, and with many threads busy that wait
    was the longest stall an event loop submitting work saw (20-35 ms for 16 requests).
    """

    def __init__(self, max_workers: int | None = None, idle_timeout: float = 60.0,
                 name: str = "jupyter-imagegen-request") -> None:
        self._max, self._idle_timeout, self._name = max_workers, idle_timeout, name
        self._reset()
        _FORKED.add(self)

    def _reset(self) -> None:
        """Start empty (also in a forked child, whose copies of the threads do not exist)."""
        self._lock = threading.Lock()
        self._tasks: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._queued = 0  # tasks put and not yet taken
        self._idle = 0  # workers waiting for a task
        self._workers = 0  # workers running or being started
        self._spawns = threading.Semaphore(0)
        self._spawner: threading.Thread | None = None

    def submit(self, task: Callable[[], None]) -> None:
        """Run ``task`` (which must not raise) in a worker."""
        with self._lock:
            self._tasks.put(task)
            self._queued += 1
            spawn = self._queued > self._idle and (self._max is None or self._workers < self._max)
            if spawn:
                self._workers += 1
                if self._spawner is None or not self._spawner.is_alive():
                    self._spawner = threading.Thread(target=self._spawn, daemon=True,
                                                     name=f"{self._name}-spawner")
                    self._spawner.start()
        if spawn:
            self._spawns.release()

    def _spawn(self) -> None:
        while True:
            self._spawns.acquire()
            threading.Thread(target=self._work, name=self._name, daemon=True).start()

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            try:
                task = self._tasks.get(timeout=self._idle_timeout)
            except queue.Empty:
                with self._lock:
                    self._idle -= 1
                    if self._queued > self._idle:  # a task came as the wait ended: take it
                        continue
                    self._workers -= 1
                    return
            with self._lock:
                self._idle -= 1
                self._queued -= 1
            task()


class WorkerExecutor(Executor):
    """:class:`Workers` as a ``concurrent.futures`` executor (for ``loop.run_in_executor``)."""

    def __init__(self, max_workers: int | None = None, name: str = "jupyter-imagegen") -> None:
        self._workers = Workers(max_workers, name=name)
        self._pending: set[Future[Any]] = set()
        self._closed = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        if self._closed:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future: Future[T] = Future()
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # handed to whoever awaits the future
                future.set_exception(exc)
            else:
                future.set_result(result)

        self._workers.submit(run)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True
        pending = list(self._pending)
        if cancel_futures:
            for future in pending:
                future.cancel()
        if wait:
            futures_wait(pending)


class Watch:
    """One watched response: ``fire()`` runs once, at ``deadline`` or when ``cancel`` is set."""

    def __init__(self, fire: Callable[[], None], deadline: float | None,
                 cancel: threading.Event | None) -> None:
        self.fired = False
        self._fire, self._deadline, self._cancel = fire, deadline, cancel

    def due(self, now: float) -> bool:
        late = self._deadline is not None and now >= self._deadline
        return late or (self._cancel is not None and self._cancel.is_set())

    def run(self) -> None:
        self.fired = True
        self._fire()


class SharedWatchdog:
    """One thread that fires every due :class:`Watch`."""

    def __init__(self, name: str = "jupyter-imagegen-watchdog") -> None:
        self._name = name
        self._reset()
        _FORKED.add(self)

    def _reset(self) -> None:
        """Start empty (also in a forked child: the parent's responses are not its own)."""
        self._watches: set[Watch] = set()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, fire: Callable[[], None], deadline: float | None,
              cancel: threading.Event | None) -> Watch:
        """Start watching; pass the result to :meth:`forget` when the response is read."""
        entry = Watch(fire, deadline, cancel)
        with self._wake:
            self._watches.add(entry)
            if self._thread is None or not self._thread.is_alive():  # first use, or after a fork
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._wake.notify()
        return entry

    def forget(self, entry: Watch) -> None:
        with self._wake:
            self._watches.discard(entry)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._watches:
                    self._wake.wait()
                now = time.monotonic()
                due = [w for w in self._watches if w.due(now)]
                self._watches.difference_update(due)
            for entry in due:
                try:
                    entry.run()
                except Exception as exc:  # one broken socket must not stop the watchdog
                    log.debug("the watchdog could not shut a response: %s", type(exc).__name__)
            time.sleep(_POLL)


def _after_fork() -> None:
    for owner in list(_FORKED):
        owner._reset()


#: Pools and watchdogs to empty in a forked child (``multiprocessing`` forks on Linux): its
#: copies of their counters would count threads that do not exist there, and a task handed to
#: such a "worker" would never run.
_FORKED: weakref.WeakSet[Any] = weakref.WeakSet()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)

#: The process's shared pool and watchdog (created threadless; threads start on first use).
WORKERS = Workers()
WATCHDOG = SharedWatchdog()
