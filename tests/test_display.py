"""Display bundles, the grid fallback, the live status line and tables (no server needed)."""

from __future__ import annotations

import base64
import io
import json
import re

import pytest
from IPython.testing.globalipapp import get_ipython
from IPython.utils.capture import capture_output
from PIL import Image

from jupyter_imagegen import GeneratedImage, ImageResult, StreamEvent
from jupyter_imagegen._display import (
    StatusLine,
    Table,
    contact_sheet,
    forget_shown,
    mark_shown,
    result_outputs,
    show_result,
)
from jupyter_imagegen._html import caption_html, grid_html, status_html, table_html
from jupyter_imagegen._protocol import Usage


@pytest.fixture(autouse=True)
def _shell() -> None:
    """``display()`` needs a running shell to publish to (captured per test)."""
    get_ipython()


EVIL = '<script>alert("x")</script> & <img src=x onerror=1>'


def _png(size: tuple[int, int], colour: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "blue").save(buffer, format="JPEG")
    return buffer.getvalue()


def _result(*images: tuple[bytes, str], prompt: str = "a fox", model: str = "offline/sketch") -> ImageResult:
    generated = tuple(GeneratedImage(data=d, mime=m, index=i) for i, (d, m) in enumerate(images))
    return ImageResult(prompt=prompt, model=model, generated=generated, id="gen-123",
                       usage=Usage(cost=0.039), params={"seed": 7}, elapsed=1.25)


def _decode(data: bytes | str) -> Image.Image:
    raw = data if isinstance(data, bytes) else base64.b64decode(data)
    return Image.open(io.BytesIO(raw))


def test_single_image_is_a_plain_output_plus_escaped_caption() -> None:
    data = _png((64, 48))
    result = _result((data, "image/png"), model=EVIL)
    (image, caption) = result_outputs(result)
    assert image[0]["image/png"] == data  # the original bytes, not a re-encoding
    assert "text/html" not in image[0]
    assert image[1]["image/png"] == {"width": 64, "height": 48}
    provenance = image[1]["jupyter_imagegen"]
    assert provenance["generation_id"] == "gen-123"
    assert provenance["parameters"] == {"seed": 7}
    assert provenance["image_index"] == 0
    assert "<script>" not in caption[0]["text/html"]
    assert "&lt;script&gt;" in caption[0]["text/html"]
    assert caption[0]["text/plain"].startswith(EVIL)
    assert "$0.0390" in caption[0]["text/plain"]
    assert "1.2s" in caption[0]["text/plain"]


def test_own_mime_is_kept_for_jpeg() -> None:
    data = _jpeg((40, 30))
    (image, _caption) = result_outputs(_result((data, "image/jpeg")))
    assert image[0]["image/jpeg"] == data
    assert "image/png" not in image[0]


def test_several_images_are_a_grid_with_a_contact_sheet_fallback() -> None:
    images = [(_png((100, 100), c), "image/png") for c in ("red", "green", "blue", "white")]
    result = _result(*images, prompt=EVIL)
    (grid,) = result_outputs(result, notes=["saved 4 images to out"], columns=2, width=50)
    data, meta = grid
    html = data["text/html"]
    assert "<script>" not in html
    assert "onerror=1>" not in html
    # Every original is embedded unchanged in the grid.
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert [base64.b64decode(e) for e in embedded] == [d for d, _ in images]
    # The fallback is a real PNG that shows all four images (2x2 cells of 50px plus a 4px gap).
    sheet = _decode(data["image/png"])
    assert sheet.size == (104, 104)
    assert meta["image/png"] == {"width": 104, "height": 104}
    assert sheet.convert("RGB").getpixel((10, 10)) == (255, 0, 0)
    assert sheet.convert("RGB").getpixel((60, 60)) == (255, 255, 255)
    assert sheet.convert("RGB").getpixel((60, 10)) == (0, 128, 0)
    assert [i["index"] for i in meta["jupyter_imagegen"]["images"]] == [0, 1, 2, 3]
    assert "saved 4 images to out" in data["text/plain"]


def test_contact_sheet_handles_mixed_sizes_and_modes() -> None:
    generated = [GeneratedImage(data=_png((200, 100)), mime="image/png"),
                 GeneratedImage(data=_jpeg((50, 150)), mime="image/jpeg", index=1),
                 GeneratedImage(data=_png((30, 30)), mime="image/png", index=2)]
    sheet = _decode(contact_sheet(generated, columns=2, width=100))
    # Cells of 100px; row 1: 100x50 and 50x150 (never upscaled) -> 150 high; row 2: 30x30.
    assert sheet.size == (204, 184)


def test_ipython_display_shows_each_output_and_skips_results_the_magic_showed() -> None:
    result = _result((_png((8, 8)), "image/png"))
    with capture_output() as cap:
        result._ipython_display_()
    assert [list(o.data) for o in cap.outputs] == [["image/png", "text/plain"],
                                                    ["text/html", "text/plain"]]
    mark_shown(result)
    with capture_output() as cap:
        show_result(result)  # the displayhook after the magic: nothing twice
        show_result(result)  # any later display: shown again
    assert len(cap.outputs) == 2
    mark_shown(result)
    forget_shown()
    with capture_output() as cap:
        show_result(result)
    assert len(cap.outputs) == 2


def test_repr_mimebundle_has_html_and_a_plain_image_and_honours_include() -> None:
    one = _result((_png((10, 10)), "image/png"), prompt=EVIL)
    data, meta = one._repr_mimebundle_()
    assert set(data) == {"text/plain", "text/html", "image/png"}
    assert "<script>" not in data["text/html"]
    assert meta["jupyter_imagegen"]["prompt"] == EVIL
    two = _result((_png((10, 10)), "image/png"), (_jpeg((10, 10)), "image/jpeg"))
    data, _ = two._repr_mimebundle_(include={"image/png"})
    assert set(data) == {"image/png"}
    assert _decode(data["image/png"]).size == (24, 10)  # contact sheet: two 10px cells + gap
    data, _ = two._repr_mimebundle_(exclude={"text/html"})
    assert "text/html" not in data


def test_metadata_never_contains_a_key() -> None:
    result = _result((_png((8, 8)), "image/png"))
    bundles = result_outputs(result)
    assert "sk-or" not in json.dumps([b[1] for b in bundles])
    assert "Authorization" not in json.dumps([b[1] for b in bundles])


def test_status_line_updates_in_place_and_is_replaced() -> None:
    status = StatusLine("offline/sketch", interval=0.0)
    with capture_output() as cap:
        status.start()
        status.event(StreamEvent("keepalive"))
        status.event(StreamEvent("text", text="Here is " + EVIL))
        status.event(StreamEvent("retry", attempt=1, delay=0.5))
        status.event(StreamEvent("image"))
        assert status.replace(({"text/plain": "done"}, {"x": 1}))
        assert not status.replace(({"text/plain": "again"}, {}))  # the slot is gone
    first, *updates = cap.outputs
    display_id = first.transient["display_id"]
    assert not first.update
    assert all(o.update and o.transient["display_id"] == display_id for o in updates)
    last_status = updates[-2].data["text/plain"]
    assert "generating with offline/sketch" in last_status
    assert "still working (1 keep-alive)" in last_status
    assert "retried 1x" in last_status
    assert "1 image received" in last_status
    assert "Here is <script>" in last_status
    assert "<script>" not in updates[-2].data["text/html"]
    assert updates[-1].data == {"text/plain": "done"}
    assert updates[-1].metadata == {"x": 1}


def test_status_line_throttles_and_can_be_disabled() -> None:
    status = StatusLine("m", interval=60)
    with capture_output() as cap:
        status.start()
        for _ in range(20):
            status.event(StreamEvent("keepalive"))
        status.clear()
    assert len(cap.outputs) == 2  # the line and the final clear; the keep-alives were throttled
    assert cap.outputs[-1].data == {"text/plain": ""}
    late = StatusLine("m", delay=60)
    with capture_output() as cap:
        late.start()
        late.event(StreamEvent("keepalive"))
        assert not late.replace(({"text/plain": "x"}, {}))  # never shown: display it yourself
        late.tick(force=True)
    assert cap.outputs == []
    off = StatusLine("m", enabled=False)
    with capture_output() as cap:
        off.start()
        off.tick(force=True)
        assert not off.replace(({"text/plain": "x"}, {}))
    assert cap.outputs == []


def test_table_renders_escaped_html_and_aligned_text() -> None:
    table = Table(["id", "name"], [["a/b", EVIL], ["long/model-id", "x"]], caption="2 models",
                  items=[1, 2])
    assert len(table) == 2
    assert table.items == [1, 2]
    assert "<script>" not in table._repr_html_()
    lines = repr(table).splitlines()
    assert lines[0].split() == ["id", "name"]
    assert lines[2].startswith("a/b            ")
    assert lines[-1] == "2 models"


@pytest.mark.parametrize("builder", [
    lambda: caption_html(EVIL),
    lambda: status_html(EVIL),
    lambda: table_html([EVIL], [[EVIL]], EVIL),
    lambda: grid_html([(b"x", 'image/png" onload="x', EVIL)], EVIL),
])
def test_html_builders_escape_everything(builder) -> None:  # type: ignore[no-untyped-def]
    html = builder()
    assert "<script>" not in html
    assert "<img src=x" not in html
    assert 'onload="x' not in html
