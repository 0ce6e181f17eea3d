"""What ``GET /key`` says is left, read by the client and shown by ``%imagegen config`` and the
widget: behind a classroom gateway, the student's budget."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from magic_helpers import run, shell_bound_to

import jupyter_imagegen as ig
from jupyter_imagegen._wire.account import KeyInfo, parse_key_info
from jupyter_imagegen.server import LocalServer


def test_key_info_is_read_leniently_and_said_plainly() -> None:
    # The example of OpenRouter's GetCurrentKeyResponse (@openrouter/sdk docs).
    info = parse_key_info({"data": {"label": "sk-or-v1-au7...890", "limit": 100,
                                    "limit_remaining": 74.5, "limit_reset": "monthly",
                                    "usage": 25.5}})
    assert info.left == 74.5 and info.limit == 100.0
    assert info.describe() == "$74.50 left of $100.00, resets monthly"  # a masked key: no label
    assert KeyInfo(label="alice", limit=1.0, usage=0.25).describe() == "$0.75 left of $1.00 (alice)"
    unlimited = parse_key_info({"data": {"label": "x", "limit": None, "usage": "junk"}})
    assert unlimited.left is None and unlimited.describe().startswith("no limit on this key")
    with pytest.raises(ig.ImageGenError):
        parse_key_info({"error": {"code": 401}})


def test_the_offline_server_has_no_limit(client: ig.Client) -> None:
    info = client.key_info()
    assert info is not None and info.limit is None and info.left is None


def test_no_answer_is_none_not_an_error(server: LocalServer) -> None:
    with ig.Client(base_url=server.base_url.replace("/api/v1", "/nothing"), api_key="k",
                   max_retries=0) as client:
        assert client.key_info() is None


# -- behind a gateway -----------------------------------------------------------------------------


@pytest.fixture
def gateway_client(tmp_path: Path) -> Iterator[ig.Client]:
    pytest.importorskip("starlette")
    from gateway_helpers import UPSTREAM_KEY, running_gateway

    from jupyter_imagegen.gateway import Ledger

    ledger = Ledger(str(tmp_path / "class.db"))
    token = ledger.add_student("alice", 1.0)
    with LocalServer(api_key=UPSTREAM_KEY) as upstream, running_gateway(upstream, ledger) as gw, \
            ig.Client(base_url=gw.base_url, api_key=token) as client:
        yield client
    ledger.close()


def test_config_shows_the_gateway_budget(gateway_client: ig.Client) -> None:
    assert gateway_client.key_info() == KeyInfo(label="alice", limit=1.0, limit_remaining=1.0,
                                                usage=0.0)
    for ip in shell_bound_to(gateway_client):
        before = {r[0]: r[1] for r in run(ip, "%imagegen config").result.result.rows}
        result = gateway_client.generate("a lighthouse", model="offline/sketch")
        after = {r[0]: r[1] for r in run(ip, "%imagegen config").result.result.rows}
    assert before["key limit"] == "$1.00 left of $1.00 (alice)"
    assert result.cost is not None
    assert after["key limit"] == f"${1.0 - result.cost:.2f} left of $1.00 (alice)"


def test_the_widget_shows_what_is_left(gateway_client: ig.Client) -> None:
    widget = ig.ImageGenWidget(client=gateway_client, model="offline/sketch")
    widget.wait_for_models(timeout=30)
    assert widget.key_left == "$1.00 left of $1.00 (alice)"
    result = widget.generate("a red lighthouse").result(timeout=60)
    assert result.cost is not None
    assert widget.key_left == f"${1.0 - result.cost:.2f} left of $1.00 (alice)"
    offline = ig.ImageGenWidget(client=ig.Client(base_url=gateway_client.base_url, api_key="no"))
    offline.wait_for_models(timeout=30)
    assert offline.key_left == ""  # a token the gateway does not know: it says nothing
