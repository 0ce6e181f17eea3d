"""Edges found in review: parallel spend, keeping paid results, odd keys, broken bodies."""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

import jupyter_imagegen as ig
from jupyter_imagegen import Usage
from jupyter_imagegen._wire.listings import closest_ids
from jupyter_imagegen._wire.sse import SSEDecoder
from jupyter_imagegen.server import Fault, LocalServer


def chat_posts(server: LocalServer) -> list:
    return [r for r in server.requests if r.method == "POST" and r.path.endswith("/chat/completions")]


def test_spend_limit_holds_for_parallel_requests() -> None:
    with LocalServer(port=0, latency=0.4) as srv, \
            ig.Client(base_url=srv.base_url, spend_limit=0.05) as c:
        batch = c.generate_many(["a", "b", "c", "d"], "offline/poster", concurrency=4, progress=False)
    assert len(batch.results) == 1 and c.spent <= 0.05
    assert sum(isinstance(i.error, ig.SpendLimitError) for i in batch.errors) == 3
    assert len([r for r in srv.requests if r.method == "POST"]) == 1


def test_a_failing_store_never_loses_the_paid_result(server: LocalServer, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    with ig.Client(base_url=server.base_url, store=blocker / "store") as c:
        result = c.generate("x", "offline/sketch")
    assert result.image.size == (1024, 1024)
    assert "could not keep the result in the image store" in caplog.text


def test_a_shared_store_sees_every_image_of_a_batch(server: LocalServer, tmp_path: Path) -> None:
    with ig.Client(base_url=server.base_url, store=tmp_path) as c:
        c.generate_many([f"prompt {i}" for i in range(12)], "offline/poster", concurrency=6,
                        progress=False)
        paths = [e.path for e in c.store]
    assert len(paths) == 12 and len(set(paths)) == 12
    assert len(list(ig.ImageStore(tmp_path))) == 12


def test_image_api_params_keep_no_prompt_or_image_payloads(client: ig.Client) -> None:
    r = client.generate("make it blue", "offline/editor", api="images",
                        images=Image.new("RGB", (64, 64), "red"))
    assert "prompt" not in r.params and "input_references" not in r.params
    assert r.params["input_images"] == 1


def test_cache_replays_offline_for_image_only_models(tmp_path: Path) -> None:
    with LocalServer(port=0) as srv:
        url = srv.base_url
        with ig.Client(base_url=url, cache=tmp_path) as c:
            first = c.generate("a lighthouse", "offline/poster")
            art = c.generate("a paper boat", "openai/gpt-image-1")
    with ig.Client(base_url=url, cache=tmp_path, max_retries=0) as c:  # the server is gone
        again = c.generate("a lighthouse", "offline/poster")
        boat = c.generate("a paper boat", "openai/gpt-image-1")
    assert again.cached and again.generated[0].data == first.generated[0].data
    assert boat.cached and boat.generated[0].data == art.generated[0].data


@pytest.mark.parametrize("cost", [float("nan"), float("inf"), -5, True, "0.1"])
def test_unusable_costs_are_ignored(cost: object) -> None:
    assert Usage.from_json({"cost": cost}).cost is None
    assert not math.isnan(Usage.from_json({"cost": 0.25}).cost or 0.0)


class TestKeysAndURLs:
    def test_surrounding_whitespace_is_stripped(self, server: LocalServer) -> None:
        with ig.Client(api_key="  sk-or-v1-abc\n", base_url=server.base_url) as c:
            c.generate("x", "offline/sketch")
        assert chat_posts(server)[0].headers["Authorization"] == "Bearer sk-or-v1-abc"

    @pytest.mark.parametrize("key", ["sk-or-v1-a\nb", "sk-or-v1-\u200babc", "sk-or-v1-é"])
    def test_broken_keys_are_refused_without_showing_them(self, key: str) -> None:
        with pytest.raises(ig.InvalidInputError) as info:
            ig.Client(api_key=key)
        assert key.strip() not in str(info.value) and "copy it again" in str(info.value)

    def test_base_url_needs_a_scheme(self) -> None:
        with pytest.raises(ig.InvalidInputError, match="http:// or https://"):
            ig.Client(base_url="localhost:8080/api/v1")


class _BrokenErrorServer(threading.Thread):
    """Answers every request with a 502 whose body breaks off halfway."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.hits = 0

    def run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                self.hits += 1
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 1000\r\n\r\n{\"error\": {\"code\": 5")


@pytest.fixture
def broken() -> Iterator[_BrokenErrorServer]:
    srv = _BrokenErrorServer()
    srv.start()
    yield srv
    srv.sock.close()


def test_a_broken_error_body_is_a_typed_retried_error(broken: _BrokenErrorServer) -> None:
    sleeps: list[float] = []
    with ig.Client(base_url=f"http://127.0.0.1:{broken.port}/api/v1", check_models=False,
                   max_retries=2, sleep=sleeps.append) as c, pytest.raises(ig.APIConnectionError):
        c.generate("x", "m/x")
    assert broken.hits == 3 and len(sleeps) == 2


def test_errors_do_not_chain_transport_exceptions(broken: _BrokenErrorServer) -> None:
    with ig.Client(api_key="sk-or-v1-secret-123456", base_url=f"http://127.0.0.1:{broken.port}/api/v1",
                   check_models=False, max_retries=0, timeout=(2, 0.01)) as c:
        try:
            c.generate("x", "m/x")
        except ig.ImageGenError as exc:
            chain = [exc.__context__, exc.__cause__]
        else:  # pragma: no cover
            pytest.fail("no error")
    assert all(e is None or isinstance(e, ig.ImageGenError) for e in chain)


def test_cancel_stops_retrying(server: LocalServer) -> None:
    server.faults.push(Fault("503", retry_after=0.3), times=None)
    cancel = threading.Event()
    with ig.Client(base_url=server.base_url, max_retries=10) as c:
        c.models()
        threading.Timer(0.45, cancel.set).start()
        started = time.perf_counter()
        with pytest.raises(ig.CancelledError):
            c.generate("x", "offline/sketch", cancel=cancel)
        tried = len(chat_posts(server))
        time.sleep(0.8)  # a worker still retrying would post twice more in this time
    assert time.perf_counter() - started < 10  # not the ten retries' waits
    assert 1 <= tried <= 3 and len(chat_posts(server)) == tried


def test_listing_without_data_skips_the_check(server: LocalServer,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with ig.Client(base_url=server.base_url) as c:
        monkeypatch.setattr(c.catalogue, "_fetch", lambda path, params=None: {"models": []})
        with pytest.raises(ig.ResponseError):
            c.models()
        body = c.build_request("x", "offline/sketch")
    assert body["modalities"] == ["image", "text"]  # no listing: the server decides


def test_suggestions_never_offer_the_router() -> None:
    assert "openrouter/auto" not in closest_ids("openrouter/aut", ["openrouter/auto", "a/b"])


class TestSSEEdges:
    def test_non_ascii_retry_digits_are_ignored(self) -> None:
        events = SSEDecoder().feed("retry: ²\ndata: x\n\n".encode())
        assert [(e.data, e.retry) for e in events] == [("x", None)]

    def test_an_event_without_data_is_not_dispatched(self) -> None:
        events = SSEDecoder().feed(b"event: ping\n\ndata: {}\n\n")
        assert [(e.event, e.data) for e in events] == [("message", "{}")]


def test_server_unreachable_generation_record_is_typed(server: LocalServer) -> None:
    with ig.Client(base_url=server.base_url) as c:
        result = c.generate("x", "offline/sketch")
        record = c.generation(result.id or "")
        assert record["id"] == result.id
        with pytest.raises(ig.NotFoundError):
            c.generation("gen-nope")
    assert json.dumps(record)


def test_input_images_are_normalised_once_per_call(server: LocalServer, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import jupyter_imagegen._core.inputs as inputs

    calls: list[int] = []
    real = inputs._one
    monkeypatch.setattr(inputs, "_one", lambda item, i: calls.append(i) or real(item, i))
    picture = Image.new("RGB", (64, 64), "red")
    with ig.Client(base_url=server.base_url, cache=tmp_path) as c:
        c.generate("edit", "offline/editor", images=[picture, picture])
        c.generate("edit", "offline/editor", images=[picture, picture], stream=True)  # a hit
    assert calls == [0, 1, 0, 1]
