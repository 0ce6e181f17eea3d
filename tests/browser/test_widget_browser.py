"""ImageGenWidget driven like a person in JupyterLab 4 and Notebook 7 (headless Chromium)."""

from __future__ import annotations

import ast
import io
import re
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, expect

from jupyter_imagegen._wire.pngmeta import read_png_text
from jupyter_imagegen._wire.sizes import pixel_size
from jupyter_imagegen.server import Fault, LocalServer

from .conftest import SECRET_KEY, WIDGET_CELLS, JupyterServer, NotebookPage, open_notebook

pytestmark = pytest.mark.browser

#: Draws the <img> on a canvas (blob: URLs are same-origin, so pixels are readable).
_DECODE = """async img => {
  await img.decode();
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
  const px = Array.from(ctx.getImageData(10, 10, 1, 1).data.slice(0, 3));
  const all = ctx.getImageData(0, 0, c.width, c.height).data; const colours = new Set();
  for (let i = 0; i < all.length; i += 4 * 101) colours.add((all[i] << 16) | (all[i + 1] << 8) | all[i + 2]);
  return {w: img.naturalWidth, h: img.naturalHeight, src: img.src, px, colours: colours.size};
}"""


def _eventually(nb: NotebookPage, code: str, expected: str, timeout: float = 5.0) -> None:
    """Poll the kernel: ipywidgets may hold a state sync back while another is in flight."""
    deadline = time.monotonic() + timeout
    while (out := nb.kernel_print(code)) != expected:
        assert time.monotonic() < deadline, f"{code!r} printed {out!r}, expected {expected!r}"
        time.sleep(0.1)


def _chat_requests(backend: LocalServer) -> list[Any]:
    return [r.json for r in backend.requests if r.path.endswith("/chat/completions")]


def _generate(widget: Locator, prompt: str) -> None:
    widget.locator("textarea.ig-prompt").fill(prompt)
    widget.locator("button.ig-generate").click()


def _open(page: Page, jupyter: JupyterServer, *, notebook7: bool = False) -> tuple[NotebookPage, Locator]:
    name = jupyter.write_notebook(WIDGET_CELLS)
    url = jupyter.notebook_url(name) if notebook7 else jupyter.lab_url(name)
    nb = open_notebook(page, url, name)
    nb.run_all()
    return nb, nb.wait_for_widget()


def _check_decoded(nb: NotebookPage, img: Locator, size: tuple[int, int]) -> None:
    """The page shows a decoded preview (no larger than 384 px) of an image of ``size``."""
    info = img.evaluate(_DECODE)
    scale = min(1.0, 384 / max(size))
    assert abs(info["w"] - size[0] * scale) <= 1 and abs(info["h"] - size[1] * scale) <= 1, info
    assert info["src"].startswith("blob:")
    assert info["colours"] > 3  # a drawing, not a blank
    assert (img.get_attribute("data-width"), img.get_attribute("data-height")) == tuple(map(str, size))


def _check_full(nb: NotebookPage, zoomed: Locator, size: tuple[int, int], which: int = -1) -> None:
    """The zoom swapped in the full-size original: the kernel's exact pixels."""
    expect(zoomed).to_have_attribute("data-full", "true")
    info = zoomed.evaluate(_DECODE)
    assert (info["w"], info["h"]) == size
    kernel_px = ast.literal_eval(nb.kernel_print(
        f"print(w.results[{which}].images[0].convert('RGB').getpixel((10, 10)))"))
    assert tuple(info["px"]) == kernel_px


def test_lab_main_path(page: Page, jupyter: JupyterServer, backend: LocalServer, artifact: Any) -> None:
    nb, widget = _open(page, jupyter)
    nb.choose_model("offline/poster")
    expect(widget.locator(".ig-price")).to_have_text("$0.0400/image (simulated price line)")
    widget.locator("select.ig-aspect").select_option("16:9")
    widget.locator("select.ig-size").select_option("0.5K")
    _generate(widget, "a red circle and a blue square")

    img = widget.locator(".ig-latest img.ig-image")
    expect(img).to_have_count(1, timeout=20_000)
    expect(widget).to_have_attribute("data-status", "done")
    _check_decoded(nb, img, pixel_size("16:9", "0.5K"))
    # offline/poster outputs only images and the Image API serves it: the client sends it there.
    body = [r.json for r in backend.requests if r.method == "POST" and r.path.endswith("/images")][-1]
    assert body["model"] == "offline/poster"
    assert (body["aspect_ratio"], body["resolution"]) == ("16:9", "512")
    latest = widget.locator(".ig-latest")
    expect(latest.locator(".ig-caption-prompt")).to_have_text("a red circle and a blue square")
    # An offline/ model's price is simulated, and says so (Image API answers name no provider).
    expect(latest.locator(".ig-caption-meta")).to_contain_text(
        "offline/poster · 672x384 · offline · simulated $0.04")
    # Download: the kernel prepares the file, named after prompt and time, with save()'s metadata.
    with page.expect_download() as info:
        latest.locator("button.ig-download").click()
    saved = Path(info.value.path()).read_bytes()
    assert re.fullmatch(r"a-red-circle-and-a-blue-square-\d{8}-\d{6}\.png", info.value.suggested_filename)
    meta = read_png_text(saved)
    assert (meta["prompt"], meta["model"]) == ("a red circle and a blue square", "offline/poster")
    assert Image.open(io.BytesIO(saved)).size == pixel_size("16:9", "0.5K")

    first_url = img.get_attribute("src")
    # Ctrl+Enter in the prompt generates (and does not run the cell or add one).
    prompt = widget.locator("textarea.ig-prompt")
    prompt.fill("three green triangles")
    prompt.press("Control+Enter")
    cards = widget.locator(".ig-card")
    expect(cards).to_have_count(2, timeout=20_000)
    expect(cards.nth(0).locator(".ig-caption-prompt")).to_have_text("three green triangles")
    expect(cards.nth(1).locator(".ig-caption-prompt")).to_have_text("a red circle and a blue square")
    expect(nb.panel.locator(".jp-Cell")).to_have_count(2)
    # The replaced image's object URL was revoked (fetching it fails); the new one is live.
    revoked = "url => fetch(url).then(() => false, () => true)"
    assert page.evaluate(revoked, first_url) is True
    assert page.evaluate(revoked, img.get_attribute("src")) is False
    assert nb.kernel_print("print(len(w.results), w.results[-1].prompt)") == "2 three green triangles\n"

    # Enlarging the older result fetches its full image as a binary custom message.
    cards.nth(1).locator("img.ig-thumb").click()
    zoomed = page.locator(".ig-zoom img.ig-zoom-image")
    expect(zoomed).to_be_visible()
    _check_full(nb, zoomed, pixel_size("16:9", "0.5K"), which=0)
    # Reuse the older prompt from the enlarged view.
    page.locator(".ig-zoom button.ig-reuse").click()
    expect(page.locator(".ig-zoom")).to_be_hidden()
    expect(prompt).to_have_value("a red circle and a blue square")
    _eventually(nb, "print(w.prompt)", "a red circle and a blue square\n")

    widget.scroll_into_view_if_needed()
    artifact(page, "light")
    page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_selector("body[data-jp-theme-light='false']", state="attached")
    page.wait_for_timeout(300)
    background = widget.evaluate("e => getComputedStyle(e).backgroundColor")
    red, green, blue = (int(v) for v in background[background.index("(") + 1:-1].split(",")[:3])
    assert red + green + blue < 3 * 90, background  # dark theme variables apply
    artifact(page, "dark")
    page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    assert SECRET_KEY not in page.content()


def test_lab_cancel_slow_generation_kernel_stays_usable(
    page: Page, jupyter: JupyterServer, backend: LocalServer, artifact: Any
) -> None:
    nb, widget = _open(page, jupyter)
    nb.choose_model("offline/sketch")
    backend.faults.push(Fault("slow", delay=8))
    _generate(widget, "a slow purple hexagon")
    expect(widget).to_have_attribute("data-status", "running")
    expect(widget.locator(".ig-status-text")).to_have_text("Generating...")
    expect(widget.locator("button.ig-cancel")).to_be_enabled()
    expect(widget.locator("button.ig-generate")).to_be_disabled()

    # The kernel is free while the widget generates: another cell runs and prints.
    output = nb.cell(1).locator(".jp-OutputArea-output")
    expect(output).to_have_text("KERNEL-ALIVE idle")  # from Run All, before generating
    nb.run_cell(1)
    expect(output).to_have_text("KERNEL-ALIVE running", timeout=5_000)
    assert nb.kernel_print("print(w.status)") == "running\n"
    # The elapsed time keeps counting while the request is pending.
    widget.locator(".ig-elapsed").evaluate(
        "e => new Promise(ok => { const t = setInterval(() => { if (parseFloat(e.textContent) >= 1.5)"
        " { clearInterval(t); ok(); } }, 50); })")
    assert "keep-alive" not in widget.locator(".ig-status").inner_text()
    artifact(page, "running")

    widget.locator("button.ig-cancel").click()
    expect(widget).to_have_attribute("data-status", "cancelled", timeout=3_000)
    expect(widget.locator(".ig-status-text")).to_have_text("Cancelled.")
    expect(widget.locator("textarea.ig-prompt")).to_have_value("a slow purple hexagon")
    expect(widget.locator("button.ig-generate")).to_be_enabled()
    expect(widget.locator(".ig-latest img")).to_have_count(0)
    assert nb.kernel_print("print(w.status, len(w.results))") == "cancelled 0\n"


def test_lab_injected_error_is_shown_and_prompt_kept(
    page: Page, jupyter: JupyterServer, backend: LocalServer, artifact: Any
) -> None:
    nb, widget = _open(page, jupyter)
    backend.faults.push(Fault("402"))
    _generate(widget, "an expensive golden star")
    error = widget.locator(".ig-error")
    expect(error).to_be_visible(timeout=10_000)
    expect(error).to_contain_text("Insufficient credits")
    expect(widget).to_have_attribute("data-status", "error")
    expect(widget.locator("textarea.ig-prompt")).to_have_value("an expensive golden star")
    assert "Traceback" not in nb.panel.inner_text()
    expect(nb.panel.locator("[data-mime-type='application/vnd.jupyter.stderr']")).to_have_count(0)
    artifact(page, "error")

    # The next attempt clears the error and succeeds.
    widget.locator("button.ig-generate").click()
    expect(widget.locator(".ig-latest img")).to_have_count(1, timeout=20_000)
    expect(error).to_be_hidden()


def test_lab_prompt_is_text_not_html_and_dropped_input_image(
    page: Page, jupyter: JupyterServer, backend: LocalServer, artifact: Any
) -> None:
    nb, widget = _open(page, jupyter)
    page.evaluate("window.__pwned = false")
    nb.choose_model("offline/editor")
    # Drop a 40x30 orange PNG made in the page onto the widget.
    widget.locator(".ig-drop").evaluate("""async drop => {
      const c = document.createElement('canvas'); c.width = 40; c.height = 30;
      const ctx = c.getContext('2d'); ctx.fillStyle = 'rgb(255,128,0)'; ctx.fillRect(0, 0, 40, 30);
      const blob = await new Promise(r => c.toBlob(r, 'image/png'));
      const dt = new DataTransfer(); dt.items.add(new File([blob], 'orange.png', {type: 'image/png'}));
      drop.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
    }""")
    expect(widget.locator(".ig-input-name")).to_have_text("orange.png")
    _eventually(nb, "print(w.input_name, w.input_mime, w.input_image[:4])",
                "orange.png image/png b'\\x89PNG'\n")

    evil = '<img src=x onerror="window.__pwned=true"> and a blue circle'
    _generate(widget, evil)
    expect(widget.locator(".ig-latest img.ig-image")).to_have_count(1, timeout=20_000)
    content = _chat_requests(backend)[-1]["messages"][-1]["content"]
    assert [p["type"] for p in content] == ["text", "image_url"]
    expect(widget.locator(".ig-latest .ig-caption-prompt")).to_have_text(evil)
    expect(widget.locator(".ig-card .ig-caption-prompt")).to_have_text(evil)
    expect(widget.locator(".ig-latest .ig-caption-text")).to_contain_text(evil)  # the model's reply
    assert page.locator("img[src='x']").count() == 0
    assert page.evaluate("window.__pwned") is False
    artifact(page, "text-not-html")


def test_notebook7_main_path(page: Page, jupyter: JupyterServer, backend: LocalServer, artifact: Any) -> None:
    nb, widget = _open(page, jupyter, notebook7=True)
    nb.choose_model("offline/sketch")
    widget.locator("select.ig-aspect").select_option("3:2")
    widget.locator("select.ig-size").select_option("0.5K")
    _generate(widget, "two yellow circles on a green background")
    img = widget.locator(".ig-latest img.ig-image")
    expect(img).to_have_count(1, timeout=20_000)
    _check_decoded(nb, img, pixel_size("3:2", "0.5K"))
    expect(widget.locator(".ig-card")).to_have_count(1)
    widget.scroll_into_view_if_needed()
    artifact(page, "notebook7")
    assert SECRET_KEY not in page.content()
