"""The local server against web pages, and redirects against the client (issue 19).

Any page the user opens could make the local server generate with a "simple" cross-origin POST
(``text/plain``, a form: no preflight); a request naming two ``Host`` values was served; and the
client followed a listing's 302 to any host (a link-local metadata address, in the attack).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
import requests

import jupyter_imagegen as ig
from jupyter_imagegen.server import Fault, LocalServer

CHAT = {"model": "offline/sketch", "messages": [{"role": "user", "content": "a fox"}],
        "modalities": ["image", "text"]}
IMAGES = {"model": "offline/poster", "prompt": "a fox", "resolution": "512"}


def _post(server: LocalServer, path: str, headers: dict[str, str]) -> requests.Response:
    body = json.dumps(CHAT if path == "/chat/completions" else IMAGES)
    return requests.post(f"{server.base_url}{path}", data=body, headers=headers, timeout=30)


@pytest.mark.parametrize("path", ["/chat/completions", "/images"])
def test_spending_routes_take_json_bodies_only(server: LocalServer, path: str) -> None:
    for kind in ("text/plain", "application/x-www-form-urlencoded",
                 "multipart/form-data; boundary=x", None):
        answer = _post(server, path, {"Content-Type": kind} if kind else {})
        assert answer.status_code == 415, kind
        assert "application/json" in answer.json()["error"]["message"]
    assert len(server.generations) == 0  # nothing generated, nothing billed
    ok = _post(server, path, {"Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 200 and len(server.generations) == 1


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"}, {"Origin": "null"},
    {"Origin": "http://localhost:1"},  # another port of this machine is another origin
    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
], ids=["foreign", "null", "other-port", "cross-site", "same-site"])
def test_other_origins_pages_are_refused(server: LocalServer, headers: dict[str, str]) -> None:
    for path in ("/chat/completions", "/images"):
        answer = _post(server, path, {"Content-Type": "application/json", **headers})
        assert answer.status_code == 403, (path, headers)
        assert "origin" in answer.json()["error"]["message"]
    listing = requests.get(f"{server.base_url}/models", headers=headers, timeout=30)
    assert listing.status_code == 403
    assert len(server.generations) == 0


def test_this_servers_own_origin_and_non_browsers_are_served(server: LocalServer) -> None:
    own = f"http://127.0.0.1:{server.port}"
    for headers in ({"Origin": own}, {"Origin": own + "/"}, {"Sec-Fetch-Site": "same-origin"},
                    {"Sec-Fetch-Site": "none"}, {}):
        answer = _post(server, "/chat/completions", {"Content-Type": "application/json", **headers})
        assert answer.status_code == 200, headers


def _raw(server: LocalServer, head: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):  # the server closes after the answer
            answer += chunk
        return answer


@pytest.mark.parametrize("extra", [b"Host: 127.0.0.1:%d\r\n", b"Host: evil.example\r\n",
                                   b"Content-Length: 0\r\nContent-Length: 5\r\n"],
                         ids=["host-twice", "host-and-another", "length-twice"])
def test_a_header_named_twice_is_a_400(server: LocalServer, extra: bytes) -> None:
    answer = _raw(server, b"GET /api/v1/models HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%bConnection: "
                  b"close\r\n\r\n" % (server.port, extra.replace(b"%d", b"%d" % server.port)))
    assert answer.startswith(b"HTTP/1.1 400"), answer[:80]
    assert b"more than one" in answer


@pytest.fixture
def elsewhere() -> Iterator[LocalServer]:
    """Another origin on this machine: whatever it is asked for shows in its request log."""
    with LocalServer() as srv:
        yield srv


def test_a_listing_redirect_to_another_origin_is_not_followed(server: LocalServer,
                                                              elsewhere: LocalServer) -> None:
    server.faults.push(Fault("redirect", message=f"{elsewhere.base_url}/models?x=1", path="*"),
                       times=None)
    with ig.Client(api_key="sk-or-v1-redirects", base_url=server.base_url) as client, \
            pytest.raises(ig.APIConnectionError) as info:
        client.models()
    assert info.value.status == 302
    assert f"http://127.0.0.1:{elsewhere.port}" in str(info.value) and "not followed" in str(info.value)
    assert len(elsewhere.requests) == 0  # never connected there


def test_a_redirect_to_a_metadata_address_connects_nowhere(server: LocalServer) -> None:
    server.faults.push(Fault("redirect", message="http://169.254.169.254/latest/meta-data/",
                             path="/models"))
    started = time.monotonic()
    with ig.Client(api_key="sk-or-v1-redirects", base_url=server.base_url,
                   timeout=(5.0, 5.0)) as client, \
            pytest.raises(ig.APIConnectionError, match=r"169\.254\.169\.254"):
        client._transport.get_json("models")
    assert time.monotonic() - started < 3.0  # no connect attempt waited out its timeout


def test_same_origin_listing_redirects_are_followed(server: LocalServer) -> None:
    server.faults.push(Fault("redirect", message="/api/v1/models?output_modalities=image",
                             path="/models"))
    with ig.Client(api_key="sk-or-v1-redirects", base_url=server.base_url) as client:
        assert "offline/sketch" in [m.id for m in client.models()]
    assert [r.path for r in server.requests].count("/api/v1/models") == 2


def test_a_redirected_generation_is_not_sent_again(server: LocalServer) -> None:
    server.faults.push(Fault("redirect", message="/api/v1/chat/completions"))
    with ig.Client(api_key="sk-or-v1-redirects", base_url=server.base_url) as client:
        with pytest.raises(ig.APIConnectionError, match="only reads are followed"):
            client.generate("a fox", "offline/sketch")
        assert client.spent == 0 and client.pending == 0
    assert sum(r.path.endswith("/chat/completions") for r in server.requests) == 1
