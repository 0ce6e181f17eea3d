"""The local server's HTTP edges and housekeeping: bounded logs, IPv6, framing, timeouts, admin auth."""

from __future__ import annotations

import json
import socket
import time

import pytest
import requests
from wire_helpers import ipv6_loopback as _ipv6_loopback

from jupyter_imagegen._wire.sse import SSEDecoder
from jupyter_imagegen.server import LocalServer, RecordList, parse_fault_spec

MSG = [{"role": "user", "content": "a red circle"}]
BODY = {"model": "offline/sketch", "messages": MSG, "modalities": ["image", "text"],
        "image_config": {"image_size": "0.5K"}}


def _raw(server: LocalServer, data: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes, read until the server closes (or ``timeout``)."""
    data = data.replace(b"Host: x\r\n", b"Host: 127.0.0.1:%d\r\n" % server.port)  # Host is checked
    with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while piece := sock.recv(65536):
                chunks.append(piece)
        except TimeoutError:
            pass
    return b"".join(chunks)


def _split(response: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return status, headers, body


# -- bounded request / generation logs ------------------------------------------------------------


def test_request_and_generation_logs_are_bounded() -> None:
    with LocalServer(max_records=3) as server:
        url = f"{server.base_url}/chat/completions"
        costs = []
        for i in range(5):
            body = {**BODY, "messages": [{"role": "user", "content": f"{i} red circles"}]}
            r = requests.post(url, json=body, headers={"Authorization": "Bearer sk-or-v1-k"},
                              timeout=30)
            costs.append(r.json()["usage"]["cost"])
        assert len(server.requests) == 3
        assert server.requests.dropped == 2
        assert [r.json["messages"][0]["content"] for r in server.requests] == [
            "2 red circles", "3 red circles", "4 red circles"]
        # The key is still there to check (inside the bounded log), and never in a repr.
        assert server.requests[-1].header("Authorization") == "Bearer sk-or-v1-k"
        assert server.requests[-1].headers["Authorization"] == "Bearer sk-or-v1-k"
        assert "sk-or-v1-k" not in repr(server.requests)
        assert len(server.generations) == 3
        # What was billed stays billed: the key's usage counts the forgotten generations too.
        assert server.total_cost == pytest.approx(sum(costs))
        key = requests.get(f"{server.base_url}/key", timeout=10).json()["data"]
        assert key["usage"] == pytest.approx(sum(costs))


def test_request_log_bounds_body_bytes() -> None:
    with LocalServer(max_record_bytes=10_000) as server:
        for _ in range(4):
            requests.post(f"{server.base_url}/chat/completions", data=b"x" * 4_000, timeout=10)
        assert len(server.requests) == 2
        assert server.requests.nbytes == 8_000
        # One request larger than the budget is still kept (the newest is always there).
        requests.post(f"{server.base_url}/chat/completions", data=b"y" * 20_000, timeout=10)
        assert len(server.requests) == 1
        assert server.requests[-1].body == b"y" * 20_000


def test_default_limits() -> None:
    server = LocalServer()
    assert server.requests.maxlen == 1000
    assert server.generations.maxlen == 1000
    assert server.requests.max_bytes is not None
    assert server.request_timeout == 60.0
    unbounded = LocalServer(max_records=None, max_record_bytes=None)
    assert unbounded.requests.maxlen is None and unbounded.requests.max_bytes is None


def test_record_list_behaves_like_a_read_only_list() -> None:
    log: RecordList[int] = RecordList(3)
    for i in range(5):
        log.append(i)
    assert list(log) == [2, 3, 4]
    assert (log[0], log[-1], log[1:]) == (2, 4, [3, 4])
    with pytest.raises(IndexError):
        _ = log[3]
    with pytest.raises(ValueError, match="maxlen"):
        RecordList(0)


# -- IPv6 loopback --------------------------------------------------------------------------------


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_loopback() -> None:
    with LocalServer(host="::1") as server:
        assert server.base_url == f"http://[::1]:{server.port}/api/v1"
        r = requests.get(f"{server.base_url}/models", timeout=10)
        assert r.status_code == 200
        assert r.json()["data"]


# -- HTTP framing ---------------------------------------------------------------------------------


def test_http10_stream_is_close_delimited_not_chunked() -> None:
    with LocalServer() as server:
        body = json.dumps({**BODY, "stream": True}).encode()
        response = _raw(server, b"POST /api/v1/chat/completions HTTP/1.0\r\nHost: x\r\n"
                        b"Content-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%b" % (len(body), body))
    status, headers, payload = _split(response)
    assert status.split()[1] == "200"
    assert headers["content-type"] == "text/event-stream"
    assert "transfer-encoding" not in headers
    assert headers["connection"] == "close"
    events = SSEDecoder().feed(payload)  # plain SSE, no chunk-size lines in between
    assert events[-1].data == "[DONE]"
    chunks = [json.loads(e.data) for e in events if e.data and e.data != "[DONE]"]
    assert any(c["choices"][0]["delta"].get("images") for c in chunks if c.get("choices"))


def test_http11_stream_is_still_chunked(shared_server: LocalServer) -> None:
    r = requests.post(f"{shared_server.base_url}/chat/completions",
                      json={**BODY, "stream": True}, timeout=30)
    assert r.headers["Transfer-Encoding"] == "chunked"
    assert r.text.rstrip().endswith("data: [DONE]")


@pytest.mark.parametrize("method", ["PUT", "PATCH", "OPTIONS"])
def test_unsupported_methods_get_a_json_405(shared_server: LocalServer, method: str) -> None:
    r = requests.request(method, f"{shared_server.base_url}/chat/completions", json=BODY,
                         timeout=10)
    assert r.status_code == 405
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Allow"] == "GET, POST, DELETE"
    assert r.json() == {"error": {"code": 405, "message":
                                  f"Method {method} not allowed on /api/v1/chat/completions"}}


def test_head_gets_405_headers_without_a_body(shared_server: LocalServer) -> None:
    with requests.Session() as http:
        r = http.head(f"{shared_server.base_url}/models", timeout=10)
        assert r.status_code == 405
        assert r.headers["Content-Type"] == "application/json"
        assert r.content == b""
        # The connection is still in step: the next request on it works.
        assert http.get(f"{shared_server.base_url}/models", timeout=10).status_code == 200


def test_unknown_method_gets_a_json_501(shared_server: LocalServer) -> None:
    response = _raw(shared_server, b"BREW /api/v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body = _split(response)
    assert status.split()[1] == "501"
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"error": {"code": 501, "message": "Unsupported method ('BREW')"}}
    assert b"<html" not in response.lower()


def test_stdlib_errors_are_json_too(shared_server: LocalServer) -> None:
    response = _raw(shared_server, b"GET /api/v1/models HTTP/1.1\r\nHost: x\r\nX-Big: "
                    + b"a" * 70_000 + b"\r\n\r\n")
    status, headers, body = _split(response)
    assert status.split()[1] == "431"
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == 431


def test_short_body_does_not_pin_a_thread() -> None:
    with LocalServer(request_timeout=0.5) as server:
        started = time.monotonic()
        response = _raw(server, b"POST /api/v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Length: 100\r\n\r\n{}", timeout=10)
        assert time.monotonic() - started < 5
        status, headers, body = _split(response)
        assert status.split()[1] == "408"
        assert headers["connection"] == "close"
        assert "got 0 of 100 bytes" in json.loads(body)["error"]["message"]
        assert requests.get(f"{server.base_url}/models", timeout=10).status_code == 200


def test_request_timeout_is_validated() -> None:
    with pytest.raises(ValueError, match="request_timeout"):
        LocalServer(request_timeout=0)


# -- the fault admin route ------------------------------------------------------------------------


def test_fault_admin_needs_the_key_when_one_is_set() -> None:
    with LocalServer(api_key="sk-or-v1-admin") as server:
        admin = f"{server.base_url}/_faults"
        assert requests.post(admin, json={"kind": "429"}, timeout=10).status_code == 401
        assert requests.get(admin, timeout=10).status_code == 401
        assert requests.delete(admin, timeout=10).status_code == 401
        wrong = {"Authorization": "Bearer sk-or-v1-wrong"}
        assert requests.post(admin, json={"kind": "429"}, headers=wrong,
                             timeout=10).status_code == 401
        assert len(server.faults) == 0
        right = {"Authorization": "Bearer sk-or-v1-admin"}
        r = requests.post(admin, json={"kind": "429"}, headers=right, timeout=10)
        assert r.status_code == 200
        assert len(server.faults) == 1


def test_fault_admin_is_open_without_a_key(server: LocalServer) -> None:
    assert requests.post(f"{server.base_url}/_faults", json={"kind": "429"},
                         timeout=10).status_code == 200
    assert len(server.faults) == 1


# -- fault spec messages --------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "field"), [
    ("429,retry_after=abc", "retry_after"), ("slow,delay=soon", "delay"),
    ("429,times=often", "times"), ("429,times=0", "times"), ("stream-error,code=x", "code"),
    ("429,retry_after=nan", "retry_after"),
])
def test_bad_fault_fields_are_named(spec: str, field: str) -> None:
    with pytest.raises(ValueError, match=f"fault field '{field}'"):
        parse_fault_spec(spec)
