"""The widget's picker on the kernel side (issue 19): listing the models reads no endpoints record
per model; the page asks for the prices of what it shows, at most a page at a time.

The page side (a bounded page of matches among 100,000 models) is
``tests/browser/test_widget_js.py::test_the_picker_shows_a_bounded_page_of_100k_models``.
"""

from __future__ import annotations

import time

import jupyter_imagegen as ig
from jupyter_imagegen._widget import data as wd
from jupyter_imagegen.server import LocalServer


def _endpoints(server: LocalServer) -> list[str]:
    return [r.path for r in server.requests if r.path.endswith("/endpoints")]


def _wait_for(widget: ig.ImageGenWidget, ids: set[str], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not ids <= set(widget.prices) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_listing_the_models_reads_no_endpoints_record_per_model(server: LocalServer) -> None:
    with ig.Client(api_key="sk-or-v1-picker", base_url=server.base_url) as client:
        widget = ig.ImageGenWidget(client=client, model="offline/poster")
        widget.wait_for_models(30)
        _wait_for(widget, {"offline/poster"})
        listed = sum(m["priced"] is False for m in widget.models)
        assert listed >= 40  # the Image API's models, none of them read yet
        assert _endpoints(server) == ["/api/v1/images/models/offline/poster/endpoints"]
        assert widget.prices["offline/poster"]["price"] == 0.04  # the one beside the box
        page = ["offline/sketch", "openai/gpt-image-1", "offline/quartet"]
        widget._handle_message(widget, {"type": "prices", "ids": page}, [])
        _wait_for(widget, set(page))
    assert len(_endpoints(server)) == 4  # the page shown, and nothing else
    assert widget.prices["openai/gpt-image-1"]["price_basis"] == "token estimate"
    assert all(widget.prices[i]["priced"] for i in page)


def test_a_request_for_prices_is_bounded_and_junk_is_ignored(server: LocalServer) -> None:
    with ig.Client(api_key="sk-or-v1-picker", base_url=server.base_url) as client:
        ids = [m.id for m in client.catalogue.models()]
        priced = wd.model_prices(client, ids * 20 + [None, 3, {"x": 1}, "nobody/nothing"])
        assert len(priced) == min(len(ids), wd.MAX_PRICED)
        assert len(_endpoints(server)) <= wd.MAX_PRICED
        widget = ig.ImageGenWidget(client=client)
        widget.wait_for_models(30)
        for junk in ({"type": "prices"}, {"type": "prices", "ids": "offline/sketch"},
                     {"type": "prices", "ids": [[1], {"a": 2}]}):
            widget._handle_message(widget, junk, [])
        time.sleep(0.5)
        assert widget.error == ""
