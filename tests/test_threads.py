"""The shared worker pool and watchdog: threads are reused, never waited for, and fire on time."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from typing import Any

import pytest

import jupyter_imagegen as ig
from jupyter_imagegen._core.threads import SharedWatchdog, WorkerExecutor, Workers
from jupyter_imagegen.server import Fault, LocalServer


def test_an_idle_worker_is_reused() -> None:
    pool = Workers()
    names: list[int] = []
    for _ in range(5):
        done = threading.Event()
        pool.submit(lambda done=done: (names.append(threading.get_ident()), done.set()))
        assert done.wait(5)
        time.sleep(0.01)  # the worker goes back to idle after its task
    assert len(set(names)) == 1


def test_a_busy_pool_starts_a_worker_instead_of_queueing() -> None:
    pool = Workers()
    release = threading.Event()
    started = threading.Semaphore(0)

    def blocked() -> None:
        started.release()
        release.wait(10)

    for _ in range(3):
        pool.submit(blocked)
    for _ in range(3):  # all three run at once: none waits behind another
        assert started.acquire(timeout=5)
    release.set()


def test_idle_workers_end_after_their_timeout() -> None:
    pool = Workers(idle_timeout=0.1, name="test-idle-worker")
    done = threading.Event()
    pool.submit(done.set)
    assert done.wait(5)
    deadline = time.monotonic() + 5
    while any(t.name == "test-idle-worker" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the idle worker never ended"
        time.sleep(0.02)
    again = threading.Event()
    pool.submit(again.set)  # a new worker starts for the next task
    assert again.wait(5)


def test_the_watchdog_fires_at_the_deadline_and_on_cancel_once_each() -> None:
    dog = SharedWatchdog(name="test-watchdog")
    fired: list[str] = []
    cancel = threading.Event()
    late = dog.watch(lambda: fired.append("deadline"), time.monotonic() + 0.1, None)
    cancelled = dog.watch(lambda: fired.append("cancel"), None, cancel)
    forgotten = dog.watch(lambda: fired.append("forgotten"), time.monotonic() + 0.1, None)
    dog.forget(forgotten)
    time.sleep(0.3)
    assert fired == ["deadline"] and late.fired and not cancelled.fired
    cancel.set()
    time.sleep(0.2)
    assert fired == ["deadline", "cancel"] and not forgotten.fired


def test_many_calls_share_one_watchdog_thread(server: LocalServer) -> None:
    with ig.Client(base_url=server.base_url) as client:
        results: list[ig.ImageResult] = []
        threads = [threading.Thread(target=lambda: results.append(client.generate("x", "offline/sketch")))
                   for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(results) == 6 and all(r.image.size == (1024, 1024) for r in results)
    watchdogs = [t for t in threading.enumerate() if t.name == "jupyter-imagegen-watchdog"]
    assert len(watchdogs) == 1


def test_a_cancel_while_waiting_for_headers_returns_at_once(server: LocalServer) -> None:
    server.faults.push(Fault("slow", delay=30))
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    with ig.Client(base_url=server.base_url) as client:
        client.models()
        started = time.perf_counter()
        with pytest.raises(ig.CancelledError):
            client.generate("x", "offline/sketch", cancel=cancel)
        assert time.perf_counter() - started < 10  # at the cancel, not the 30 s the headers would take


def test_the_executor_runs_bounded_and_hands_back_results_and_errors() -> None:
    pool = WorkerExecutor(max_workers=2, name="test-bounded")
    release = threading.Event()
    running = threading.Semaphore(0)

    def hold(value: int) -> int:
        running.release()
        release.wait(10)
        return value

    futures = [pool.submit(hold, i) for i in range(3)]
    assert running.acquire(timeout=5) and running.acquire(timeout=5)
    assert not running.acquire(timeout=0.3)  # the third waits for one of the two workers
    assert sum(f.running() for f in futures) == 2
    release.set()
    assert [f.result(timeout=5) for f in futures] == [0, 1, 2]
    with pytest.raises(ZeroDivisionError):
        pool.submit(lambda: 1 / 0).result(timeout=5)
    pool.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(int)


def test_shutdown_cancels_what_has_not_started() -> None:
    pool = WorkerExecutor(max_workers=1, name="test-cancel")
    release = threading.Event()
    first = pool.submit(release.wait, 10)
    queued = pool.submit(int)
    time.sleep(0.1)
    pool.shutdown(wait=False, cancel_futures=True)
    assert queued.cancelled() and not first.cancelled()
    release.set()
    assert first.result(timeout=5) is True


def _generate_in_child(base_url: str, queue: Any) -> None:
    with ig.Client(base_url=base_url) as client:
        queue.put(client.generate("x", "offline/sketch").image.size)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_gets_its_own_workers_and_watchdog(server: LocalServer) -> None:
    # The parent's threads are busy or idle when it forks; the child's copies of the counters
    # would otherwise count workers that do not exist there, and its requests would never run.
    with ig.Client(base_url=server.base_url) as client:
        client.generate("x", "offline/sketch")  # the parent has idle workers and a watchdog
        context = multiprocessing.get_context("fork")
        results = context.Queue()
        child = context.Process(target=_generate_in_child, args=(server.base_url, results))
        child.start()
        child.join(30)
        assert child.exitcode == 0 and results.get(timeout=5) == (1024, 1024)
