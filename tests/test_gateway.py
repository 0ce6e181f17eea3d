"""The classroom gateway in front of the real local server: budgets, streams, limits, secrets."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from gateway_helpers import (
    CHAT_BODY,
    UPSTREAM_KEY,
    auth,
    authorization_headers,
    billed,
    post_json,
    running_gateway,
    upstream_paths,
)

import jupyter_imagegen as ig
from jupyter_imagegen.gateway import Gateway, GatewayConfig, Ledger, hash_token
from jupyter_imagegen.gateway._ledger import to_usd
from jupyter_imagegen.server import Fault, LocalServer


@pytest.fixture
def upstream() -> Iterator[LocalServer]:
    with LocalServer(api_key=UPSTREAM_KEY, latency=0.05) as srv:
        yield srv


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = Ledger(str(tmp_path / "ledger.db"))
    yield led
    led.close()


def _wait(predicate, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_the_kit_generates_through_the_gateway_and_the_bill_is_the_upstreams(
        upstream: LocalServer, ledger: Ledger) -> None:
    token = ledger.add_student("alice", 1.0)
    with running_gateway(upstream, ledger) as gw, \
            ig.Client(base_url=gw.base_url, api_key=token) as client:
        chat = client.generate("a red lighthouse", model="offline/sketch")
        streamed = client.generate("a blue lighthouse", model="offline/sketch", stream=True)
        images = client.generate("a green lighthouse", model="offline/quartet", api="images", n=2)
    assert chat.image.size == (1024, 1024) and streamed.images and len(images.images) == 2
    alice = ledger.student("alice")
    assert alice is not None and alice.calls == 3 and alice.reserved == 0
    assert to_usd(alice.spent) == pytest.approx(billed(upstream), abs=1e-9)
    assert to_usd(alice.spent) == pytest.approx(chat.cost + streamed.cost + images.cost, abs=1e-9)
    # The upstream saw the gateway's key, never the student's token.
    generation_auth = {v for r in upstream.requests if r.path.endswith(("/completions", "/images"))
                       for k, v in r.headers.items() if k.lower() == "authorization"}
    assert generation_auth == {f"Bearer {UPSTREAM_KEY}"}
    assert not any(token in v for v in authorization_headers(upstream))


def test_thirty_parallel_requests_never_pass_the_budget(tmp_path: Path) -> None:
    """One student, $0.25, 30 requests at once: what the upstream billed stays within it."""
    ledger = Ledger(str(tmp_path / "ledger.db"))
    token = ledger.add_student("bob", 0.25)
    with LocalServer(api_key=UPSTREAM_KEY, latency=0.4) as upstream, \
            running_gateway(upstream, ledger) as gw:
        url = f"{gw.base_url}/chat/completions"
        with ThreadPoolExecutor(30) as pool:
            answers = list(pool.map(lambda _: post_json(url, CHAT_BODY, token), range(30)))
        statuses = [a.status_code for a in answers]
        assert set(statuses) <= {200, 402}, statuses
        assert statuses.count(200) >= 2 and statuses.count(402) >= 1
        spent = billed(upstream)
        assert spent <= 0.25
        assert statuses.count(200) == len(upstream.generations)
        refusal = next(a.json() for a in answers if a.status_code == 402)
        assert refusal["error"]["code"] == 402 and "left of $0.25" in refusal["error"]["message"]
    bob = ledger.student("bob")
    assert bob is not None and bob.reserved == 0 and to_usd(bob.spent) == pytest.approx(spent)
    ledger.close()


def test_an_over_budget_request_is_refused_before_anything_is_sent(
        upstream: LocalServer, ledger: Ledger) -> None:
    token = ledger.add_student("carol", 0.01)
    with running_gateway(upstream, ledger) as gw:
        answer = post_json(f"{gw.base_url}/chat/completions", CHAT_BODY, token)
        assert answer.status_code == 402
        message = answer.json()["error"]["message"]
        assert "$0.0100 left of $0.01" in message and "Nothing was sent" in message
        with ig.Client(base_url=gw.base_url, api_key=token) as client, \
                pytest.raises(ig.InsufficientCreditsError, match="left of"):
            client.generate("a lighthouse", model="offline/sketch")
    assert "/api/v1/chat/completions" not in upstream_paths(upstream)
    assert upstream.generations == [] or len(upstream.generations) == 0


def test_an_upstream_error_releases_the_reservation(upstream: LocalServer, ledger: Ledger) -> None:
    token = ledger.add_student("dan", 1.0)
    upstream.faults.push(Fault("502"))
    upstream.faults.push(Fault("stream-error"))
    with running_gateway(upstream, ledger) as gw:
        failed = post_json(f"{gw.base_url}/chat/completions", CHAT_BODY, token)
        assert failed.status_code == 502 and failed.json()["error"]["code"] == 502
        streamed = httpx.post(f"{gw.base_url}/chat/completions", headers=auth(token), timeout=30,
                              json={**CHAT_BODY, "stream": True})
        assert streamed.status_code == 200 and '"error"' in streamed.text
    dan = ledger.student("dan")
    assert dan is not None and dan.reserved == 0 and dan.spent == 0 and dan.calls == 0
    assert billed(upstream) == 0


def test_a_student_who_hangs_up_mid_stream_is_still_settled(ledger: Ledger) -> None:
    token = ledger.add_student("erin", 1.0)
    with LocalServer(api_key=UPSTREAM_KEY, latency=1.5, keepalive_interval=0.1) as upstream, \
            running_gateway(upstream, ledger) as gw:
        with httpx.stream("POST", f"{gw.base_url}/chat/completions", headers=auth(token),
                          json={**CHAT_BODY, "stream": True}, timeout=30) as answer:
            first = next(answer.iter_raw())
            assert b"OPENROUTER PROCESSING" in first
        # Hung up during the keep-alives; the gateway reads on to the bill.
        assert _wait(lambda: len(upstream.generations) == 1)
        assert _wait(lambda: (ledger.student("erin") or ledger.student("x")).reserved == 0)
    erin = ledger.student("erin")
    assert erin is not None and erin.calls == 1
    assert to_usd(erin.spent) == pytest.approx(billed(upstream)) and erin.spent > 0


def test_key_info_has_openrouters_shape_and_shows_only_ones_own(
        upstream: LocalServer, ledger: Ledger) -> None:
    alice = ledger.add_student("alice", 2.0)
    bob = ledger.add_student("bob", 0.5)
    with running_gateway(upstream, ledger) as gw:
        assert post_json(f"{gw.base_url}/chat/completions", CHAT_BODY, alice).status_code == 200
        mine = httpx.get(f"{gw.base_url}/key", headers=auth(alice)).json()["data"]
        theirs = httpx.get(f"{gw.base_url}/key", headers=auth(bob)).json()["data"]
        nobody = httpx.get(f"{gw.base_url}/key", headers=auth("sk-gw-not-a-token"))
        bare = httpx.get(f"{gw.base_url}/key")
        ledger.revoke("bob")
        revoked = httpx.get(f"{gw.base_url}/key", headers=auth(bob))
        refused = post_json(f"{gw.base_url}/chat/completions", CHAT_BODY, bob)
    # Fields of OpenRouter's GET /key (API reference "Get current API key"; @openrouter/sdk's
    # GetCurrentKeyResponse): label, limit, limit_remaining, limit_reset, usage (+ periods) ...
    for field in ("label", "limit", "limit_remaining", "limit_reset", "usage", "usage_daily",
                  "usage_weekly", "usage_monthly", "is_free_tier", "is_provisioning_key",
                  "include_byok_in_limit", "rate_limit"):
        assert field in mine
    assert mine["label"] == "alice" and mine["limit"] == 2.0
    assert mine["usage"] == pytest.approx(billed(upstream)) and mine["usage"] > 0
    assert mine["limit_remaining"] == pytest.approx(2.0 - mine["usage"])
    assert theirs == {**theirs, "label": "bob", "usage": 0.0, "limit": 0.5, "limit_remaining": 0.5}
    assert nobody.status_code == 401 and bare.status_code == 401
    assert bare.json()["error"]["message"] == "No auth credentials found"
    assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]["message"]
    assert refused.status_code == 401


def test_tokens_are_stored_hashed(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    ledger = Ledger(str(path))
    token = ledger.add_student("frank", 1.0)
    ledger.close()
    raw = path.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("ledger.db-*"))
    assert token.encode() not in raw and token[6:20].encode() not in raw
    assert hash_token(token).encode() in raw


def test_generation_lookups_show_only_ones_own(upstream: LocalServer, ledger: Ledger) -> None:
    alice = ledger.add_student("alice", 1.0)
    bob = ledger.add_student("bob", 1.0)
    with running_gateway(upstream, ledger) as gw:
        answer = post_json(f"{gw.base_url}/chat/completions", CHAT_BODY, alice)
        gen_id = answer.json()["id"]
        own = httpx.get(f"{gw.base_url}/generation", params={"id": gen_id}, headers=auth(alice))
        other = httpx.get(f"{gw.base_url}/generation", params={"id": gen_id}, headers=auth(bob))
    assert own.status_code == 200 and own.json()["data"]["id"] == gen_id
    assert other.status_code == 404 and gen_id in other.json()["error"]["message"]


def test_unknown_prices_and_barred_models_are_refused_before_sending(
        upstream: LocalServer, ledger: Ledger) -> None:
    token = ledger.add_student("gina", 1.0)
    with running_gateway(upstream, ledger, models=frozenset({"offline/sketch"})) as gw:
        barred = post_json(f"{gw.base_url}/chat/completions",
                           {**CHAT_BODY, "model": "offline/poster"}, token)
        listing = httpx.get(f"{gw.base_url}/models").json()["data"]
        no_model = post_json(f"{gw.base_url}/chat/completions",
                             {k: v for k, v in CHAT_BODY.items() if k != "model"}, token)
    with running_gateway(upstream, ledger) as gw:
        unknown = post_json(f"{gw.base_url}/chat/completions",
                            {**CHAT_BODY, "model": "openrouter/auto"}, token)
    assert barred.status_code == 403 and "not allowed" in barred.json()["error"]["message"]
    assert [m["id"] for m in listing] == ["offline/sketch"]
    assert no_model.status_code == 400
    assert unknown.status_code == 402 and "unknown" in unknown.json()["error"]["message"]
    assert "/api/v1/chat/completions" not in upstream_paths(upstream)


def test_the_local_servers_limits_hold_at_the_gateway(upstream: LocalServer, ledger: Ledger) -> None:
    token = ledger.add_student("hal", 5.0)
    with running_gateway(upstream, ledger, max_body_bytes=2000, read_timeout=1.0) as gw:
        big = post_json(f"{gw.base_url}/chat/completions",
                        {**CHAT_BODY, "pad": "x" * 5000}, token)
        host, port = gw.host, gw.port
        slow: bytes | str
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(b"POST /api/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                         b"Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 500\r\n\r\n{\"model\":" % (port, token.encode()))
            slow = b""
            while chunk := sock.recv(65536):
                slow += chunk
            slow = slow.decode("latin-1")
        rebound = httpx.get(f"{gw.base_url}/models", headers={"Host": "evil.example:80"})
    assert big.status_code == 413 and "too large" in big.json()["error"]["message"]
    assert slow.startswith("HTTP/1.1 408") and '"code":408' in slow.replace(" ", "")
    assert rebound.status_code == 403
    assert "/api/v1/chat/completions" not in upstream_paths(upstream)


def test_only_json_bodies_are_taken_as_the_local_server_takes_them(upstream: LocalServer,
                                                                   ledger: Ledger) -> None:
    token = ledger.add_student("ivy", 5.0)
    with running_gateway(upstream, ledger) as gw:
        answers = [httpx.post(f"{gw.base_url}/chat/completions", content=json.dumps(CHAT_BODY),
                              headers={**auth(token), **({"Content-Type": kind} if kind else {})})
                   for kind in ("text/plain", "application/x-www-form-urlencoded", None)]
        fine = httpx.post(f"{gw.base_url}/chat/completions", content=json.dumps(CHAT_BODY),
                          headers={**auth(token), "Content-Type": "application/json; charset=utf-8"},
                          timeout=30)
    assert [a.status_code for a in answers] == [415, 415, 415]
    assert "application/json" in answers[0].json()["error"]["message"]
    assert fine.status_code == 200, fine.text
    assert upstream_paths(upstream).count("/api/v1/chat/completions") == 1  # only the JSON one


def test_connections_over_the_cap_get_a_json_503(ledger: Ledger) -> None:
    token = ledger.add_student("ivy", 5.0)
    with LocalServer(api_key=UPSTREAM_KEY, latency=1.0) as upstream, \
            running_gateway(upstream, ledger, max_connections=2) as gw:
        url = f"{gw.base_url}/chat/completions"
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: post_json(url, CHAT_BODY, token), range(6)))
    statuses = sorted(a.status_code for a in answers)
    assert 503 in statuses and 200 in statuses
    busy = next(a for a in answers if a.status_code == 503)
    assert busy.json()["error"]["code"] == 503 and busy.headers["retry-after"] == "1"


class _EchoingUpstream(BaseHTTPRequestHandler):
    """An upstream that repeats the key it was sent in its errors (as a careless proxy might).

    Its listings are the local server's, so the gateway prices the request and sends it.
    """

    listings = ""

    def do_GET(self) -> None:
        real = httpx.get(self.listings + self.path.removeprefix("/api/v1"))
        self._answer(real.status_code, real.json())

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(400, {"error": {"code": 400, "message": "bad key: "
                                     + self.headers.get("Authorization", "")}})

    def _answer(self, status: int, obj: object) -> None:
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_the_upstream_key_never_reaches_a_student(upstream: LocalServer, ledger: Ledger,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    _EchoingUpstream.listings = upstream.base_url
    echo = ThreadingHTTPServer(("127.0.0.1", 0), _EchoingUpstream)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    token = ledger.add_student("jo", 1.0)
    config = GatewayConfig(upstream=f"http://127.0.0.1:{echo.server_address[1]}/api/v1",
                           upstream_key=UPSTREAM_KEY)
    assert UPSTREAM_KEY not in repr(config)
    try:
        with Gateway(config, ledger) as gw:
            answer = post_json(f"{gw.base_url}/chat/completions", CHAT_BODY, token)
            key = httpx.get(f"{gw.base_url}/key", headers=auth(token))
    finally:
        echo.shutdown()
        echo.server_close()
    assert answer.status_code == 400
    assert "bad key: Bearer [gateway key hidden]" in answer.json()["error"]["message"]
    out, err = capfd.readouterr()
    for text in (answer.text, key.text, out, err, repr(config)):
        assert UPSTREAM_KEY not in text
    jo = ledger.student("jo")
    assert jo is not None and jo.spent == 0 and jo.reserved == 0


def test_a_settlement_that_fails_once_is_retried(upstream: LocalServer, ledger: Ledger,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    token = ledger.add_student("kim", 1.0)
    real = Ledger.settle
    failures = []

    def flaky(self: Ledger, *args: object, **kwargs: object) -> bool:
        if not failures:
            failures.append(1)
            raise RuntimeError("database went away for a moment")
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Ledger, "settle", flaky)
    with running_gateway(upstream, ledger) as gw:
        assert post_json(f"{gw.base_url}/chat/completions", CHAT_BODY, token).status_code == 200
        assert _wait(lambda: (ledger.student("kim") or ledger.student("?")).calls == 1)
    kim = ledger.student("kim")
    assert failures == [1] and kim is not None and kim.reserved == 0
    assert to_usd(kim.spent) == pytest.approx(billed(upstream))
