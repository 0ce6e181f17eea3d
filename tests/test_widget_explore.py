"""Exploring in the widget, without a browser: matrix grids, "more like this", region edits, picks.

Each goes through the page's own messages where the page would start it (``generate`` with a
matrix prompt, ``variations``, ``edit``, ``star``), against the local server; pixels are decoded.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from ipywidgets.widgets.widget import _remove_buffers
from PIL import Image, ImageChops, ImageDraw

import jupyter_imagegen as ig
from jupyter_imagegen import ImageGenWidget
from jupyter_imagegen.server import Fault, LocalServer

MATRIX = "a {red|blue} circle on {white|black}"


@pytest.fixture
def widget(client: ig.Client) -> ImageGenWidget:
    w = ImageGenWidget(client=client, model="offline/sketch")
    w.wait_for_models(10)
    return w


def _page(w: ImageGenWidget, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
    """What the page's comm message does (the widget's handler, as ipywidgets calls it)."""
    w._handle_message(w, content, buffers or [])


def _settled(w: ImageGenWidget, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while w.running:
        assert time.monotonic() < deadline, w.status_text
        time.sleep(0.02)


def _chat(server: LocalServer) -> list[Any]:
    return [r.json for r in server.requests if r.path.endswith("/chat/completions")]


def _thumb(cell: dict[str, Any]) -> Image.Image:
    return Image.open(io.BytesIO(bytes(cell["thumbs"][0]["data"]))).convert("RGB")


def test_a_matrix_prompt_from_the_page_fills_a_labelled_grid(widget: ImageGenWidget,
                                                             server: LocalServer) -> None:
    _page(widget, {"type": "generate", "prompt": MATRIX, "model": "offline/sketch"})
    _settled(widget)
    grid = widget.grid
    assert widget.status == "done", widget.error
    assert (grid["kind"], grid["rows"], grid["columns"]) == ("matrix", ["red", "blue"], ["white", "black"])
    assert grid["done"] == grid["total"] == 4 and "4 images" in grid["note"] and "simulated" in grid["note"]
    prompts = sorted(p["messages"][-1]["content"] if isinstance(p["messages"][-1]["content"], str)
                     else p["messages"][-1]["content"][0]["text"] for p in _chat(server))
    assert prompts == sorted(["a red circle on white", "a red circle on black",
                              "a blue circle on white", "a blue circle on black"])
    # Row-major: each cell holds the prompt its labels name, with a decodable thumbnail.
    for i, row in enumerate(grid["rows"]):
        for j, column in enumerate(grid["columns"]):
            cell = grid["cells"][i * 2 + j]
            assert cell["prompt"] == f"a {row} circle on {column}"
            assert max(_thumb(cell).size) <= 160
    assert widget.comparison is not None and widget.comparison.cell("red", "black").ok
    assert len(widget.results) == 4 and widget.history == []  # the grid is its own section
    # The cells zoom and download like gallery entries.
    key = grid["cells"][3]["key"]
    sent: list[Any] = []
    widget.send = lambda content, buffers=None: sent.append((content, buffers))  # type: ignore[method-assign]
    _page(widget, {"type": "full", "key": key, "index": 0})
    assert sent[0][0]["type"] == "full" and Image.open(io.BytesIO(bytes(sent[0][1][0]))).size[0] > 160


def test_a_matrix_over_the_spend_limit_sends_nothing_and_draws_no_grid(server: LocalServer) -> None:
    with ig.Client(api_key="sk-or-v1-test-key-0123456789", base_url=server.base_url,
                   spend_limit=0.05) as client:
        w = ImageGenWidget(client=client, model="offline/sketch")
        w.wait_for_models(10)
        future = w.matrix("a {red|blue|green|pink} fox")
        with pytest.raises(ig.SpendLimitError, match="prompt matrix"):
            future.result(30)
        assert w.status == "error" and "spend limit" in w.error and w.grid == {}
        assert _chat(server) == []


def test_cancel_keeps_the_cells_that_finished(widget: ImageGenWidget, server: LocalServer) -> None:
    for _ in range(2):
        server.faults.push(Fault("slow", delay=10))
    future = widget.matrix("a {red|blue|green|pink} square")
    deadline = time.monotonic() + 20
    while widget.grid.get("done", 0) < 2:
        assert time.monotonic() < deadline, widget.grid.get("done")
        time.sleep(0.05)
    widget.cancel()
    with pytest.raises(ig.CancelledError):
        future.result(10)
    cells = widget.grid["cells"]
    assert widget.status == "cancelled"
    assert sum("key" in c for c in cells) == 2
    assert sum(c.get("error") == "cancelled" for c in cells) == 2


def test_four_more_like_this_is_a_strip_of_recorded_seeds(widget: ImageGenWidget,
                                                          server: LocalServer) -> None:
    original = widget.generate("a lighthouse").result(30)
    key = widget.history[0]["key"]
    _page(widget, {"type": "variations", "key": key, "count": 4})
    _settled(widget)
    grid = widget.grid
    assert grid["kind"] == "variations" and grid["rows"] == ["a lighthouse"]
    assert grid["columns"][0] == "original" and grid["cells"][0]["key"] == key
    seeds = [int(c.split()[1]) for c in grid["columns"][1:]]
    assert len(set(seeds)) == 4
    sent = [p.get("seed") for p in _chat(server)[1:]]
    assert sorted(sent) == sorted(seeds)  # each column's seed is the one on the wire
    made = [widget.kept.named(c["key"]) for c in grid["cells"][1:]]
    assert sorted(r.params["seed"] for r in made) == sorted(seeds)
    assert all(r.prompt == original.prompt for r in made)
    # A seed reruns to the same image: the strip can be made again.
    again = made[0].rerun()
    assert again.images[0].tobytes() == made[0].images[0].tobytes()


def _box_mask_png(size: tuple[int, int], box: tuple[int, int, int, int]) -> bytes:
    mask = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(mask).ellipse(box, fill=(255, 255, 255, 255))
    out = io.BytesIO()
    mask.save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("how", ["box", "paint"])
def test_a_region_edit_from_the_page_changes_only_the_region(widget: ImageGenWidget, how: str) -> None:
    widget.model = "offline/editor"
    original = widget.generate("a plain green field").result(30)
    key = widget.history[0]["key"]
    width, height = original.images[0].size
    box = (width // 4, height // 4, width // 2, height // 2)
    content = {"type": "edit", "key": key, "index": 0, "prompt": "a red door"}
    if how == "box":
        _page(widget, {**content, "box": list(box)})
    else:
        _page(widget, content, [_box_mask_png((width, height), box)])
    _settled(widget)
    assert widget.status == "done", widget.error
    edited = widget.results[-1]
    region = edited.params["region"]
    band = 2 * region["feather"]  # the feather's band is at least its radius, under twice it
    before, after = original.images[0].convert("RGB"), edited.images[0].convert("RGB")
    diff = ImageChops.difference(before, after)
    changed = diff.getbbox()
    assert changed is not None  # the region did change
    left, top, right, bottom = box
    assert changed[0] >= left - band and changed[1] >= top - band  # nothing changed outside it
    assert changed[2] <= right + band and changed[3] <= bottom + band
    assert diff.crop(box).getbbox() is not None
    # Both versions are in the history, newest first.
    assert [h["prompt"] for h in widget.history[:2]] == ["a red door", "a plain green field"]


def test_an_edit_with_no_region_says_what_to_do(widget: ImageGenWidget) -> None:
    widget.model = "offline/editor"
    widget.generate("a plain field").result(30)
    _page(widget, {"type": "edit", "key": widget.history[0]["key"], "prompt": "a door"})
    assert "drag a box or paint" in widget.error
    assert not widget.running


def test_stars_make_picks_that_the_store_keeps(server: LocalServer, tmp_path: Path) -> None:
    store = ig.ImageStore(tmp_path / "store")
    with ig.Client(api_key="sk-or-v1-test-key-0123456789", base_url=server.base_url,
                   store=store) as client:
        w = ImageGenWidget(client=client, model="offline/sketch")
        w.wait_for_models(10)
        first = w.generate("a cat").result(30)
        second = w.generate("a dog").result(30)
        keys = [h["key"] for h in w.history]  # newest first
        _page(w, {"type": "star", "key": keys[0], "starred": True})
        _page(w, {"type": "star", "key": keys[1], "starred": True})
        assert w.picked == [keys[0], keys[1]] and w.picks == [second, first]
        _page(w, {"type": "star", "key": keys[0], "starred": False})
        assert w.picks == [first] and w.error == ""
        reopened = ig.ImageStore(tmp_path / "store")  # another kernel reads the stars back
        assert [e.prompt for e in reopened.picks()] == ["a cat"]
        assert len(list(reopened)) == 2  # starring did not store a second copy
        w.clear_history()
        assert w.picks == [first]  # a pick outlives the gallery


def test_the_saved_state_of_a_grid_stays_light(widget: ImageGenWidget) -> None:
    widget.matrix("a {red|blue} tree at {dawn|dusk}").result(30)
    state, _paths, buffers = _remove_buffers(widget.get_state())
    grid_bytes = sum(len(b) for b in buffers) - sum(
        len(b) for b in _remove_buffers({"history": widget.get_state()["history"],
                                         "latest": widget.get_state()["latest"]})[2])
    assert grid_bytes < 4 * 40_000  # four thumbnails, never the originals
    assert "sk-or-v1" not in json.dumps(state)


def test_the_readme_exploring_example_runs_as_written(client: ig.Client,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "w.matrix(" in b)
    monkeypatch.setattr(ig, "default_client", lambda: client, raising=False)
    from jupyter_imagegen import _api

    monkeypatch.setattr(_api, "default_client", lambda: client)
    scope: dict[str, Any] = {"ig": ig}
    exec(block, scope)
    w = scope["w"]
    assert [r.prompt for r in w.picks] == ["a red lighthouse at dusk"]
    assert w.grid["done"] == 4
