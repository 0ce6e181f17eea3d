"""Display bundles, the grid fallback, the live status line and tables (no server needed)."""

from __future__ import annotations

import base64
import io
import json
import re

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import get_ipython
from IPython.utils.capture import capture_output
from PIL import Image, ImageFilter

from jupyter_imagegen import GeneratedImage, ImageResult, InvalidInputError, StreamEvent, Usage
from jupyter_imagegen._notebook.status import StatusLine, Table
from jupyter_imagegen._results.display import (
    caption_html,
    forget_shown,
    grid_html,
    mark_shown,
    result_outputs,
    show_result,
    status_html,
    table_html,
)
from jupyter_imagegen._results.preview import display_options as ig_display_options


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


def _photo(size: tuple[int, int]) -> bytes:
    """A photo-like PNG (smooth gradients plus noise), the kind a model sends: large as PNG."""
    noise = Image.effect_noise(size, 30).convert("L").filter(ImageFilter.GaussianBlur(1))
    gradient = Image.linear_gradient("L").resize(size)
    across = Image.linear_gradient("L").rotate(90).resize(size)
    rgb = Image.merge("RGB", (gradient, noise, across))
    buffer = io.BytesIO()
    rgb.save(buffer, format="PNG")
    return buffer.getvalue()


def _only_image(bundle: dict[str, object]) -> tuple[str, bytes]:
    """The one image of a single-image output: the ``<img>`` of its HTML."""
    html = bundle["text/html"]
    assert isinstance(html, str)
    ((mime, b64),) = re.findall(r'src="data:(image/[a-z]+);base64,([^"]+)"', html)
    return mime, base64.b64decode(b64)


def _shown_size(bundle: dict[str, object]) -> tuple[int, int]:
    html = str(bundle["text/html"])
    width, height = re.search(r'width="(\d+)" height="(\d+)"', html).groups()  # type: ignore[union-attr]
    return int(width), int(height)


def test_single_image_is_one_img_with_alt_text_plus_escaped_caption() -> None:
    data = _png((64, 48))
    result = _result((data, "image/png"), model=EVIL, prompt="a red fox in the snow")
    (image, caption) = result_outputs(result)
    mime, shown = _only_image(image[0])
    assert mime in ("image/png", "image/jpeg") and len(shown) <= len(data)
    assert _decode(shown).size == (64, 48)  # small images are never scaled up
    assert set(image[0]) == {"text/html", "text/plain"}  # one copy of the image
    html = image[0]["text/html"]
    alt = re.search(r'alt="([^"]*)"', html).group(1)  # type: ignore[union-attr]
    assert "a red fox in the snow" in alt and "&lt;script&gt;" in alt  # the model, escaped
    assert "<script>" not in html and "max-width:100%" in html  # scales down in a narrow output
    assert _shown_size(image[0]) == (64, 48)
    provenance = image[1]["jupyter_imagegen"]
    assert provenance["generation_id"] == "gen-123"
    assert provenance["parameters"] == {"seed": 7}
    assert provenance["image_index"] == 0
    assert "<script>" not in caption[0]["text/html"]
    assert "&lt;script&gt;" in caption[0]["text/html"]
    assert caption[0]["text/plain"].startswith(EVIL)
    assert "$0.039" in caption[0]["text/plain"] and "simulated" not in caption[0]["text/plain"]
    assert "1.2s" in caption[0]["text/plain"]


def test_a_1k_image_is_stored_as_a_small_preview_shown_at_512px_and_the_original_kept() -> None:
    original = _photo((1024, 1024))
    assert len(original) > 700_000  # a photo-like 1K PNG (the issue measured 2.3 MB for one)
    result = _result((original, "image/png"))
    (image, _caption) = result_outputs(result)
    mime, shown = _only_image(image[0])
    assert mime in ("image/jpeg", "image/png")  # auto: what every renderer decodes
    assert len(shown) < 150_000
    assert _decode(shown).size == (768, 768)
    assert _shown_size(image[0]) == (512, 512)
    assert image[1]["jupyter_imagegen"]["original"] == [1024, 1024, "image/png"]
    assert result.generated[0].data == original  # save() and the store still get the original


def test_full_embeds_the_original_and_options_are_checked() -> None:
    original = _photo((300, 200))
    result = _result((original, "image/png"))
    with ig_display_options(format="full", width=None):
        (image, _caption) = result_outputs(result)
    assert _only_image(image[0]) == ("image/png", original)
    assert _shown_size(image[0]) == (300, 200)
    with ig_display_options(preview=100, format="png"):
        (image, _caption) = result_outputs(result)
    assert _decode(_only_image(image[0])[1]).size == (100, 67)
    with pytest.raises(ValueError, match="format must be one of"):
        ig_display_options(format="gif")
    with pytest.raises(InvalidInputError, match="unknown display option"):
        ig_display_options(colour="red")


def test_webp_gives_webp_for_a_single_image_too() -> None:
    result = _result((_photo((1024, 1024)), "image/png"))
    with ig_display_options(format="webp"):
        (image, _caption) = result_outputs(result)
        data, _meta = result._repr_mimebundle_()
    for bundle in (image[0], data):
        mime, shown = _only_image(bundle)
        assert mime == "image/webp" and shown[:4] == b"RIFF" and shown[8:12] == b"WEBP"
        assert _decode(shown).size == (768, 768)


def test_the_readme_display_options_example_shows_the_original() -> None:
    """The README's ``with ig.display_options(format="full", width=None):`` block shows something."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(ig\.display_options\(.*?)```", readme, re.S).group(1)  # type: ignore[union-attr]
    original = _photo((300, 200))
    result = _result((original, "image/png"))
    shell = get_ipython() or InteractiveShell.instance()  # globalipapp: None after the first call
    shell.user_ns.update(result=result, ig=__import__("jupyter_imagegen"))
    try:
        with capture_output() as cap:
            outcome = shell.run_cell(block)
    finally:
        ig_display_options(preview=768, format="auto", width=512)
    assert outcome.success, outcome.error_in_exec
    (image, _caption) = cap.outputs
    assert _only_image(image.data) == ("image/png", original)  # the original, at natural width
    assert _shown_size(image.data) == (300, 200)


def test_own_mime_is_kept_for_a_small_jpeg() -> None:
    data = _jpeg((40, 30))
    (image, _caption) = result_outputs(_result((data, "image/jpeg")))
    _mime, shown = _only_image(image[0])
    assert len(shown) <= len(data) and _decode(shown).size == (40, 30)


def test_several_images_are_one_grid_of_thumbnails_stored_once() -> None:
    images = [(_photo((1024, 1024)), "image/png") for _ in range(4)]
    result = _result(*images, prompt=EVIL)
    (grid,) = result_outputs(result, notes=["saved 4 images to out"], columns=2, width=50)
    data, meta = grid
    assert set(data) == {"text/html", "text/plain"}  # no contact-sheet second copy
    html = data["text/html"]
    assert "<script>" not in html
    assert "onerror=1>" not in html
    embedded = re.findall(r'src="data:(image/[a-z]+);base64,([^"]+)"', html)
    assert len(embedded) == 4
    for _mime, b64 in embedded:
        thumb = _decode(b64)
        assert thumb.size == (384, 384) and len(base64.b64decode(b64)) < 60_000
    assert "repeat(2,minmax(0,50px))" in html  # equal columns
    assert [i["index"] for i in meta["jupyter_imagegen"]["images"]] == [0, 1, 2, 3]
    assert "saved 4 images to out" in data["text/plain"]
    assert html.count("saved 4 images to out") == 1  # the caption once


def test_ipython_display_shows_each_output_and_skips_results_the_magic_showed() -> None:
    result = _result((_png((8, 8)), "image/png"))
    with capture_output() as cap:
        result._ipython_display_()
    assert len(cap.outputs) == 2
    assert _only_image(cap.outputs[0].data)[0] in ("image/png", "image/jpeg")
    assert list(cap.outputs[1].data) == ["text/html", "text/plain"]
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


def test_a_bare_pil_image_of_the_kit_shows_one_light_preview() -> None:
    """``result.images[0]`` as a cell's value: one small preview, not a full PNG plus a JPEG."""
    original = _photo((1024, 1024))
    image = _result((original, "image/png")).images[0]
    shell = get_ipython() or InteractiveShell.instance()  # globalipapp: None after the first call
    shell.user_ns["kit_image"] = image
    with capture_output() as cap:
        shell.run_cell("kit_image")
    (shown,) = cap.outputs
    mime, data = _only_image(shown.data)
    assert mime in ("image/jpeg", "image/png") and len(data) < 150_000
    assert _decode(data).size == (768, 768) and _shown_size(shown.data) == (512, 512)
    # Drawn on first: the preview shows the drawing, not the bytes it was decoded from.
    image.paste((0, 255, 0), (0, 0, 1024, 1024))
    with capture_output() as cap:
        shell.run_cell("kit_image")
    assert _decode(_only_image(cap.outputs[0].data)[1]).convert("RGB").getpixel((10, 10))[1] > 240
    # Other PIL images (and copies) keep PIL's own display.
    assert not hasattr(image.copy(), "_ipython_display_")
    assert not hasattr(Image.new("RGB", (4, 4)), "_ipython_display_")


def test_repr_mimebundle_has_one_image_copy_and_honours_include() -> None:
    one = _result((_png((10, 10)), "image/png"), prompt=EVIL)
    data, meta = one._repr_mimebundle_()
    assert set(data) == {"text/plain", "text/html"} and _only_image(data)[0] == "image/png"
    assert meta["jupyter_imagegen"]["prompt"] == EVIL
    two = _result((_png((10, 10)), "image/png"), (_jpeg((10, 10)), "image/jpeg"))
    data, _ = two._repr_mimebundle_()
    assert set(data) == {"text/plain", "text/html"}
    assert data["text/html"].count("<img ") == 2 and "<script>" not in data["text/html"]
    data, _ = two._repr_mimebundle_(exclude={"text/html"})
    assert set(data) == {"text/plain"}


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
