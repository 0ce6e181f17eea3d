"""Fault injection on the local server: in-process, over HTTP, and as the wire shows it."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from wire_helpers import raw_stream

from jupyter_imagegen import ImageDecodeError
from jupyter_imagegen._wire.dataurl import decode_data_url
from jupyter_imagegen._wire.sse import SSEDecoder
from jupyter_imagegen.server import Fault, FaultQueue, LocalServer, parse_fault_spec

BODY = {"model": "offline/sketch", "messages": [{"role": "user", "content": "a red circle"}],
        "modalities": ["image", "text"]}


def post(server: LocalServer, stream: bool = False, **extra: Any) -> requests.Response:
    body = {**BODY, **extra}
    if stream:
        body["stream"] = True
    return requests.post(f"{server.base_url}/chat/completions", json=body, stream=stream,
                         timeout=30)


def data_events(blob: bytes) -> list[str]:
    decoder = SSEDecoder()
    return [e.data for e in decoder.feed(blob) if not e.is_comment]


@pytest.mark.parametrize(("status", "keys"), [
    (401, set()), (402, {"error_type"}), (404, set()), (408, {"error_type"}),
    (403, {"reasons", "flagged_input", "provider_name", "model_slug"}),
    (502, {"raw", "provider_name", "error_type"}), (503, {"raw", "provider_name", "error_type"}),
])
def test_status_faults(server: LocalServer, status: int, keys: set[str]) -> None:
    server.faults.push(Fault(str(status)))
    r = post(server)
    assert r.status_code == status
    err = r.json()["error"]
    assert err["code"] == status
    assert err["message"]
    assert keys <= set(err.get("metadata", {}))
    assert post(server).status_code == 200  # consumed once


def test_429_has_retry_after_header_and_metadata(server: LocalServer) -> None:
    server.faults.push(Fault("429", retry_after=2), times=2)
    for _ in range(2):
        r = post(server)
        assert r.status_code == 429
        assert r.headers["Retry-After"] == "2"
        meta = r.json()["error"]["metadata"]
        assert meta["retry_after_seconds"] == 2
        assert meta["headers"] == {"Retry-After": "2"}
    assert post(server).status_code == 200


def test_faults_match_path_and_model(server: LocalServer) -> None:
    server.faults.push(Fault("503", model="offline/poster"))
    server.faults.push(Fault("401", path="/models"))
    assert post(server).status_code == 200
    assert requests.get(f"{server.base_url}/models", timeout=10).status_code == 401
    assert post(server, model="offline/poster", modalities=["image"]).status_code == 503
    assert len(server.faults) == 0


def test_forever_until_cleared(server: LocalServer) -> None:
    server.faults.push(Fault("500"), times=None)
    assert [post(server).status_code for _ in range(3)] == [500, 500, 500]
    server.faults.clear()
    assert post(server).status_code == 200


def test_error_inside_200(server: LocalServer) -> None:
    server.faults.push(Fault("error-200"))
    r = post(server)
    assert r.status_code == 200
    assert r.json()["error"]["code"] == 502
    assert "choices" not in r.json()


def test_choice_error_inside_200(server: LocalServer) -> None:
    server.faults.push(Fault("choice-error", code=429, message="Rate limit exceeded"))
    body = post(server).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "error"
    assert choice["error"]["code"] == 429
    assert choice["error"]["message"] == "Rate limit exceeded"
    # The answer says what its tokens cost, so the server bills it (the client counts it too).
    (record,) = server.generations
    assert record.finish_reason == "error" and record.total_cost == body["usage"]["cost"] > 0


def test_mid_stream_error_chunk(server: LocalServer) -> None:
    server.faults.push(Fault("stream-error"))
    r = post(server, stream=True)
    assert r.status_code == 200
    data = data_events(raw_stream(r))
    last = json.loads(data[-1])
    assert "[DONE]" not in data
    assert last["error"]["code"] == 429
    assert last["error"]["metadata"]["error_type"] == "rate_limit_exceeded"
    assert last["choices"][0]["finish_reason"] == "error"
    assert not any(json.loads(d)["choices"][0]["delta"].get("images") for d in data[:-1])


def test_cut_stream_ends_mid_event(server: LocalServer) -> None:
    server.faults.push(Fault("cut-stream"))
    r = post(server, stream=True)
    blob = raw_stream(r)
    decoder = SSEDecoder()
    events = decoder.feed(blob)
    assert decoder.pending  # the image event never completed
    assert b"data: " in blob
    assert b'"images"' in blob.rsplit(b"\n\n", 1)[-1]
    assert all(e.data != "[DONE]" for e in events)
    assert not blob.endswith(b"0\r\n\r\n")
    server.faults.push(Fault("cut-stream"))
    cut = post(server, stream=True)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        b"".join(cut.iter_content(None))


def test_cut_non_streaming_body(server: LocalServer) -> None:
    server.faults.push(Fault("cut-stream"))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        post(server)
    assert post(server).status_code == 200  # the server keeps serving


def test_no_image_fault(server: LocalServer) -> None:
    server.faults.push(Fault("no-image"), times=2)
    message = post(server).json()["choices"][0]["message"]
    assert "images" not in message
    assert message["content"]
    data = data_events(raw_stream(post(server, stream=True)))
    assert data[-1] == "[DONE]"
    assert not any("images" in d for d in data)


def test_bad_base64_fault(server: LocalServer) -> None:
    server.faults.push(Fault("bad-base64"))
    url = post(server).json()["choices"][0]["message"]["images"][0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    with pytest.raises(ImageDecodeError, match="malformed base64"):
        decode_data_url(url)


def test_slow_fault_sends_keepalives_before_data() -> None:
    with LocalServer(keepalive_interval=0.05) as server:
        server.faults.push(Fault("slow", delay=0.4))
        started = time.monotonic()
        blob = raw_stream(post(server, stream=True))
        assert time.monotonic() - started >= 0.4
        head = blob.split(b"data: ", 1)[0]
        assert head.count(b": OPENROUTER PROCESSING") >= 6


def test_delay_on_non_streaming(server: LocalServer) -> None:
    server.faults.push(Fault("502", delay=0.3))
    started = time.monotonic()
    assert post(server).status_code == 502
    assert time.monotonic() - started >= 0.3


def test_faults_over_http(server: LocalServer) -> None:
    admin = f"{server.base_url}/_faults"
    r = requests.post(admin, json={"faults": [{"kind": "429", "retry_after": 1, "times": 2},
                                              {"spec": "no-image"}]}, timeout=10)
    assert r.status_code == 200
    assert len(r.json()["data"]["pending"]) == 2
    assert [post(server).status_code for _ in range(2)] == [429, 429]
    assert requests.get(admin, timeout=10).json()["data"]["pending"][0]["kind"] == "no-image"
    assert requests.delete(admin, timeout=10).json() == {"data": {"pending": []}}
    assert "images" in post(server).json()["choices"][0]["message"]
    bad = requests.post(admin, json={"kind": "teapot"}, timeout=10)
    assert bad.status_code == 400
    assert "unknown fault kind" in bad.json()["error"]["message"]


def test_fault_spec_syntax() -> None:
    fault, times = parse_fault_spec("429,retry_after=2,times=3,model=offline/sketch")
    assert fault == Fault("429", retry_after=2.0, model="offline/sketch")
    assert times == 3
    fault, times = parse_fault_spec("slow,delay=1.5,times=forever,path=*")
    assert fault.delay == 1.5
    assert fault.path == "*"
    assert times is None
    with pytest.raises(ValueError, match="unknown fault kind"):
        parse_fault_spec("999")
    with pytest.raises(ValueError, match="key=value"):
        parse_fault_spec("429,oops")
    with pytest.raises(ValueError, match="unknown fault field"):
        parse_fault_spec("429,colour=red")


def test_fault_queue_is_thread_safe_and_ordered() -> None:
    from concurrent.futures import ThreadPoolExecutor

    queue = FaultQueue()
    queue.push(Fault("429"), times=100)
    queue.push("503,times=50")
    with ThreadPoolExecutor(16) as pool:
        taken = list(pool.map(lambda _: queue.take("/chat/completions", None), range(200)))
    kinds = [f.kind if f else None for f in taken]
    assert kinds.count("429") == 100
    assert kinds.count("503") == 50
    assert kinds.count(None) == 50
    assert len(queue) == 0


# -- billing: what the server records for GET /generation ------------------------------------------


@pytest.mark.parametrize("kind", ["no-image", "refusal", "tool-call"])
def test_answers_without_an_image_are_billed(server: LocalServer, kind: str) -> None:
    server.faults.push(Fault(kind))
    body = post(server).json()
    message = body["choices"][0]["message"]
    assert "images" not in message and body["usage"]["cost"] > 0
    (record,) = server.generations
    assert record.total_cost == body["usage"]["cost"] and record.num_images == 0
    assert record.finish_reason == body["choices"][0]["finish_reason"]


@pytest.mark.parametrize("kind", ["no-cost", "no-usage"])
def test_answers_without_cost_are_still_billed(server: LocalServer, kind: str) -> None:
    server.faults.push(Fault(kind))
    body = post(server).json()
    if kind == "no-cost":  # OpenAI's own usage object: tokens, no cost
        assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    else:
        assert "usage" not in body
    record = requests.get(f"{server.base_url}/generation", params={"id": body["id"]},
                          timeout=30).json()["data"]
    assert record["total_cost"] > 0 and record["num_media_completion"] == 1


def test_a_stream_whose_client_left_is_billed_as_cancelled(server: LocalServer) -> None:
    server.faults.push(Fault("slow", delay=0.6))
    with requests.post(f"{server.base_url}/chat/completions", json={**BODY, "stream": True},
                       stream=True, timeout=30) as r:
        gen_id = r.headers["X-Generation-Id"]
        next(r.iter_content(64))  # the first keep-alive, then hang up
    deadline = time.monotonic() + 5
    while not server.generations and time.monotonic() < deadline:
        time.sleep(0.02)
    (record,) = server.generations
    assert record.id == gen_id and record.cancelled and record.total_cost > 0
    assert record.to_json()["cancelled"] is True


@pytest.mark.parametrize("stream", [False, True])
def test_a_cut_after_the_generation_is_billed(server: LocalServer, stream: bool) -> None:
    server.faults.push(Fault("cut-after-image"))
    r = post(server, stream=True) if stream else None
    with pytest.raises(requests.exceptions.RequestException):
        b"".join(r.iter_content(None)) if r is not None else post(server)
    deadline = time.monotonic() + 5  # the server bills once its handler is done
    while not server.generations and time.monotonic() < deadline:
        time.sleep(0.02)
    (record,) = server.generations
    assert record.num_images == 1 and not record.cancelled


def test_a_mid_stream_error_is_not_billed(server: LocalServer) -> None:
    server.faults.push(Fault("stream-error"))
    raw_stream(post(server, stream=True))
    assert not server.generations


def test_generation_records_appear_after_record_delay() -> None:
    with LocalServer(record_delay=0.5) as server:
        gen_id = post(server).json()["id"]
        url = f"{server.base_url}/generation"
        assert requests.get(url, params={"id": gen_id}, timeout=30).status_code == 404
        assert server.total_cost > 0  # billed at once, shown later
        time.sleep(0.6)
        assert requests.get(url, params={"id": gen_id}, timeout=30).json()["data"]["id"] == gen_id
    with pytest.raises(ValueError, match="record_delay"):
        LocalServer(record_delay=-1)
