"""``AsyncClient``: the core as coroutines, over HTTP against the local server."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from async_helpers import run_async
from magic_helpers import run, shell_bound_to

import jupyter_imagegen as ig
from jupyter_imagegen.server import Fault, LocalServer


def posts(server: LocalServer) -> list:
    return [r for r in server.requests if r.method == "POST"]


def test_gathered_generations_run_concurrently_and_decode(server: LocalServer) -> None:
    """Six gathered prompts are in flight at once: the server holds six connections together.

    (Counted, not timed: one after another, the pool would reuse a single connection.)
    """
    server.latency = 1.0
    httpd = server._httpd
    assert httpd is not None
    peak, done = 0, threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, httpd.active_connections)
            time.sleep(0.01)

    async def main() -> list[ig.ImageResult]:
        async with ig.AsyncClient(base_url=server.base_url) as client:
            await client.models()
            return await asyncio.gather(*(client.generate(f"shape {i}", "offline/sketch")
                                          for i in range(6)))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        results = run_async(main())
    finally:
        done.set()
        watcher.join()
    assert peak >= 6
    assert [r.prompt for r in results] == [f"shape {i}" for i in range(6)]
    assert all(r.image.size == (1024, 1024) for r in results)


def test_reading_and_decoding_never_run_on_the_event_loop(
        server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop stays free because the answer's work happens in workers, not on its thread.

    This checks where the work runs (which cannot flake on a busy machine); how long the
    loop stalls is a figure ``benchmarks/bench_async.py`` prints, not a timed assert.
    """
    from jupyter_imagegen._core import adapters
    from jupyter_imagegen._core import client as client_module

    threads: list[int] = []
    decode, parse = adapters.decode_payload, client_module.Client.send

    def recording_decode(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return decode(*args, **kwargs)

    def recording_send(self: Any, *args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return parse(self, *args, **kwargs)

    monkeypatch.setattr(client_module, "decode_payload", recording_decode)
    monkeypatch.setattr(client_module.Client, "send", recording_send)

    async def main() -> tuple[int, list[ig.ImageResult]]:
        async with ig.AsyncClient(base_url=server.base_url) as client:
            results = await asyncio.gather(*(client.generate(f"p{i}", "offline/sketch")
                                             for i in range(4)))
        return threading.get_ident(), results

    loop_thread, results = run_async(main())
    assert len(threads) == 8  # four sends, four decoded payloads: the patches were the ones used
    assert loop_thread not in threads
    assert all(r.generated[0].data.startswith(b"\x89PNG") for r in results)


def test_task_cancel_stops_the_request_and_its_retries(server: LocalServer) -> None:
    server.faults.push(Fault("slow", delay=30))

    async def main() -> float:
        async with ig.AsyncClient(base_url=server.base_url, max_retries=3) as client:
            await client.models()
            task = asyncio.create_task(client.generate("x", "offline/sketch"))
            await asyncio.sleep(0.3)
            started = time.perf_counter()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            took = time.perf_counter() - started
            await asyncio.sleep(0.5)
            return took

    assert run_async(main()) < 10  # at the cancel, not after the 30 s answer (a bound, not a speed)
    assert len(posts(server)) == 1  # no retry after the cancel


def test_streaming_is_an_async_iterator(server: LocalServer) -> None:
    async def main() -> list[str]:
        async with ig.AsyncClient(base_url=server.base_url) as client:
            return [event.kind async for event in client.stream("a cat", "offline/thinker")]

    kinds = run_async(main())
    assert kinds[-1] == "done" and "image" in kinds


def test_errors_and_batches_keep_their_types(server: LocalServer) -> None:
    server.faults.push(Fault("400", model="offline/webp"), times=None)

    async def main() -> ig.BatchResult:
        async with ig.AsyncClient(base_url=server.base_url) as client:
            with pytest.raises(ig.NotFoundError):
                await client.generate("x", "offline/nope")
            return await client.generate_many(["a", "b"], ["offline/sketch", "offline/webp"],
                                              concurrency=2)

    batch = run_async(main())
    assert [i.ok for i in batch] == [True, False, True, False]
    assert all(isinstance(i.error, ig.BadRequestError) for i in batch.errors)


def test_top_level_await_in_a_notebook_cell(client: ig.Client) -> None:
    def cell() -> Any:
        for ip in shell_bound_to(client):
            ip.user_ns["ig"] = ig
            return run(ip, "r = await ig.agenerate('a red circle', 'offline/sketch')\nr.image.size")
        return None

    done = _in_plain_thread(cell)  # IPython's own runner awaits the cell; no loop runs there
    assert done.result.success, done.stderr
    assert done.result.result == (1024, 1024)


def _in_plain_thread(work: Any) -> Any:
    box: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: box.update(value=work()))
    thread.start()
    thread.join(60)
    return box["value"]


def test_agenerate_keeps_one_wrapper_for_the_current_default(server: LocalServer) -> None:
    from jupyter_imagegen import _api as _default

    saved = _default._client
    first, second = (ig.Client(base_url=server.base_url) for _ in range(2))
    try:
        for client in (first, second, second):
            _default.set_default_client(client)
            assert run_async(ig.agenerate("x", "offline/sketch")).image.size == (1024, 1024)
            assert _default._async["wrapper"].sync is client and len(_default._async) == 1
        assert first.generate("x", "offline/sketch").image  # the old client still works
    finally:
        _default.set_default_client(saved)
        _default._async.clear()
        first.close()
        second.close()


def test_no_test_calls_asyncio_run_in_the_main_thread() -> None:
    """Playwright's loop stays in the main thread: ``asyncio.run`` there fails by file order."""
    from pathlib import Path

    here = Path(__file__).parent
    offenders = [str(p.relative_to(here)) for p in here.rglob("*.py")
                 if p.name != "async_helpers.py" and p != Path(__file__)
                 and "asyncio.run(" in p.read_text(encoding="utf-8")]
    assert offenders == [], f"use async_helpers.run_async instead of asyncio.run in {offenders}"
