"""The widget's controls in JupyterLab and Notebook 7: model search, zoom keys, disabled Generate."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from .conftest import WIDGET_CELLS, JupyterServer, NotebookPage, open_notebook

pytestmark = pytest.mark.browser

#: The README's picture: refreshed only when asked (`make docs-images`), so a test run leaves the
#: checkout as it was; otherwise it goes beside the other artifacts to be looked at.
DOCS_IMAGE = Path(__file__).resolve().parents[2] / (
    "docs/images" if os.environ.get("JUPYTER_IMAGEGEN_UPDATE_DOCS") else "test-artifacts") / "widget.png"


def _open(page: Page, jupyter: JupyterServer, *, notebook7: bool = False) -> tuple[NotebookPage, Locator]:
    name = jupyter.write_notebook(WIDGET_CELLS)
    nb = open_notebook(page, jupyter.notebook_url(name) if notebook7 else jupyter.lab_url(name), name)
    nb.run_all()
    return nb, nb.wait_for_widget()


def _generate(widget: Locator, prompt: str, count: int) -> None:
    widget.locator("textarea.ig-prompt").fill(prompt)
    widget.locator("button.ig-generate").click()
    expect(widget.locator(".ig-card")).to_have_count(count, timeout=20_000)
    expect(widget).to_have_attribute("data-status", "done")


def _drop_png(widget: Locator) -> None:
    widget.locator(".ig-drop").evaluate("""async drop => {
      const c = document.createElement('canvas'); c.width = 40; c.height = 30;
      const ctx = c.getContext('2d'); ctx.fillStyle = 'rgb(255,128,0)'; ctx.fillRect(0, 0, 40, 30);
      const blob = await new Promise(r => c.toBlob(r, 'image/png'));
      const dt = new DataTransfer(); dt.items.add(new File([blob], 'orange.png', {type: 'image/png'}));
      drop.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
    }""")
    expect(widget.locator(".ig-input-name")).to_have_text("orange.png")


def _check_picker_and_generate_button(nb: NotebookPage, widget: Locator) -> None:
    search = widget.locator("input.ig-model-search")
    options = widget.locator(".ig-model-option")
    count = widget.locator(".ig-match-count")
    search.click()
    expect(options.first).to_be_visible()
    total = options.count()
    assert total >= 10
    expect(widget.locator(".ig-price")).to_be_hidden()  # the price shows once: in the list now
    search.press_sequentially("offline edi")
    expect(count).to_have_text(f"1 of {total} models")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("offline/editor")
    search.press("Enter")  # the first match
    expect(search).to_have_value("offline/editor")
    expect(widget.locator(".ig-model-list")).to_be_hidden()
    expect(widget.locator(".ig-price")).to_have_text("$0.0390/image (simulated price line)")
    assert nb.kernel_print("print(w.model)") == "offline/editor\n"
    # Arrow keys move through the matches; Escape leaves the model as it was.
    search.click()
    search.fill("offline")
    expect(count).to_have_text(re.compile(rf"^\d+ of {total} models$"))
    search.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    search.press("Escape")
    expect(search).to_have_value("offline/editor")
    search.click()
    search.fill("no such model at all")
    expect(count).to_have_text(f"0 of {total} models")
    expect(widget.locator(".ig-model-empty")).to_have_text("No model matches.")
    search.press("Escape")

    generate, hint = widget.locator("button.ig-generate"), widget.locator(".ig-hint-line")
    prompt = widget.locator("textarea.ig-prompt")
    prompt.fill("")
    expect(generate).to_be_disabled()
    expect(hint).to_have_text("Type a prompt to generate an image.")
    prompt.fill("   ")
    expect(generate).to_be_disabled()
    prompt.fill("an orange square, edited")
    expect(generate).to_be_enabled()
    expect(hint).to_be_hidden()
    _drop_png(widget)
    expect(generate).to_be_enabled()  # the editor takes input images
    nb.choose_model("offline/poster")
    expect(generate).to_be_disabled()
    expect(hint).to_contain_text("cannot take an input image")
    # Seed shows for models that take one, the image count only for those that take n.
    expect(widget.locator(".ig-seed")).to_be_visible()
    expect(widget.locator(".ig-n")).to_be_hidden()
    nb.choose_model("offline/quartet")
    expect(widget.locator(".ig-n")).to_be_visible()
    expect(widget.locator(".ig-n")).to_have_attribute("max", "8")
    widget.locator(".ig-input-clear").click()
    expect(generate).to_be_enabled()


def test_lab_picker_and_disabled_generate(page: Page, jupyter: JupyterServer, artifact: Any) -> None:
    nb, widget = _open(page, jupyter)
    _check_picker_and_generate_button(nb, widget)
    widget.locator("input.ig-model-search").click()
    widget.locator("input.ig-model-search").fill("offline")
    widget.scroll_into_view_if_needed()
    artifact(page, "picker")
    widget.locator("input.ig-model-search").press("Escape")
    nb.choose_model("offline/poster")
    _drop_png(widget)
    artifact(page, "disabled-generate")
    # Narrow: Cancel stays on Generate's line, right beside it.
    page.set_viewport_size({"width": 560, "height": 900})
    page.wait_for_timeout(300)
    generate = widget.locator("button.ig-generate").bounding_box()
    cancel = widget.locator("button.ig-cancel").bounding_box()
    assert generate and cancel
    assert abs(generate["y"] - cancel["y"]) < 2, (generate, cancel)
    assert 0 <= cancel["x"] - (generate["x"] + generate["width"]) < 20, (generate, cancel)
    artifact(page, "narrow")


def _check_zoom(page: Page, nb: NotebookPage, widget: Locator) -> None:
    nb.choose_model("offline/sketch")
    _generate(widget, "one red circle", 1)
    _generate(widget, "a much longer prompt: two blue squares side by side on a soft yellow "
                      "background, drawn with thick outlines", 2)
    _generate(widget, "three green triangles", 3)
    cards = widget.locator(".ig-card")
    heights = {round(cards.nth(i).bounding_box()["height"]) for i in range(3)}  # type: ignore[index]
    assert len(heights) == 1, heights  # equal-height cards despite the long prompt

    cards.nth(0).locator("img.ig-thumb").click()
    zoom = page.locator(".ig-zoom")
    expect(zoom).to_be_visible()
    assert page.evaluate("document.activeElement.classList.contains('ig-zoom')")
    expect(zoom.locator(".ig-zoom-position")).to_have_text("1 / 3")
    expect(zoom.locator(".ig-caption-prompt")).to_have_text("three green triangles")
    expect(zoom.locator("img.ig-zoom-image")).to_have_attribute("data-full", "true")
    viewport = page.viewport_size
    box = zoom.locator(".ig-zoom-panel").bounding_box()
    assert viewport and box
    assert box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= viewport["width"] and box["y"] + box["height"] <= viewport["height"]
    page.keyboard.press("ArrowRight")
    expect(zoom.locator(".ig-zoom-position")).to_have_text("2 / 3")
    expect(zoom.locator(".ig-caption-prompt")).to_contain_text("a much longer prompt")
    page.keyboard.press("ArrowRight")
    expect(zoom.locator(".ig-caption-prompt")).to_have_text("one red circle")
    page.keyboard.press("ArrowRight")  # the oldest: stays
    expect(zoom.locator(".ig-zoom-position")).to_have_text("3 / 3")
    page.keyboard.press("ArrowLeft")
    expect(zoom.locator(".ig-zoom-position")).to_have_text("2 / 3")
    expect(zoom.locator("img.ig-zoom-image")).to_have_attribute("data-full", "true")
    # Arrow keys went to the zoom, not to the notebook (no cell moved or was selected).
    expect(nb.panel.locator(".jp-Cell")).to_have_count(2)


def test_lab_zoom_keys(page: Page, jupyter: JupyterServer, artifact: Any) -> None:
    nb, widget = _open(page, jupyter)
    _check_zoom(page, nb, widget)
    artifact(page, "zoom")
    page.keyboard.press("Escape")
    expect(page.locator(".ig-zoom")).to_be_hidden()
    # Focus returns to the thumbnail; a click outside the panel closes a reopened zoom.
    widget.locator(".ig-card").nth(1).locator("img.ig-thumb").click()
    expect(page.locator(".ig-zoom")).to_be_visible()
    page.mouse.click(5, 5)
    expect(page.locator(".ig-zoom")).to_be_hidden()
    page.set_viewport_size({"width": 1100, "height": 1500})  # the whole widget in view
    page.wait_for_timeout(300)
    widget.scroll_into_view_if_needed()
    DOCS_IMAGE.parent.mkdir(parents=True, exist_ok=True)
    widget.screenshot(path=str(DOCS_IMAGE))  # the README's picture, made by the test suite
    artifact(page, "gallery")
    widget.locator("button.ig-clear").click()
    widget.locator("button.ig-clear-yes").click()  # it asks first
    expect(widget.locator(".ig-card")).to_have_count(0)
    expect(widget.locator(".ig-status")).to_be_hidden()  # no "Done in ..." left over
    expect(widget.locator(".ig-latest img")).to_have_count(0)
    assert nb.kernel_print("print(len(w.results), len(w.history))") == "3 0\n"


def test_notebook7_picker_zoom_and_disabled_generate(
    page: Page, jupyter: JupyterServer, artifact: Any
) -> None:
    nb, widget = _open(page, jupyter, notebook7=True)
    _check_picker_and_generate_button(nb, widget)
    artifact(page, "picker")
    _check_zoom(page, nb, widget)
    artifact(page, "zoom")
    page.keyboard.press("Escape")
    expect(page.locator(".ig-zoom")).to_be_hidden()
