"""The local server under abuse (issue 12): slow clients, too many connections, foreign Hosts,
cross-origin-style fault POSTs and remote binds."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from jupyter_imagegen.server import LocalServer


@pytest.fixture
def tight() -> Iterator[LocalServer]:
    with LocalServer(read_timeout=1.0, request_timeout=10.0, max_connections=4) as srv:
        yield srv


def _closed_within(sock: socket.socket, seconds: float, drip: bytes) -> float | None:
    """Send ``drip`` one byte every 0.2 s; the time at which the server hung up, or None."""
    started = time.monotonic()
    sock.settimeout(0.2)
    for i in range(int(seconds / 0.2)):
        try:
            sock.sendall(drip[i % len(drip):i % len(drip) + 1])
            if sock.recv(65536) == b"":
                return time.monotonic() - started
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - started
    return None


def _wait_idle(srv: LocalServer, seconds: float = 5.0) -> int:
    httpd = srv._httpd
    assert httpd is not None
    deadline = time.monotonic() + seconds
    while httpd.active_connections and time.monotonic() < deadline:
        time.sleep(0.05)
    return httpd.active_connections


def test_slow_headers_are_cut_at_the_read_deadline(tight: LocalServer) -> None:
    # A byte every 0.2 s never trips a 10 s socket timeout; the 1 s whole-request deadline does.
    with socket.create_connection(("127.0.0.1", tight.port)) as sock:
        sock.sendall(b"GET /api/v1/models HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % tight.port)
        took = _closed_within(sock, 6.0, b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    assert took is not None and took < 4.0
    assert _wait_idle(tight) == 0


def test_slow_body_is_cut_at_the_read_deadline(tight: LocalServer) -> None:
    with socket.create_connection(("127.0.0.1", tight.port)) as sock:
        sock.sendall(b"POST /api/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n" % tight.port)
        took = _closed_within(sock, 6.0, b" ")
    assert took is not None and took < 4.0


def test_idle_keepalive_connection_is_not_cut_by_the_read_deadline(tight: LocalServer) -> None:
    # The deadline starts with a request's first byte: a pooled idle connection is reused fine.
    with requests.Session() as session:
        assert session.get(f"{tight.base_url}/models", timeout=10).status_code == 200
        time.sleep(1.5)
        assert session.get(f"{tight.base_url}/models", timeout=10).status_code == 200


def test_connections_over_the_cap_get_a_quick_503(tight: LocalServer) -> None:
    held = [socket.create_connection(("127.0.0.1", tight.port)) for _ in range(4)]
    try:
        for sock in held:  # each holds a thread: a request line, then nothing for a while
            sock.sendall(b"GET /api/v1/models HTTP/1.1\r\n")
        time.sleep(0.3)
        started = time.monotonic()
        answer = requests.get(f"{tight.base_url}/models", timeout=30)
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == 503
        assert time.monotonic() - started < 10  # quick: not queued behind the held connections
    finally:
        for sock in held:
            sock.close()
    assert _wait_idle(tight) == 0
    assert requests.get(f"{tight.base_url}/models", timeout=10).status_code == 200


def test_many_concurrent_requests_under_the_cap_all_succeed() -> None:
    with LocalServer(max_connections=64) as srv:
        codes: list[int] = []

        def one() -> None:
            codes.append(requests.get(f"{srv.base_url}/models", timeout=30).status_code)

        threads = [threading.Thread(target=one) for _ in range(48)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert codes == [200] * 48


@pytest.mark.parametrize("host", ["evil.example:{port}", "evil.example", "127.0.0.1:1",
                                  "localhost.evil.example:{port}", "0.0.0.0:{port}"])
def test_foreign_host_is_refused(shared_server: LocalServer, host: str) -> None:
    value = host.format(port=shared_server.port)
    answer = requests.get(f"{shared_server.base_url}/models", headers={"Host": value}, timeout=10)
    assert answer.status_code == 403
    assert "Host" in answer.json()["error"]["message"]


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}",
                                  "[::1]:{port}"])
def test_loopback_hosts_are_served(shared_server: LocalServer, host: str) -> None:
    value = host.format(port=shared_server.port)
    answer = requests.get(f"{shared_server.base_url}/models", headers={"Host": value}, timeout=10)
    assert answer.status_code == 200


def test_dns_rebinding_post_cannot_queue_a_fault(server: LocalServer) -> None:
    rebinding = requests.post(f"{server.base_url}/_faults", data=json.dumps({"kind": "429"}),
                              headers={"Host": f"attacker.example:{server.port}",
                                       "Content-Type": "application/json"}, timeout=10)
    assert rebinding.status_code == 403
    assert server.faults.pending() == []


def test_fault_admin_requires_a_json_content_type(server: LocalServer) -> None:
    admin = f"{server.base_url}/_faults"
    for kind in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": kind} if kind else {}
        answer = requests.post(admin, data=json.dumps({"kind": "429"}), headers=headers, timeout=10)
        assert answer.status_code == 415, kind
        assert "application/json" in answer.json()["error"]["message"]
    assert server.faults.pending() == []
    ok = requests.post(admin, data=json.dumps({"kind": "429"}),
                       headers={"Content-Type": "application/json; charset=utf-8"}, timeout=10)
    assert ok.status_code == 200
    assert len(server.faults.pending()) == 1


def test_remote_bind_requires_a_key_and_warns(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="key"):
        LocalServer(host="0.0.0.0", allow_remote=True)
    srv = LocalServer(host="0.0.0.0", allow_remote=True, api_key="sekrit").start()
    try:
        err = capsys.readouterr().err
        assert "WARNING" in err and "reachable" in err and "sekrit" not in err
        # No Host check on a remote bind (its names are unknown); the key guards it instead.
        url = f"http://127.0.0.1:{srv.port}/api/v1/key"
        assert requests.get(url, timeout=10).status_code == 401
        assert requests.get(url, headers={"Authorization": "Bearer sekrit"},
                            timeout=10).status_code == 200
    finally:
        srv.stop()


def test_cli_remote_bind_without_key_is_refused(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_imagegen._cli import main

    def no_serving(self: LocalServer) -> None:
        raise KeyboardInterrupt  # bounded even where the bind is (wrongly) accepted

    monkeypatch.setattr(LocalServer, "serve_forever", no_serving)
    monkeypatch.setattr(LocalServer, "start", lambda self: self)
    monkeypatch.setattr(LocalServer, "base_url", property(lambda self: "http://0.0.0.0:1/api/v1"))
    assert main(["serve", "--host", "0.0.0.0", "--allow-remote"]) == 2
    assert "key" in capsys.readouterr().err


def test_mid_stream_disconnects_release_their_threads() -> None:
    with LocalServer(latency=1.0, keepalive_interval=0.1) as srv:
        body = json.dumps({"model": "offline/sketch", "stream": True,
                           "messages": [{"role": "user", "content": "a fox"}]}).encode()
        for _ in range(5):
            sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            sock.sendall(b"POST /api/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                         b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%b"
                         % (srv.port, len(body), body))
            assert sock.recv(100).startswith(b"HTTP/1.1 200")
            sock.close()
        assert _wait_idle(srv, 10.0) == 0
