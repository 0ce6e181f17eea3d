"""Exploring in the widget, in JupyterLab and Notebook 7: a prompt matrix typed in the prompt box,
"4 more like this" from the zoom view, a region dragged and painted on an image, and stars.

Everything is checked where it lands: the grid's labels and cells in the page, the picks and the
pixels in the kernel (outside the region's feather band not one pixel changed).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from .conftest import JupyterServer, NotebookPage, open_notebook

pytestmark = pytest.mark.browser

CELLS = [
    "from jupyter_imagegen import ImageGenWidget\nw = ImageGenWidget(model='offline/editor')\nw",
    "print('KERNEL-ALIVE', w.status)",
]
UNTOUCHED = """
from PIL import ImageChops
before, after = w.results[-2], w.results[-1]
l, t, r, b = after.params['region']['box']
band = 2 * after.params['region']['feather']
d = ImageChops.difference(before.images[0].convert('RGB'), after.images[0].convert('RGB'))
box = d.getbbox()
inside = box is not None and box[0] >= l - band and box[1] >= t - band \
    and box[2] <= r + band and box[3] <= b + band
print('REGION', after.prompt, inside, d.crop((l, t, r, b)).getbbox() is not None)
"""


def _open(page: Page, jupyter: JupyterServer, where: str) -> tuple[NotebookPage, Locator]:
    name = jupyter.write_notebook(CELLS)
    url = jupyter.notebook_url(name) if where == "notebook7" else jupyter.lab_url(name)
    nb = open_notebook(page, url, name)
    nb.run_all()
    return nb, nb.wait_for_widget()


def _matrix_and_stars(page: Page, nb: NotebookPage, widget: Locator, artifact: Any) -> None:
    widget.locator("textarea.ig-prompt").fill("a {red|blue} lighthouse at {dawn|dusk}")
    widget.locator("button.ig-generate").click()
    grid = widget.locator(".ig-matrix")
    expect(grid.locator(".ig-grid-cell[data-state='done']")).to_have_count(4, timeout=30_000)
    expect(widget).to_have_attribute("data-status", "done")
    expect(grid.locator(".ig-grid-col")).to_have_text(["dawn", "dusk"])
    expect(grid.locator(".ig-grid-row")).to_have_text(["red", "blue"])
    expect(grid.locator(".ig-grid-note")).to_contain_text(
        re.compile(r"4 of 4 done · 4 images, up to \$[\d.]+ \(simulated\)"))
    # Every thumbnail decoded in the page (a broken image has no natural width).
    widths = grid.locator("img.ig-grid-thumb").evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert len(widths) == 4 and all(w > 0 for w in widths)
    star = grid.locator(".ig-grid-cell").nth(1).locator("button.ig-star")
    star.click()
    expect(star).to_have_attribute("aria-pressed", "true")
    expect(grid.locator(".ig-grid-cell").nth(1)).to_have_class(re.compile("ig-starred"))
    assert nb.kernel_print("print([r.prompt for r in w.picks])") == "['a red lighthouse at dusk']\n"
    artifact(page, "matrix")


def _more_like_this(page: Page, nb: NotebookPage, widget: Locator, artifact: Any) -> None:
    widget.locator(".ig-grid-cell").first.locator("img.ig-grid-thumb").click()
    zoom = page.locator(".ig-zoom")
    expect(zoom).to_be_visible()
    expect(zoom.locator(".ig-caption-prompt")).to_have_text("a red lighthouse at dawn")
    zoom.locator("button.ig-more").click()
    expect(zoom).to_be_hidden()
    strip = widget.locator(".ig-matrix[data-kind='variations']")
    expect(strip.locator(".ig-grid-cell[data-state='done']")).to_have_count(5, timeout=30_000)
    expect(strip.locator(".ig-grid-col").first).to_have_text("original")
    expect(strip.locator(".ig-grid-col").nth(4)).to_have_text(re.compile(r"^seed \d+$"))
    seeds = nb.kernel_print("print(sorted(c.result.params['seed'] for c in w.comparison.batch.items[1:]))")
    shown = sorted(int(t.split()[1]) for t in strip.locator(".ig-grid-col").all_text_contents()[1:])
    assert seeds == f"{shown}\n"  # the labels are the seeds the kernel sent
    artifact(page, "variations")


def _drag(page: Page, canvas: Locator, start: tuple[float, float], end: tuple[float, float]) -> None:
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1])
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1], steps=8)
    page.mouse.up()


def _region_edit(page: Page, nb: NotebookPage, widget: Locator, artifact: Any, mode: str,
                 count: int) -> None:
    widget.locator("img.ig-image").first.click()
    zoom = page.locator(".ig-zoom")
    expect(zoom).to_be_visible()
    expect(zoom.locator("img.ig-zoom-image")).to_have_attribute("data-full", "true")
    zoom.locator("button.ig-region").click()
    canvas = zoom.locator("canvas.ig-region-canvas")
    expect(canvas).to_be_visible()
    apply = zoom.locator("button.ig-region-apply")
    if mode == "paint":
        zoom.locator("button.ig-region-paint").click()
    _drag(page, canvas, (0.25, 0.3), (0.55, 0.6))
    zoom.locator("input.ig-region-prompt").fill("a red door")
    expect(apply).to_be_enabled()
    # The drawn region shows over the image (the canvas is not blank).
    painted = canvas.evaluate(
        "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v)")
    assert painted
    artifact(page, f"region-{mode}")
    apply.click()
    expect(zoom).to_be_hidden()
    expect(widget.locator(".ig-card")).to_have_count(count, timeout=30_000)
    expect(widget).to_have_attribute("data-status", "done")
    expect(widget.locator(".ig-card").first.locator(".ig-caption-prompt")).to_have_text("a red door")
    assert nb.kernel_print(UNTOUCHED) == "REGION a red door True True\n"


@pytest.mark.parametrize("where", ["lab", "notebook7"])
def test_explore_matrix_strip_region_and_stars(page: Page, jupyter: JupyterServer, artifact: Any,
                                               where: str) -> None:
    nb, widget = _open(page, jupyter, where)
    _matrix_and_stars(page, nb, widget, artifact)
    _more_like_this(page, nb, widget, artifact)
    widget.locator("textarea.ig-prompt").fill("a plain green field")
    widget.locator("button.ig-generate").click()
    expect(widget.locator(".ig-card")).to_have_count(1, timeout=30_000)
    _region_edit(page, nb, widget, artifact, "box", 2)
    widget.locator(".ig-card").first.locator("button.ig-star").click()
    expect(widget.locator(".ig-card").first).to_have_class(re.compile("ig-starred"))
    _region_edit(page, nb, widget, artifact, "paint", 3)
    artifact(page, "after-edits")
    out = nb.kernel_print("print(len(w.picks), [r.prompt for r in w.picks])")
    assert out == "2 ['a red lighthouse at dusk', 'a red door']\n"
    assert "KERNEL-ALIVE" in nb.cell(1).inner_text()
