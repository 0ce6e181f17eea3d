"""ImageGenWidget without a browser: traits, threading, cancel, errors, binary state, no key."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from ipywidgets.widgets.widget import _remove_buffers
from PIL import Image

import jupyter_imagegen as ig
from jupyter_imagegen import GeneratedImage, ImageGenWidget, ImageResult
from jupyter_imagegen._widget import widget as _widget
from jupyter_imagegen._widget.data import (
    PREVIEW_PX,
    THUMB_PX,
    WIDGET_TEXT,
    download,
    image_reply,
    model_choices,
)
from jupyter_imagegen._wire.pngmeta import read_png_text
from jupyter_imagegen.server import Fault, LocalServer

KEY = "sk-or-v1-test-key-0123456789"


@pytest.fixture
def widget(client: ig.Client) -> ImageGenWidget:
    w = ImageGenWidget(client=client)
    w.wait_for_models(10)
    return w


def _chat(server: LocalServer) -> list[Any]:
    return [r.json for r in server.requests if r.path.endswith("/chat/completions")]


def _json_state(w: ImageGenWidget) -> tuple[str, list[list[Any]], list[Any]]:
    state, paths, buffers = _remove_buffers(w.get_state())
    return json.dumps(state), paths, buffers


def test_unknown_keyword_is_a_type_error_with_a_hint(client: ig.Client) -> None:
    with pytest.raises(TypeError, match=r"promt.*did you mean prompt"):
        ImageGenWidget(client=client, promt="typo")


def test_models_listed_with_prices_and_default_selected(widget: ImageGenWidget) -> None:
    ids = [m["id"] for m in widget.models]
    assert "offline/sketch" in ids
    assert "offline/chat" not in ids  # text-only models are not offered
    assert "openrouter/auto" not in ids
    assert widget.model == "google/gemini-2.5-flash-image"  # the client's default, as listed
    poster = next(m for m in widget.models if m["id"] == "offline/poster")
    assert poster["priced"] is False  # the listing alone: its price is read when it is shown
    widget._handle_message(widget, {"type": "prices", "ids": ["offline/poster"]}, [])
    deadline = time.monotonic() + 10
    while "offline/poster" not in widget.prices and time.monotonic() < deadline:
        time.sleep(0.05)
    assert widget.prices["offline/poster"]["price"] == pytest.approx(0.04)
    assert poster["accepts_images"] is False
    assert widget.models_status == "ready"
    assert widget.notice == ""


def test_controls_come_from_the_listings(client: ig.Client) -> None:
    entries = {e["id"]: e for e in model_choices(client)}
    # A chat model the Image API does not list: the protocol's whole choice, seed from the listing.
    sketch = entries["offline/sketch"]
    assert (sketch["api"], sketch["max_n"], sketch["seed"]) == ("chat", 1, True)
    assert sketch["sizes"] == ["0.5K", "1K", "2K", "4K"]
    # Listed by both: what either API takes (chat's documented tiers, the Image API's 512), n.
    quartet = entries["offline/quartet"]
    assert quartet["max_n"] == 8
    assert quartet["sizes"] == ["0.5K", "1K", "2K", "4K"]
    assert "auto" not in quartet["aspect_ratios"] and "16:9" in quartet["aspect_ratios"]
    # Only the Image API lists it: no seed (its listing has none), n up to 10, priced by its
    # endpoints record's per-token price line times OpenAI's documented image tokens.
    gpt = entries["openai/gpt-image-1"]
    assert (gpt["api"], gpt["seed"], gpt["max_n"]) == ("images", False, 10)
    assert gpt["price"] == pytest.approx(1056 * 4e-05, abs=1e-4) and gpt["price_basis"] == "token estimate"
    assert gpt["accepts_images"] is True
    assert gpt["sizes"] == []  # its recorded listing declares no resolution: not selectable


def test_no_family_table_left() -> None:
    source = (Path(_widget.__file__).parent / "data.py").read_text()
    assert "gemini" not in source and "flux" not in source


def test_unlisted_model_and_no_models_say_how_to_get_one(client: ig.Client) -> None:
    w = ImageGenWidget(client=client, model="offline/chat")
    w.wait_for_models(10)
    assert "not in the image model listing" in w.notice
    dead = ig.Client(api_key="", base_url="http://127.0.0.1:9/api/v1", max_retries=0, timeout=1)
    w = ImageGenWidget(client=dead)
    w.wait_for_models(10)
    assert w.models == []
    assert w.models_status == "error"
    assert "OPENROUTER_API_KEY" in w.notice
    assert "offline()" in w.notice


def test_generate_updates_traits_results_and_binary_images(
    widget: ImageGenWidget, server: LocalServer
) -> None:
    seen: list[ig.ImageResult] = []
    widget.on_result(seen.append)
    widget.model, widget.aspect_ratio, widget.image_size = "offline/quartet", "16:9", "1K"
    result = widget.generate("a red circle").result(20)
    assert widget.status == "done"
    assert widget.prompt == "a red circle"
    assert widget.results == [result] == seen
    assert [im.size for im in widget.images] == [(1344, 768)] * 4
    assert all(isinstance(im, Image.Image) for im in widget.images)
    assert _chat(server)[-1]["image_config"] == {"aspect_ratio": "16:9", "image_size": "1K"}
    assert _chat(server)[-1]["stream"] is True
    # Synced state holds small raster previews, never the originals; all travel as buffers.
    assert len(widget.latest) == 4
    for picture in widget.latest:
        assert picture["mime"] in ("image/png", "image/jpeg")
        assert max(Image.open(io.BytesIO(picture["data"])).size) <= PREVIEW_PX
        assert (picture["full_width"], picture["full_height"]) == (1344, 768)
    (entry,) = widget.history
    assert entry["prompt"] == "a red circle"
    assert entry["model"] == "offline/quartet"
    assert (entry["aspect_ratio"], entry["image_size"]) == ("16:9", "1K")  # for "reuse"
    thumb = Image.open(io.BytesIO(entry["thumbs"][0]["data"]))
    assert max(thumb.size) <= THUMB_PX
    text, paths, buffers = _json_state(widget)
    assert ["latest", 0, "data"] in paths
    assert ["history", 0, "thumbs", 3, "data"] in paths
    assert sum(len(b) for b in buffers) < sum(len(g.data) for g in result.generated)
    assert "iVBORw0KGgo" not in text
    assert "base64" not in text


def test_history_is_newest_first(widget: ImageGenWidget) -> None:
    widget.model = "offline/sketch"
    widget.generate("first").result(20)
    widget.generate("second").result(20)
    assert [h["prompt"] for h in widget.history] == ["second", "first"]
    assert [r.prompt for r in widget.results] == ["first", "second"]
    assert len(widget.latest) == 1 and widget.latest[0]["index"] == 0


def test_state_never_contains_the_key(widget: ImageGenWidget) -> None:
    widget.model = "offline/sketch"
    widget.generate("a secretive square").result(20)
    text, _paths, buffers = _json_state(widget)
    assert KEY not in text
    assert "Bearer" not in text
    assert "Authorization" not in text
    assert all(KEY.encode() not in bytes(b) for b in buffers)
    assert "_client" not in widget.keys
    assert "client" not in widget.keys


def test_generation_runs_off_the_main_thread_and_cancels(
    widget: ImageGenWidget, server: LocalServer
) -> None:
    server.faults.push(Fault("slow", delay=10))
    widget.model = "offline/sketch"
    started = time.monotonic()
    future = widget.generate("a slow hexagon")
    assert time.monotonic() - started < 5  # returned before the 10 s answer: the kernel stays usable
    assert widget.status == "running"
    assert widget.running
    with pytest.raises(RuntimeError, match="already running"):
        widget.generate()
    deadline = time.monotonic() + 5
    while widget.elapsed < 0.5:  # keep-alives move the clock, not the words
        assert time.monotonic() < deadline, widget.elapsed
        time.sleep(0.05)
    assert widget.status_text == "Generating..."
    widget.cancel()
    with pytest.raises(ig.CancelledError):
        future.result(3)
    widget.wait(3)
    assert time.monotonic() - started < 5
    assert widget.status == "cancelled"
    assert widget.error == ""
    assert widget.prompt == "a slow hexagon"
    assert widget.results == []


def test_error_is_shown_as_text_and_prompt_kept(widget: ImageGenWidget, server: LocalServer) -> None:
    server.faults.push(Fault("402"))
    widget.model = "offline/sketch"
    future = widget.generate("an expensive star")
    with pytest.raises(ig.InsufficientCreditsError):
        future.result(10)
    widget.wait(5)
    assert widget.status == "error"
    assert "Insufficient credits" in widget.error
    assert "Traceback" not in widget.error
    assert widget.prompt == "an expensive star"
    widget.generate().result(20)  # the next attempt clears the error
    assert widget.error == ""
    assert widget.status == "done"


def test_no_model_selected_says_so(widget: ImageGenWidget) -> None:
    widget.model = ""
    with pytest.raises(ig.ImageGenError):
        widget.generate("anything").result(5)
    assert "No image model is selected" in widget.error


def test_comm_handler_never_raises(widget: ImageGenWidget, server: LocalServer,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[Any, Any]] = []
    monkeypatch.setattr(widget, "send", lambda content, buffers=None: sent.append((content, buffers)))
    server.faults.push(Fault("slow", delay=5, path="*"))  # poster goes to the Image API
    widget._handle_message(widget, {"type": "generate", "prompt": "from the page",
                                    "model": "offline/poster", "aspect_ratio": "1:1"}, [])
    assert (widget.prompt, widget.model, widget.aspect_ratio) == ("from the page", "offline/poster", "1:1")
    widget._handle_message(widget, {"type": "generate"}, [])  # already running: error, no raise
    assert "already running" in widget.error
    widget._handle_message(widget, {"type": "cancel"}, [])
    widget.wait(3)
    assert widget.status == "cancelled"
    widget._handle_message(widget, {"type": "full", "key": "r9", "index": "x"}, [])  # bad index
    widget._handle_message(widget, "not a dict", [])
    widget._handle_message(widget, {"type": "full", "key": "r9", "index": 0}, [])
    assert sent[-1][0] == {"type": "full", "key": "r9", "index": 0, "missing": True}


def test_full_image_request_is_a_binary_buffer(widget: ImageGenWidget,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    widget.model = "offline/sketch"
    first = widget.generate("first").result(20)
    widget.generate("second").result(20)
    sent: list[tuple[Any, Any]] = []
    monkeypatch.setattr(widget, "send", lambda content, buffers=None: sent.append((content, buffers)))
    widget._handle_message(widget, {"type": "full", "key": "r1", "index": 0}, [])
    (content, buffers), = sent
    assert content == {"type": "full", "key": "r1", "mime": "image/png", "width": 1024,
                       "height": 1024, "index": 0}
    assert buffers == [first.generated[0].data]


def test_image_reply_sends_rasters_only_and_answers_missing_otherwise() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (12, 8), "red").save(buffer, format="PNG")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    result = ImageResult(prompt="p", model="offline/sketch", created=0.0, generated=(
        GeneratedImage(data=buffer.getvalue(), mime="image/png"),
        GeneratedImage(data=svg, mime="image/svg+xml", index=1)))
    content, buffers = image_reply(result, "full", "r1", 0)
    assert content == {"type": "full", "key": "r1", "index": 0, "mime": "image/png", "width": 12,
                       "height": 8}
    assert buffers == [buffer.getvalue()]
    missing = {"key": "r1", "missing": True}
    assert image_reply(result, "download", "r1", 1) == ({"type": "download", "index": 1, **missing}, None)
    assert image_reply(result, "full", "r1", 2) == ({"type": "full", "index": 2, **missing}, None)
    assert image_reply(None, "full", "r1", 0) == ({"type": "full", "index": 0, **missing}, None)


def test_input_image_from_python_is_sent_for_edits(
    widget: ImageGenWidget, server: LocalServer, tmp_path: Path
) -> None:
    path = tmp_path / "base.png"
    Image.new("RGB", (40, 30), (255, 128, 0)).save(path)
    widget.set_input_image(path)
    assert (widget.input_name, widget.input_mime) == ("base.png", "image/png")
    assert widget.input_image == path.read_bytes()
    widget.model = "offline/editor"
    widget.generate("add a blue circle").result(20)
    parts = _chat(server)[-1]["messages"][-1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url"]
    # A model that takes no input images: a clear error, nothing generated.
    widget.model = "offline/quartet"
    with pytest.raises(ig.ModelCapabilityError):
        widget.generate().result(10)
    assert "does not accept input images" in widget.error
    widget.clear_input_image()
    assert widget.input_image == b""
    assert widget.input_name == ""


def test_input_image_from_the_page_arrives_as_bytes(widget: ImageGenWidget) -> None:
    png = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(png, format="PNG")
    widget.set_state({"input_image": memoryview(png.getvalue())})  # what a page buffer becomes
    assert widget.input_image == png.getvalue()


def test_on_result_callback_errors_show_in_the_widget(widget: ImageGenWidget) -> None:
    def broken(_result: ig.ImageResult) -> None:
        raise ValueError("boom")

    widget.on_result(broken)
    widget.model = "offline/sketch"
    widget.generate("callback").result(20)
    assert widget.error == "on_result callback failed: ValueError: boom"
    widget.on_result(broken, remove=True)


def test_repr_is_cheap_and_safe(widget: ImageGenWidget) -> None:
    text = repr(widget)
    assert text.startswith("<ImageGenWidget model='google/gemini-2.5-flash-image'")
    assert KEY not in text
    data, _meta = widget._repr_mimebundle_()
    assert data["text/plain"] == WIDGET_TEXT  # never a count that goes stale once saved


def test_callbacks_run_in_a_worker_thread(widget: ImageGenWidget) -> None:
    threads: list[str] = []
    widget.on_result(lambda _r: threads.append(threading.current_thread().name))
    widget.model = "offline/sketch"
    widget.generate("threads").result(20)
    assert threads == ["imagegen-widget-generate"]


@pytest.mark.slow
def test_saved_notebook_widget_state_has_no_key(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbclient import NotebookClient

    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    monkeypatch.setenv("OPENROUTER_BASE_URL", server.base_url)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from jupyter_imagegen import ImageGenWidget\n"
                                  "w = ImageGenWidget(model='offline/sketch')\nw"),
        nbformat.v4.new_code_cell("w.generate('a saved circle').result(30); print(w.status)"),
    ])
    NotebookClient(nb, timeout=60, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    path = tmp_path / "saved.ipynb"
    nbformat.write(nb, path)
    text = path.read_text()
    assert nb.cells[1].outputs[0]["text"] == "done\n"
    assert KEY not in text
    assert "Bearer" not in text
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    (model,) = [m for m in state.values() if m["model_name"] == "AnyModel"]
    assert model["state"]["prompt"] == "a saved circle"
    assert {tuple(b["path"]) for b in model["buffers"]} >= {("latest", 0, "data"),
                                                           ("history", 0, "thumbs", 0, "data")}
    assert "data:image" not in json.dumps(model["state"])
    assert _chat(server)[-1]["model"] == "offline/sketch"


def _run_widget_notebook(tmp_path: Path, *extra_cells: str) -> list[Any]:
    from nbclient import NotebookClient

    source = Path(__file__).resolve().parents[1] / "notebooks" / "widget.ipynb"
    nb = nbformat.read(source, as_version=4)
    nb.cells.extend(nbformat.v4.new_code_cell(code) for code in extra_cells)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def test_widget_notebook_is_stored_without_outputs() -> None:
    source = Path(__file__).resolve().parents[1] / "notebooks" / "widget.ipynb"
    nb = nbformat.read(source, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert "widgets" not in nb.metadata
    assert "ig.offline()" not in code[0].source  # the environment chooses online or offline


@pytest.mark.slow
def test_widget_notebook_goes_online_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A key and a base URL: the notebook is online, here on a server that serves only real ids,
    # so an ``offline/*`` id anywhere in it would fail.
    with LocalServer(port=0, offline_models=False) as srv:
        monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
        monkeypatch.setenv("OPENROUTER_BASE_URL", srv.base_url)
        outputs = _run_widget_notebook(
            tmp_path, "print('offline:', ig.is_offline(), len(w.results))")
        asked = {r.json.get("model") for r in srv.requests
                 if r.method == "POST" and isinstance(r.json, dict)}
    assert not [o for o in outputs if o["output_type"] == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "offline: False 8" in text  # all eight answered online (3, a 2x2 grid, an edit)
    assert asked and not [m for m in asked if m.startswith("offline/")]
    assert KEY not in text


@pytest.mark.slow
def test_widget_notebook_runs_offline(tmp_path: Path) -> None:
    outputs = _run_widget_notebook(tmp_path)
    assert not [o for o in outputs if o["output_type"] == "error"]
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 2  # the widget, and the one from `%imagegen widget`
    text = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "offline mode" in text
    assert "NotFoundError" in text  # the typo'd model id


def test_n_and_seed_reach_the_request_where_the_model_takes_them(
    widget: ImageGenWidget, server: LocalServer
) -> None:
    widget.model, widget.n, widget.seed = "offline/quartet", 3, 42
    result = widget.generate("three variations").result(20)
    body = [r.json for r in server.requests if r.path.endswith("/images")][-1]
    assert (body["n"], body["seed"]) == (3, 42)  # n needs the Image API
    assert len(result.generated) == 3
    assert len(widget.history[0]["thumbs"]) == 3
    widget.model, widget.n = "offline/sketch", 1
    widget.generate("one seeded sketch").result(20)
    assert _chat(server)[-1]["seed"] == 42
    widget.model, widget.seed = "openai/gpt-image-1", 7  # its listing has no seed: not sent
    widget.generate("no seed here").result(20)
    body = [r.json for r in server.requests if r.path.endswith("/images")][-1]
    assert body["model"] == "openai/gpt-image-1"
    assert "seed" not in body


def test_download_carries_the_save_metadata(widget: ImageGenWidget, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    widget.model = "offline/sketch"
    result = widget.generate("a red fox, at dusk!").result(20)
    data, mime, name = download(result, 0)
    (saved,) = result.save(tmp_path)
    assert mime == "image/png"
    assert read_png_text(data) == read_png_text(saved.read_bytes())
    assert read_png_text(data)["prompt"] == "a red fox, at dusk!"
    assert data == saved.read_bytes()  # the very bytes save() writes
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(result.created))
    assert name == f"a-red-fox-at-dusk-{stamp}.png"
    sent: list[tuple[Any, Any]] = []
    monkeypatch.setattr(widget, "send", lambda content, buffers=None: sent.append((content, buffers)))
    widget._handle_message(widget, {"type": "download", "key": "r1", "index": 0}, [])
    assert sent == [({"type": "download", "key": "r1", "index": 0, "mime": "image/png",
                      "name": name}, [data])]


def test_snapshot_is_escaped_raster_and_current(widget: ImageGenWidget,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[Any] = []
    monkeypatch.setattr(widget, "send", lambda content, buffers=None: sent.append(content))
    assert "no images generated yet" in widget.snapshot()["text/plain"]
    widget._displayed = True  # as after _ipython_display_
    widget.model = "offline/sketch"
    evil = '<script>alert(1)</script><img src=x onerror=alert(2)> a blue circle'
    widget.generate(evil).result(20)
    widget.wait(5)
    html = widget.snapshot()["text/html"]
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("data:image/") == 2  # the newest preview and its history thumbnail
    # No SVG anywhere but by chance inside base64 (random seeds draw random pictures).
    assert "svg" not in re.sub(r"data:image/(?:png|jpeg);base64,[A-Za-z0-9+/=]+", "", html).lower()
    assert f'data-ig-snapshot="{widget.model_id}"' in html
    assert "1 result;" in widget.snapshot()["text/plain"]
    assert sent[-1] == {"type": "snapshot", "data": widget.snapshot()}  # the page rewrites it
    widget.clear_history()
    assert widget.history == [] and widget.latest == []
    assert len(widget.results) == 1  # results are kept
    assert "No images generated yet." in sent[-1]["data"]["text/html"]


def _nb_with_widget(server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                    *cells: str) -> Any:
    from nbclient import NotebookClient

    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    monkeypatch.setenv("OPENROUTER_BASE_URL", server.base_url)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from jupyter_imagegen import ImageGenWidget\n"
                                  "w = ImageGenWidget(model='offline/sketch')\nw"),
        *(nbformat.v4.new_code_cell(c) for c in cells)])
    NotebookClient(nb, timeout=60, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


@pytest.mark.slow
def test_saved_outputs_hold_a_current_snapshot_and_nbconvert_shows_it(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbconvert import HTMLExporter

    nb = _nb_with_widget(server, tmp_path, monkeypatch,
                         "w.generate('a saved red circle').result(30); w.wait(5)",
                         "w.generate('a saved blue square').result(30); w.wait(5); print(w.status)")
    view, snap = nb.cells[0].outputs
    assert "application/vnd.jupyter.widget-view+json" in view["data"]
    assert view["data"]["text/plain"] == WIDGET_TEXT
    # The snapshot output was replaced after each generation (display id), not left at "none yet".
    assert "2 results; newest: 'a saved blue square'" in snap["data"]["text/plain"]
    assert snap["data"]["text/html"].count("data:image/") == 3  # newest preview + 2 thumbnails
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    html, _ = HTMLExporter().from_notebook_node(nb)
    assert "a saved blue square" in html and "a saved red circle" in html
    assert html.count('src="data:image/') >= 3  # the snapshot's images, with no JavaScript
    (model,) = [m for m in state.values() if m["model_name"] == "AnyModel"]
    saved = sum(len(b["data"]) * 3 // 4 for b in model["buffers"])
    assert saved < 60_000, saved  # previews and thumbnails only, never the 1K originals


def test_n_above_the_models_limit_is_refused_not_cut(widget: ImageGenWidget, server: LocalServer) -> None:
    widget.model, widget.n = "offline/quartet", 9  # its listing takes at most 8
    with pytest.raises(ig.ModelCapabilityError, match=r"n=9 \(it takes 1-8\)"):
        widget.generate("nine variations").result(20)
    assert "n=9" in widget.error and "1-8" in widget.error
    assert not [r for r in server.requests if r.path.endswith("/images")]  # nothing was sent


def test_clear_history_also_resets_the_status(widget: ImageGenWidget) -> None:
    widget.model = "offline/sketch"
    widget.generate("a red circle").result(20)
    widget.wait(5)
    assert widget.status == "done" and widget.status_text.startswith("Done in")
    widget.clear_history()
    assert (widget.history, widget.latest) == ([], [])
    assert (widget.status, widget.status_text, widget.error) == ("idle", "", "")
    assert len(widget.results) == 1  # Python still has it
