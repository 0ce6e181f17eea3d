"""``jupyter-imagegen gateway ...`` run for real in subprocesses: admin commands, serving, kill -9,
and several gateway processes sharing one ledger (SQLite file or PostgreSQL) under concurrency."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from gateway_helpers import (
    CHAT_BODY,
    UPSTREAM_KEY,
    GatewayProcess,
    billed,
    cli,
    cli_env,
    post_json,
    postgres_cluster,
    reset_postgres,
)

import jupyter_imagegen as ig
from jupyter_imagegen.gateway import Ledger
from jupyter_imagegen.gateway._ledger import to_usd
from jupyter_imagegen.server import LocalServer

pytestmark = pytest.mark.slow


def _token(db: str, name: str, budget: str) -> str:
    done = cli("gateway", "add", name, "--budget", budget, "--db", db)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def _wait(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return bool(predicate())


def test_the_admin_commands(tmp_path: Path) -> None:
    db = str(tmp_path / "class.db")
    token = _token(db, "alice", "1.50")
    assert token.startswith("sk-gw-") and len(token) == 6 + 64
    assert _token(db, "bob", "$2").startswith("sk-gw-")
    again = cli("gateway", "add", "alice", "--budget", "1", "--db", db)
    assert again.returncode == 1 and "exists already" in again.stderr
    assert cli("gateway", "budget", "alice", "3.25", "--db", db).returncode == 0
    assert cli("gateway", "revoke", "bob", "--db", db).returncode == 0
    missing = cli("gateway", "revoke", "nobody", "--db", db)
    assert missing.returncode == 1 and "no student named 'nobody'" in missing.stderr
    bad = cli("gateway", "budget", "alice", "lots", "--db", db)
    assert bad.returncode == 2 and "invalid amount" in bad.stderr
    report = json.loads(cli("gateway", "usage", "--json", "--db", db).stdout)
    rows = {r["name"]: r for r in report["students"]}
    assert rows["alice"] == {**rows["alice"], "budget": 3.25, "spent": 0.0, "reserved": 0.0,
                             "calls": 0, "revoked": False}
    assert rows["bob"]["revoked"] is True and report["class"]["spent"] == 0.0
    table = cli("gateway", "usage", "--db", db).stdout
    assert "alice" in table and "$3.25" in table and "(revoked)" in table
    assert token not in Path(db).read_bytes().decode("latin-1")


def test_serve_without_a_key_for_openrouter_refuses(tmp_path: Path) -> None:
    done = cli("gateway", "serve", "--db", str(tmp_path / "x.db"), "--port", "0", timeout=30)
    assert done.returncode == 1 and "OPENROUTER_API_KEY" in done.stderr


def test_serve_in_front_of_the_local_server(tmp_path: Path) -> None:
    db = str(tmp_path / "class.db")
    token = _token(db, "alice", "1")
    with LocalServer(api_key=UPSTREAM_KEY) as upstream:
        gateway = GatewayProcess(["--db", db, "--upstream", upstream.base_url, "--port", "0"],
                                 cli_env(OPENROUTER_API_KEY=UPSTREAM_KEY), tmp_path / "gw.log")
        try:
            with ig.Client(base_url=gateway.base_url, api_key=token) as client:
                result = client.generate("a lighthouse", model="offline/sketch")
            report = json.loads(cli("gateway", "usage", "--json", "--db", db).stdout)
        finally:
            gateway.stop()
        assert result.image.size == (1024, 1024)
        assert report["students"][0]["spent"] == pytest.approx(billed(upstream))
        assert billed(upstream) > 0
    assert UPSTREAM_KEY not in gateway.output() and token not in gateway.output()
    assert "export OPENROUTER_BASE_URL=" in gateway.output()


def test_serve_with_the_offline_upstream(tmp_path: Path) -> None:
    db = str(tmp_path / "class.db")
    token = _token(db, "alice", "1")
    gateway = GatewayProcess(["--db", db, "--upstream", "offline"], cli_env(), tmp_path / "gw.log")
    try:
        answer = post_json(f"{gateway.base_url}/chat/completions", CHAT_BODY, token)
        key = httpx.get(f"{gateway.base_url}/key", headers={"Authorization": f"Bearer {token}"})
    finally:
        gateway.stop()
    assert answer.status_code == 200 and answer.json()["usage"]["cost"] > 0
    assert key.json()["data"]["usage"] == pytest.approx(answer.json()["usage"]["cost"])


def test_kill_9_loses_no_settled_call_and_the_restart_releases_stale_holds(tmp_path: Path) -> None:
    db = str(tmp_path / "class.db")
    token = _token(db, "alice", "5")
    env = cli_env(OPENROUTER_API_KEY=UPSTREAM_KEY)
    with LocalServer(api_key=UPSTREAM_KEY, latency=0.2) as upstream:
        first = GatewayProcess(["--db", db, "--upstream", upstream.base_url], env,
                               tmp_path / "one.log")
        url = f"{first.base_url}/chat/completions"
        settled = [post_json(url, CHAT_BODY, token).json()["usage"]["cost"] for _ in range(3)]
        upstream.latency = 5.0
        pool = ThreadPoolExecutor(4)
        running = [pool.submit(post_json, url, CHAT_BODY, token, 30) for _ in range(4)]
        ledger = Ledger(db)

        def holds() -> int:
            return int(ledger.db.transaction(lambda cur: (
                cur.execute("SELECT COUNT(*) FROM gw_reservations"), cur.fetchone())[1][0]))

        assert _wait(lambda: holds() == 4)
        first.kill9()
        for future in running:
            with pytest.raises(httpx.HTTPError):
                future.result()
        pool.shutdown()
        alice = ledger.student("alice")
        assert alice is not None and alice.calls == 3 and alice.reserved > 0
        assert to_usd(alice.spent) == pytest.approx(sum(settled))
        upstream.latency = 0.0
        second = GatewayProcess(["--db", db, "--upstream", upstream.base_url], env,
                                tmp_path / "two.log")
        try:
            assert _wait(lambda: (ledger.student("alice") or ledger.student("?")).reserved == 0)
            after = post_json(f"{second.base_url}/chat/completions", CHAT_BODY, token)
        finally:
            second.stop()
    assert after.status_code == 200
    alice = ledger.student("alice")
    assert alice is not None and alice.calls == 4 and alice.reserved == 0
    assert to_usd(alice.spent) == pytest.approx(sum(settled) + after.json()["usage"]["cost"])
    assert "released 4 reservation(s)" in second.output()
    ledger.close()


def _two_gateways_share_a_budget(db: str, tmp_path: Path) -> None:
    """Two gateway processes on one ledger, 30 requests at once split across them."""
    token = _token(db, "bob", "0.30")
    env = cli_env(OPENROUTER_API_KEY=UPSTREAM_KEY)
    with LocalServer(api_key=UPSTREAM_KEY, latency=0.5) as upstream:
        one = GatewayProcess(["--db", db, "--upstream", upstream.base_url], env, tmp_path / "a.log")
        two = GatewayProcess(["--db", db, "--upstream", upstream.base_url], env, tmp_path / "b.log")
        try:
            urls = [f"{g.base_url}/chat/completions" for g in (one, two)] * 15
            with ThreadPoolExecutor(30) as pool:
                answers = list(pool.map(lambda u: post_json(u, CHAT_BODY, token), urls))
        finally:
            one.stop()
            two.stop()
        statuses = [a.status_code for a in answers]
        assert set(statuses) <= {200, 402} and statuses.count(200) >= 2, statuses
        assert billed(upstream) <= 0.30
        assert statuses.count(200) == len(upstream.generations)
        ledger = Ledger(db)
        bob = ledger.student("bob")
        ledger.close()
        assert bob is not None and bob.reserved == 0 and bob.calls == statuses.count(200)
        assert to_usd(bob.spent) == pytest.approx(billed(upstream))


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with postgres_cluster() as url:
        yield url


def test_two_gateways_on_one_sqlite_file_hold_the_budget(tmp_path: Path) -> None:
    _two_gateways_share_a_budget(str(tmp_path / "class.db"), tmp_path)


def test_two_gateways_on_one_postgresql_database_hold_the_budget(postgres: str,
                                                                 tmp_path: Path) -> None:
    reset_postgres(postgres)
    _two_gateways_share_a_budget(postgres, tmp_path)


def test_postgresql_reservations_are_atomic_under_contention(postgres: str) -> None:
    """Forty threads on eight connections race for one budget: exactly what fits is held."""
    reset_postgres(postgres)
    ledgers = [Ledger(postgres) for _ in range(8)]
    ledgers[0].add_student("cy", 1.0)
    student = ledgers[0].student("cy")
    assert student is not None
    with ThreadPoolExecutor(40) as pool:
        held = list(pool.map(lambda i: ledgers[i % 8].reserve(student.id, 70_000_000, "m", "chat"),
                             range(40)))
    granted = [h for h in held if not hasattr(h, "scope")]
    assert len(granted) == 14  # floor(1.00 / 0.07)
    cy = ledgers[1].student("cy")
    assert cy is not None and cy.reserved == 14 * 70_000_000 <= cy.budget
    for ledger in ledgers:
        ledger.close()
