"""Every billed answer settles: the spend guard against what the local server billed, over HTTP.

Each test compares the client's ledger (``spent``, ``settled``, ``pending``) with the server's own
billing records (``server.generations``, ``server.total_cost``), the way the issue's attacks did:
answers without an image, error answers with usage, unfinished calls (read timeouts, deadlines,
cuts, cancels) and answers without ``cost``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from async_helpers import run_async

import jupyter_imagegen as ig
from jupyter_imagegen._results.labels import money
from jupyter_imagegen.server import Fault, LocalServer

KEY = "sk-or-v1-test-key-0123456789"


def posts(server: LocalServer) -> list[Any]:
    return [r for r in server.requests if r.method == "POST"]


def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    """Wait for the server's side of a call to finish (it keeps generating after the client left)."""
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "the server did not finish in time"
        time.sleep(0.02)


# -- answers without an image ----------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("kind", ["no-image", "refusal", "tool-call"])
def test_a_billed_answer_without_an_image_counts(server: LocalServer, kind: str,
                                                 stream: bool) -> None:
    server.faults.push(Fault(kind))
    with ig.Client(base_url=server.base_url, api_key=KEY, spend_limit=1.0) as c:
        with pytest.raises(ig.NoImageError) as info:
            c.generate("a red fox", "offline/sketch", stream=stream)
        (record,) = server.generations  # the server billed the tokens
        error = info.value
        assert error.usage is not None and record.total_cost > 0
        assert error.cost == pytest.approx(record.total_cost)
        assert c.spent == pytest.approx(server.total_cost) and c.pending == 0
        assert c.settled == c.spent
    if kind == "refusal":
        assert "It refused: \"I can't create that image.\"" in str(error)
    if kind == "tool-call":
        assert error.finish_reason == "tool_calls"


def test_no_image_answers_count_without_a_limit_too(server: LocalServer) -> None:
    server.faults.push(Fault("no-image"), times=3)
    with ig.Client(base_url=server.base_url, api_key=KEY) as c:
        for _ in range(3):
            with pytest.raises(ig.NoImageError):
                c.generate("a fox", "offline/sketch")
        assert len(server.generations) == 3
        assert server.total_cost > 0 and c.spent == pytest.approx(server.total_cost)


def test_an_error_answer_with_usage_counts(server: LocalServer) -> None:
    server.faults.push(Fault("choice-error", code=502))
    with ig.Client(base_url=server.base_url, api_key=KEY, spend_limit=1.0) as c:
        with pytest.raises(ig.ProviderError) as info:
            c.generate("a fox", "offline/sketch")
        assert server.total_cost > 0 and info.value.cost == pytest.approx(server.total_cost)
        assert c.spent == pytest.approx(server.total_cost)
    assert len(posts(server)) == 1  # a billed error is never sent again


@pytest.mark.parametrize("api", ["chat", "images"])
def test_a_broken_image_in_a_billed_answer_counts(server: LocalServer, api: str) -> None:
    server.faults.push(Fault("bad-base64", path="/chat/completions" if api == "chat" else "/images"))
    with ig.Client(base_url=server.base_url, api_key=KEY, spend_limit=1.0) as c:
        with pytest.raises(ig.ImageDecodeError) as info:
            c.generate("a fox", "offline/sketch", api=api)
        assert server.total_cost > 0 and info.value.cost == pytest.approx(server.total_cost)
        assert c.spent == pytest.approx(server.total_cost) and c.pending == 0


def test_an_error_answer_without_usage_costs_nothing(server: LocalServer) -> None:
    server.faults.push(Fault("error-200"))
    server.faults.push(Fault("400"))
    with ig.Client(base_url=server.base_url, api_key=KEY, spend_limit=1.0) as c:
        for _ in range(2):
            with pytest.raises(ig.APIError) as info:
                c.generate("a fox", "offline/sketch")
            assert info.value.usage is None and not info.value.unfinished
        assert c.spent == 0 and not server.generations


def test_a_request_that_never_connected_costs_nothing() -> None:
    with LocalServer() as gone:
        url = gone.base_url  # a port nothing listens on once the server stops
    with ig.Client(base_url=url, api_key=KEY, spend_limit=1.0, check_models=False,
                   prices={"offline/sketch": 0.04}, max_retries=1, sleep=lambda _s: None) as c:
        with pytest.raises(ig.APIConnectionError) as info:
            c.generate("a fox", "offline/sketch")
        assert not info.value.unfinished and c.spent == 0


# -- unfinished calls ------------------------------------------------------------------------------


def test_a_passed_deadline_keeps_its_reservation_until_the_record_says(server: LocalServer) -> None:
    server.faults.push(Fault("slow", delay=1.0))
    with ig.Client(base_url=server.base_url, api_key=KEY, spend_limit=1.0, deadline=0.4) as c:
        price = c.quote("a fox", "offline/sketch").worst  # what the call reserved
        assert price is not None
        with pytest.raises(ig.RequestTimeoutError) as info:
            c.generate("a fox", "offline/sketch", stream=True)
        error = info.value
        assert error.unfinished and error.request_id and error.request_id.startswith("gen-")
        assert c.pending == pytest.approx(price) and c.spent == pytest.approx(price)
        assert c.reconcile(timeout=10) == 0  # the server finished the generation and billed it
        (record,) = server.generations
        assert record.id == error.request_id and record.to_json()["cancelled"] is True
        assert c.spent == c.settled == pytest.approx(record.total_cost)


def test_a_passed_deadline_before_any_answer_stays_pending(server: LocalServer) -> None:
    server.faults.push(Fault("slow", delay=0.8))
    with ig.Client(base_url=server.base_url, api_key=KEY, spend_limit=1.0, deadline=0.3) as c:
        price = c.quote("a fox", "offline/sketch").worst  # what the call reserved
        with pytest.raises(ig.RequestTimeoutError) as info:
            c.generate("a fox", "offline/sketch")  # no header arrived: no generation id
        assert info.value.unfinished and info.value.request_id is None
        wait_for(lambda: server.generations)
        assert c.reconcile(timeout=1) == pytest.approx(price)  # nothing names it: it stands
        assert c.spent == pytest.approx(price) and server.total_cost > 0


@pytest.mark.parametrize("api", ["chat", "images"])
def test_a_stream_cut_after_the_images_arrived_counts(server: LocalServer, api: str) -> None:
    model = "offline/quartet"  # four images on chat; n of them on the Image API (streamed)
    server.faults.push(Fault("cut-after-image", path="/chat/completions" if api == "chat"
                             else "/images"))
    seen: list[ig.StreamEvent] = []
    with ig.Client(base_url=server.base_url, api_key=KEY, spend_limit=1.0) as c:
        with pytest.raises(ig.IncompleteStreamError) as info:
            c.generate("four moons", model, api=api, n=2 if api == "images" else None,
                       stream=True, on_event=seen.append)
        assert [e.kind for e in seen].count("image") == (4 if api == "chat" else 2)
        assert info.value.unfinished is (api == "chat")  # the Image API sent its usage first
        c.reconcile(timeout=10)
        (record,) = server.generations
        assert record.id == info.value.request_id
        assert record.total_cost > 0 and c.spent == c.settled == pytest.approx(record.total_cost)


def test_a_cancel_event_keeps_the_reservation_until_the_record_says(server: LocalServer) -> None:
    server.faults.push(Fault("slow", delay=0.8))
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    with ig.Client(base_url=server.base_url, api_key=KEY, spend_limit=1.0) as c:
        price = c.quote("a fox", "offline/sketch").worst  # what the call reserved
        with pytest.raises(ig.CancelledError) as info:
            c.generate("a fox", "offline/sketch", stream=True, cancel=cancel)
        assert info.value.unfinished and c.pending == pytest.approx(price)
        assert c.reconcile(timeout=10) == 0
        assert server.total_cost > 0 and c.spent == pytest.approx(server.total_cost)


def test_a_cancel_before_sending_costs_nothing(server: LocalServer) -> None:
    cancel = threading.Event()
    cancel.set()
    with ig.Client(base_url=server.base_url, api_key=KEY, spend_limit=1.0) as c:
        with pytest.raises(ig.CancelledError) as info:
            c.generate("a fox", "offline/sketch", cancel=cancel)
        assert not info.value.unfinished and c.spent == 0 and not posts(server)


def test_a_cancelled_async_task_is_counted(server: LocalServer) -> None:
    server.faults.push(Fault("slow", delay=0.8))

    async def main() -> tuple[float, float]:
        async with ig.AsyncClient(base_url=server.base_url, api_key=KEY, spend_limit=1.0) as c:
            task = asyncio.ensure_future(c.generate("a fox", "offline/sketch", stream=True))
            # Cancel once the service has the request (under load it may take more than 0.3 s)
            for _ in range(100):
                if any(r.method == "POST" for r in server.requests):
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            left = await c.reconcile(timeout=10)
            return left, c.spent

    left, spent = run_async(main())
    (record,) = server.generations
    assert left == 0 and record.cancelled and record.total_cost > 0
    assert spent == pytest.approx(record.total_cost)


def test_a_stream_left_early_is_counted(server: LocalServer) -> None:
    with ig.Client(base_url=server.base_url, api_key=KEY, spend_limit=1.0) as c:
        for event in c.stream("four moons", "offline/quartet"):
            if event.kind == "image":
                break  # the consumer stops after the first image: the service bills all four
        assert c.pending > 0
        assert c.reconcile(timeout=10) == 0
        assert server.total_cost > 0 and c.spent == pytest.approx(server.total_cost)


# -- answers without cost ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["no-cost", "no-usage"])
@pytest.mark.parametrize("api", ["chat", "images"])
def test_an_answer_without_cost_is_reconciled_from_its_record(kind: str, api: str) -> None:
    with LocalServer(record_delay=1.0) as server, \
            ig.Client(base_url=server.base_url, api_key=KEY, spend_limit=1.0) as c:
        server.faults.push(Fault(kind, path="/chat/completions" if api == "chat" else "/images"))
        price = c.quote("a fox", "offline/sketch", api=api).worst  # what was reserved
        result = c.generate("a fox", "offline/sketch", api=api)
        assert result.cost is None and result.image.size == (1024, 1024)
        assert c.pending == pytest.approx(price) and c.settled == 0  # never free meanwhile
        assert c.reconcile(timeout=10) == 0
        (record,) = server.generations
        assert record.id == result.id and c.spent == pytest.approx(record.total_cost)


def test_answers_without_cost_are_reconciled_without_a_limit() -> None:
    with LocalServer() as server, ig.Client(base_url=server.base_url, api_key=KEY) as c:
        server.faults.push(Fault("no-usage"), times=2)
        for prompt in ("a fox", "a hen"):
            assert c.generate(prompt, "offline/sketch").cost is None
        assert c.reconcile(timeout=10) == 0
        assert len(server.generations) == 2 and server.total_cost > 0
        assert c.spent == pytest.approx(server.total_cost)


def test_multi_image_answers_without_cost_count_every_image() -> None:
    # The numbers: $0.04 per image, 10 answers of 4 images, no cost in any of them.
    with LocalServer(record_delay=3.0) as server, \
            ig.Client(base_url=server.base_url, api_key=KEY, check_models=False, spend_limit=2.0,
                      prices={"offline/quartet": 0.04}) as c:
        server.faults.push(Fault("no-cost"), times=10)
        batch = c.generate_many(["four moons"] * 10, "offline/quartet",  # one seed: rendered once
                                concurrency=4, progress=False, seed=1)
        assert sum(len(r.generated) for r in batch.results) == 40
        assert c.spent == pytest.approx(1.60) and c.pending == pytest.approx(1.60)
        assert c.reconcile(timeout=20) == 0
        assert c.spent == pytest.approx(server.total_cost)  # then what was really billed


# -- the attack: read timeouts under a limit ----------------------------------------------


def test_twelve_read_timeouts_under_a_limit_are_counted() -> None:
    with LocalServer(latency=0.5) as server, \
            ig.Client(base_url=server.base_url, api_key=KEY, spend_limit=0.20,
                      timeout=(5, 0.2), max_retries=0) as c:
        outcomes = []
        for i in range(12):
            try:
                c.generate(f"prompt {i}", "offline/poster")  # $0.04 per image
                outcomes.append("billed")
            except ig.RequestTimeoutError as exc:
                outcomes.append("timeout" if exc.unfinished else "timeout, marked finished")
            except ig.SpendLimitError:
                outcomes.append("refused")
        assert outcomes == ["timeout"] * 5 + ["refused"] * 7
        wait_for(lambda: len(server.generations) == 5)  # the service finished every one
        assert c.spent == pytest.approx(0.20) and c.spent >= server.total_cost
        assert server.total_cost <= 0.20 + 1e-9 and len(posts(server)) == 5


def test_setting_spent_starts_the_count_again() -> None:
    with LocalServer(record_delay=60) as slow, \
            ig.Client(base_url=slow.base_url, api_key=KEY, spend_limit=1.0) as c:
        slow.faults.push(Fault("no-cost"))
        c.generate("a fox", "offline/sketch")
        assert c.pending > 0
        c.spent = 0
        assert (c.spent, c.pending, c.settled) == (0, 0, 0)


def test_the_config_table_says_what_is_pending() -> None:
    from magic_helpers import run, shell_bound_to

    with LocalServer(record_delay=60) as server, \
            ig.Client(base_url=server.base_url, api_key=KEY, spend_limit=1.0) as c:
        server.faults.push(Fault("no-cost"))
        held = c.quote("a fox", "offline/sketch").worst
        c.generate("a fox", "offline/sketch")
        with_shell = shell_bound_to(c)
        shell = next(with_shell)
        try:
            rows = {r[0]: r[1] for r in run(shell, "%imagegen config").result.result.rows}
        finally:
            with_shell.close()
    assert held is not None
    assert rows["spent this session"] == f"{money(held)} ({money(held)} pending)"
