"""The redesigned core over HTTP: routing retries, spend, deadlines, caps and the key, on the wire."""

from __future__ import annotations

import gzip
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator

import pytest
import real_captures as real

import jupyter_imagegen as ig
from jupyter_imagegen.server import Fault, LocalServer

KEY = "sk-or-v1-test-key-0123456789"


def posts(server: LocalServer) -> list:
    return [r for r in server.requests if r.method == "POST"]


def test_wrong_endpoint_refusal_is_retried_once_on_the_other_api(client: ig.Client,
                                                                  server: LocalServer) -> None:
    text = real.WRONG_ENDPOINT_TEXT.replace("openai/gpt-image-2", "offline/quartet")
    server.faults.push(Fault("404", message=text, model="offline/quartet"))
    result = client.generate("four stars", "offline/quartet")
    assert [r.path for r in posts(server)] == ["/api/v1/chat/completions", "/api/v1/images"]
    assert result.params["api"] == "images" and result.image.size == (1024, 1024)
    client.generate("again", "offline/quartet")  # learnt: straight to the Image API
    assert [r.path for r in posts(server)][-1] == "/api/v1/images" and len(posts(server)) == 3


def test_an_explicit_api_is_not_second_guessed(client: ig.Client, server: LocalServer) -> None:
    server.faults.push(Fault("404", message=real.WRONG_ENDPOINT_TEXT, model="offline/quartet"))
    with pytest.raises(ig.NotFoundError) as info:
        client.generate("x", "offline/quartet", api="chat")
    assert info.value.code == "wrong_endpoint" and len(posts(server)) == 1


def test_image_only_models_go_to_the_image_api(client: ig.Client, server: LocalServer) -> None:
    client.generate("a poster", "offline/poster")
    (post,) = posts(server)
    assert post.path == "/api/v1/images" and post.json["prompt"] == "a poster"


def test_spend_limit_refuses_an_unpriceable_request_before_sending(server: LocalServer) -> None:
    with ig.Client(base_url=server.base_url, check_models=False, spend_limit=1.0) as c:
        with pytest.raises(ig.SpendLimitError, match="price of 'offline/sketch' is unknown"):
            c.generate("x", "offline/sketch")
        assert not posts(server)
    with ig.Client(base_url=server.base_url, check_models=False, spend_limit=1.0,
                   prices={"offline/sketch": 0.05}) as c:
        c.generate("x", "offline/sketch")
        assert 0 < c.spent < 0.045 and c.spent != 0.05  # what the answer billed, not the estimate


def test_spend_limit_reserves_every_image_asked_for(server: LocalServer) -> None:
    model = "bytedance-seed/seedream-4.5"  # n up to 10 on the Image API
    with ig.Client(base_url=server.base_url, spend_limit=0.10) as c:
        price = c.price(model).usd
        assert price is not None and price > 0.01
        n = int(0.10 // price) + 1
        with pytest.raises(ig.SpendLimitError, match=f"{n} image"):
            c.generate("x", model, n=n)  # n x price > 0.10
        assert not posts(server)
        c.generate("x", model, n=n - 1)
        assert 0 < c.spent <= 0.10


def test_a_prompt_holding_the_key_is_never_sent(client: ig.Client, server: LocalServer) -> None:
    with pytest.raises(ig.InvalidInputError, match="contains your API key"):
        client.generate(f"print {KEY} please", "offline/sketch")
    assert not posts(server)


def test_the_key_is_in_no_traceback_local(client: ig.Client, server: LocalServer) -> None:
    server.faults.push(Fault("401"))
    with pytest.raises(ig.AuthenticationError) as info:
        client.generate("x", "offline/sketch")
    text = "".join(traceback.TracebackException.from_exception(
        info.value, capture_locals=True).format())
    assert "Authorization" in text or "_key" in text  # the locals were really captured
    assert KEY not in text and KEY[6:] not in text
    assert KEY not in repr(info.value.metadata) and KEY not in str(info.value)


def test_deadline_ends_an_endless_keepalive_stream(server: LocalServer) -> None:
    server.faults.push(Fault("slow", delay=30))
    with ig.Client(base_url=server.base_url, deadline=1.0) as c:
        started = time.perf_counter()
        with pytest.raises(ig.RequestTimeoutError, match="deadline"):
            c.generate("x", "offline/sketch", stream=True)
    assert time.perf_counter() - started < 10  # the 1 s deadline, not the 30 s answer


def test_deadline_ends_a_wait_for_headers(server: LocalServer) -> None:
    server.faults.push(Fault("slow", delay=30))
    with ig.Client(base_url=server.base_url, deadline=1.0) as c:
        started = time.perf_counter()
        with pytest.raises(ig.RequestTimeoutError):
            c.generate("x", "offline/sketch")
    assert time.perf_counter() - started < 10  # the 1 s deadline, not the 30 s answer


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], str]]:
    """A one-shot HTTP server on 127.0.0.1 whose answer a test writes byte by byte."""
    sockets: list[socket.socket] = []

    def start(answer: Callable[[socket.socket], None]) -> str:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        sockets.append(listener)

        def serve() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                conn.recv(65536)
                try:
                    answer(conn)
                except OSError:
                    pass
                finally:
                    conn.close()

        threading.Thread(target=serve, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}/api/v1"

    yield start
    for s in sockets:
        s.close()


def test_deadline_ends_a_one_byte_a_second_body(raw_server: Callable[..., str]) -> None:
    def drip(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 999\r\n\r\n")
        for _ in range(60):
            conn.sendall(b" ")
            time.sleep(0.2)

    base = raw_server(drip)
    with ig.Client(base_url=base, check_models=False, deadline=1.0, max_retries=0) as c:
        started = time.perf_counter()
        with pytest.raises(ig.RequestTimeoutError, match="deadline"):
            c.generate("x", "any/model")
    assert time.perf_counter() - started < 10  # the 1 s deadline, not the 30 s answer


@pytest.mark.parametrize(("api", "model"), [("chat", "offline/sketch"), ("images", "offline/poster")])
def test_a_body_cut_short_is_an_incomplete_answer_not_a_short_image(
        client: ig.Client, server: LocalServer, api: str, model: str) -> None:
    # The body is read without urllib3's decoder: the length check must still happen.
    server.faults.push(Fault("cut-stream", path="/images" if api == "images" else "/chat/completions"))
    with pytest.raises(ig.IncompleteStreamError, match="broke off"):
        client.generate("x", model, api=api)
    assert client.generate("x", model, api=api).image.size == (1024, 1024)


@pytest.mark.parametrize("length", ["Content-Length: 64", "Transfer-Encoding: chunked"])
def test_a_plain_body_cut_by_the_peer_raises(raw_server: Callable[..., str], length: str) -> None:
    def cut(conn: socket.socket) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{length}\r\n\r\n"
        conn.sendall(head.encode() + (b"20\r\n" if "chunked" in length else b"") + b'{"id": "x", ')
        conn.close()

    with ig.Client(base_url=raw_server(cut), check_models=False, max_retries=0) as c, \
            pytest.raises(ig.IncompleteStreamError):
        c.generate("x", "any/model")


def test_an_endless_line_is_capped_in_memory(raw_server: Callable[..., str]) -> None:
    def endless(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: ")
        for _ in range(200):
            conn.sendall(b"A" * 65536)

    base = raw_server(endless)
    with ig.Client(base_url=base, check_models=False, max_response_bytes=1024 * 1024,
                   max_retries=0) as c, pytest.raises(ig.ResponseError, match="larger than 1,048,576"):
        c.generate("x", "any/model", stream=True)


def test_a_gzip_bomb_is_not_inflated_past_the_cap(raw_server: Callable[..., str]) -> None:
    bomb = gzip.compress(b"{" + b" " * (64 * 1024 * 1024))

    def answer(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                     b"Content-Length: " + str(len(bomb)).encode() + b"\r\n\r\n" + bomb)

    base = raw_server(answer)
    with ig.Client(base_url=base, check_models=False, max_response_bytes=1024 * 1024,
                   max_retries=0) as c, pytest.raises(ig.ResponseError, match="larger than"):
        c.generate("x", "any/model")


def test_an_oversized_image_is_refused_before_decoding(client: ig.Client, server: LocalServer) -> None:
    with ig.Client(base_url=server.base_url, max_image_bytes=10_000) as c, \
            pytest.raises(ig.ImageDecodeError, match="image limit"):
        c.generate("x", "offline/sketch")


def test_a_result_keeps_its_request_and_edits_with_it(client: ig.Client, server: LocalServer) -> None:
    first = client.generate("a red circle", "offline/editor", aspect_ratio="16:9", seed=5)
    assert isinstance(first.request, ig.Request) and first.request.seed == 5
    second = first.edit("make it blue")
    body = posts(server)[-1].json
    assert second.request.aspect_ratio == "16:9" and second.request.prompt == "make it blue"
    assert len(second.request.images) == 1
    sent = body.get("input_references") or [p for p in body["messages"][-1]["content"]
                                            if p["type"] == "image_url"]
    assert len(sent) == 1


def test_a_key_echoed_into_error_metadata_is_redacted(client: ig.Client, server: LocalServer) -> None:
    server.faults.push(Fault("400", metadata={"raw": f"upstream said: Authorization: Bearer {KEY}",
                                              "echo": [{"key": KEY}]}))
    with pytest.raises(ig.BadRequestError) as info:
        client.generate("x", "offline/sketch")
    assert KEY not in repr(info.value.metadata) and KEY not in str(info.value)
    assert "[redacted]" in info.value.metadata["raw"]


def test_verbose_tracebacks_show_no_key(client: ig.Client, server: LocalServer) -> None:
    from IPython.utils.capture import capture_output
    from magic_helpers import shell_bound_to

    server.faults.push(Fault("slow", delay=30))
    for ip in shell_bound_to(client):
        ip.run_line_magic("xmode", "Verbose")
        ip.run_line_magic("config", "ImageGenMagics.short_errors = False")  # the full traceback
        try:
            ip.user_ns.update(client=client, threading=threading)
            with capture_output() as captured:
                # A cancel from another thread stands in for the kernel interrupt.
                ip.run_cell("cancel = threading.Event(); threading.Timer(0.5, cancel.set).start()\n"
                            "client.generate('x', 'offline/sketch', cancel=cancel)")
        finally:
            ip.run_line_magic("xmode", "Context")
        shown = captured.stdout + captured.stderr + "".join(str(o.data) for o in captured.outputs)
        assert "CancelledError" in shown and "_in_thread" in shown  # a verbose traceback was shown
        assert KEY not in shown and KEY[8:] not in shown


def test_offline_image_api_results_say_their_price_is_simulated(client: ig.Client,
                                                               server: LocalServer) -> None:
    # Image API answers carry no provider (real ones: created, data, usage), so the label cannot
    # come from the answer; an offline/ model is the local renderer's own.
    result = client.generate("a poster", "offline/poster", api="images")
    assert result.provider is None and result.offline
    assert "simulated $" in result.caption()
    real_id = client.generate("x", "google/gemini-2.5-flash-image", api="images")
    assert not real_id.offline  # a real model id on an unmarked client: nothing to claim


@pytest.mark.parametrize("streamed", [False, True])
def test_the_watchdog_cuts_a_blocked_read_without_closing_it_under_the_reader(
        raw_server: Callable[..., str], streamed: bool) -> None:
    """The watchdog fires in its own thread while the reader is inside ``http.client``.

    It used to close the response under the reader too, and now and then (on a loaded CI run)
    the reader, between a chunk's size line and its data, died of ``AttributeError: 'NoneType'
    object has no attribute 'read'``. It now only shuts the socket down: the reader's file
    stays whole, its blocked read returns at once, and it ends in the kit's own error.
    """
    import requests

    from jupyter_imagegen._core.reading import _shutdown, iter_events, read_body

    def drip(conn: socket.socket) -> None:  # 30 s of body unless the read is cut
        head = (b"Transfer-Encoding: chunked\r\nContent-Type: text/event-stream" if streamed
                else b"Content-Length: 999999\r\nContent-Type: application/json")
        conn.sendall(b"HTTP/1.1 200 OK\r\n" + head + b"\r\n\r\n")
        for _ in range(3000):
            conn.sendall(b"5\r\n: ka\n\r\n" if streamed else b" " * 64)
            time.sleep(0.01)

    base = raw_server(drip)
    with requests.Session() as session:
        for attempt in range(4):
            response = session.get(f"{base}/x", stream=True, timeout=10)
            failures: list[BaseException] = []

            def read(response: requests.Response = response,
                     failures: list[BaseException] = failures) -> None:
                try:
                    if streamed:
                        list(iter_events(response, 1 << 20))
                    else:
                        read_body(response, 1 << 20)
                except BaseException as exc:  # checked below
                    failures.append(exc)

            closers: list[threading.Thread] = []

            def close(close: Callable[[], None] = response.close,
                      closers: list[threading.Thread] = closers) -> None:
                closers.append(threading.current_thread())
                close()

            response.close = close  # type: ignore[method-assign]
            reader = threading.Thread(target=read)
            reader.start()
            time.sleep(0.05 + attempt * 0.013)  # cut at a different point of the drip each time
            _shutdown(response)  # on this thread, standing in for the watchdog's
            reader.join(5)
            assert threading.current_thread() not in closers  # not closed under the reader
            assert not reader.is_alive()  # the cut ended the blocked read (the drip lasts 30 s)
            assert len(failures) == 1 and isinstance(failures[0], ig.IncompleteStreamError), failures
