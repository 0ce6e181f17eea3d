"""A downloaded image carries its recipe: dropped back on the widget in JupyterLab (headless
Chromium), it restores prompt, model, aspect ratio, size and seed, and Generate makes it again.
"""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from jupyter_imagegen._wire.containers import read_xmp_packet
from jupyter_imagegen._wire.pngmeta import read_png_text
from jupyter_imagegen._wire.xmp import AI_SOURCE_TYPE, read_xmp
from jupyter_imagegen.server import LocalServer

from .conftest import WIDGET_CELLS, JupyterServer, open_notebook

pytestmark = pytest.mark.browser

_DROP = """async (drop, [b64, name]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const dt = new DataTransfer(); dt.items.add(new File([bytes], name, {type: 'image/png'}));
  drop.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
}"""


def test_lab_a_downloaded_image_dropped_back_restores_and_reproduces(
        page: Page, jupyter: JupyterServer, backend: LocalServer, artifact: Any) -> None:
    name = jupyter.write_notebook(WIDGET_CELLS)
    nb = open_notebook(page, jupyter.lab_url(name), name)
    nb.run_all()
    widget = nb.wait_for_widget()
    nb.choose_model("offline/sketch")
    widget.locator("select.ig-aspect").select_option("16:9")
    widget.locator("select.ig-size").select_option("0.5K")
    widget.locator("textarea.ig-prompt").fill("two orange circles on a green field")
    widget.locator("button.ig-generate").click()
    expect(widget.locator(".ig-latest img.ig-image")).to_have_count(1, timeout=20_000)
    expect(widget).to_have_attribute("data-status", "done")
    seed = int(nb.kernel_print("print(w.results[-1].seed)"))
    sent = [r.json for r in backend.requests if r.method == "POST"][-1]
    assert sent["seed"] == seed  # chosen by the kit, sent, and recorded

    with page.expect_download() as info:
        widget.locator(".ig-latest button.ig-download").click()
    saved = Path(info.value.path()).read_bytes()
    meta = read_png_text(saved)
    assert meta["prompt"] == "two orange circles on a green field"
    assert json.loads(meta["parameters"])["seed"] == seed
    assert read_xmp(read_xmp_packet(saved, "image/png") or "")["Iptc4xmpExt:DigitalSourceType"] \
        == AI_SOURCE_TYPE

    # Change everything, then drop the downloaded file back on the widget.
    nb.choose_model("offline/poster")
    widget.locator("select.ig-aspect").select_option("1:1")
    widget.locator("textarea.ig-prompt").fill("something else entirely")
    widget.locator(".ig-drop").evaluate(_DROP, [base64.b64encode(saved).decode(), "fox.png"])
    expect(widget.locator("textarea.ig-prompt")).to_have_value("two orange circles on a green field")
    expect(widget.locator("input.ig-model-search")).to_have_value("offline/sketch")
    expect(widget.locator("select.ig-aspect")).to_have_value("16:9")
    expect(widget.locator("select.ig-size")).to_have_value("0.5K")
    expect(widget.locator("input.ig-seed")).to_have_value(str(seed))
    expect(widget.locator(".ig-status-text")).to_have_text(
        re.compile(r"^Settings restored from fox\.png: offline/sketch, 16:9, 0\.5K, seed \d+\.$"))
    expect(widget.locator(".ig-input-thumb")).to_have_count(0)  # a recipe, not an input image
    widget.scroll_into_view_if_needed()
    artifact(page, "restored")

    widget.locator("button.ig-generate").click()
    expect(widget.locator(".ig-card")).to_have_count(2, timeout=20_000)
    expect(widget).to_have_attribute("data-status", "done")
    assert [r.json for r in backend.requests if r.method == "POST"][-1]["seed"] == seed
    same = nb.kernel_print("print(w.results[0].image.tobytes() == w.results[1].image.tobytes())")
    assert same == "True\n"  # same request, same image

    # An image the kit did not write still becomes the input image.
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (255, 128, 0)).save(buffer, "PNG")
    nb.choose_model("offline/editor")
    widget.locator(".ig-drop").evaluate(_DROP, [base64.b64encode(buffer.getvalue()).decode(),
                                                "orange.png"])
    expect(widget.locator(".ig-input-name")).to_have_text("orange.png")
    expect(widget.locator("textarea.ig-prompt")).to_have_value("two orange circles on a green field")
    artifact(page, "input-image")
