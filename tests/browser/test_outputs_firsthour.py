"""Outputs as a stranger meets them in JupyterLab and Notebook 7 (issue 22), in headless Chromium.

A saved widget whose notebook kept no widget state (Lab's default) shows its snapshot with no
"Error displaying widget" above it; a comparison, the models listing, the help and a single
image fit a narrow output, the help wraps between words, and a single image has alt text.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import nbformat
import pytest
from nbformat.sign import NotebookNotary
from playwright.sync_api import Locator, Page, expect

from .conftest import JupyterServer, open_notebook
from .test_widget_saved import saved_notebook  # noqa: F401  (module fixture: an nbclient run)

pytestmark = pytest.mark.browser


def _without_widget_state(jupyter: JupyterServer, nb: Any, *, trusted: bool) -> str:
    copy = nbformat.from_dict(json.loads(json.dumps(nb)))
    copy.metadata.pop("widgets", None)  # as JupyterLab saves by default: no widget state
    if trusted:
        NotebookNotary(data_dir=str(jupyter.data_dir)).sign(copy)
    name = f"stateless-{uuid.uuid4().hex[:6]}.ipynb"
    nbformat.write(copy, jupyter.root / name)
    return name


@pytest.mark.parametrize("front", ["lab", "notebook7"])
@pytest.mark.parametrize("trusted", [True, False])
def test_saved_widget_without_state_shows_the_snapshot_alone(
    page: Page, jupyter: JupyterServer, saved_notebook: Any, front: str, trusted: bool,  # noqa: F811
    artifact: Any,
) -> None:
    name = _without_widget_state(jupyter, saved_notebook, trusted=trusted)
    url = jupyter.lab_url(name) if front == "lab" else jupyter.notebook_url(name)
    nb = open_notebook(page, url, name)  # a new kernel: no such widget model anywhere
    snapshot = nb.panel.locator(".ig-snapshot")
    expect(snapshot).to_be_visible(timeout=30_000)
    expect(snapshot).to_contain_text("a saved blue square")
    widget_output = nb.cell(0).locator(".jp-OutputArea-child").first
    if trusted:  # the widget manager has looked for the model and said it is not there
        expect(nb.cell(0).get_by_text("model not found")).to_have_count(1, timeout=30_000)
    page.wait_for_timeout(500)
    expect(widget_output).to_be_hidden()
    expect(page.get_by_text("Error displaying widget")).to_be_hidden()
    expect(page.get_by_text("Loading widget")).to_be_hidden()
    artifact(page, f"{front}-{'trusted' if trusted else 'untrusted'}")


_CELLS = [
    "import jupyter_imagegen as ig\n%load_ext jupyter_imagegen",
    "ig.compare('a lighthouse at dusk', ['offline/sketch', 'offline/poster', 'offline/photo'], "
    "progress=False)",
    "%imagegen models",
    "%imagegen help",
    "ig.generate('a red circle above blue waves', 'offline/sketch')",
]

#: Where each line of a <pre> breaks: the characters on both sides of every break.
_BREAKS = """pre => {
  const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT); const chars = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode())
    for (let i = 0; i < node.length; i++) chars.push([node, i]);
  const range = document.createRange(); const found = []; let top = null;
  chars.forEach(([node, i], k) => {
    range.setStart(node, i); range.setEnd(node, i + 1);
    const rect = range.getClientRects()[0];
    if (!rect || node.data[i] === "\\n") { top = null; return; }
    if (top !== null && rect.top > top + 2) {
      const [before, at] = chars[k - 1]; found.push(before.data[at] + node.data[i]); }
    top = rect.top;
  });
  return found; }"""


def _fits(output: Locator) -> dict[str, float]:
    return output.evaluate("""o => { const box = o.getBoundingClientRect();
      let widest = 0; for (const el of o.querySelectorAll('*'))
        widest = Math.max(widest, el.getBoundingClientRect().right - box.left);
      return {width: box.width, widest, height: box.height, scroll: o.scrollWidth - o.clientWidth}; }""")


def test_outputs_fit_a_narrow_notebook(page: Page, jupyter: JupyterServer, artifact: Any) -> None:
    page.set_viewport_size({"width": 680, "height": 900})
    name = jupyter.write_notebook(_CELLS)
    nb = open_notebook(page, jupyter.notebook_url(name), name)
    nb.run_all()
    single = nb.cell(4).locator("img.jupyter-imagegen-image")
    expect(single).to_be_visible(timeout=60_000)
    # The comparison of three models scales into the output instead of a 955 px table.
    table = nb.cell(1).locator("table.jupyter-imagegen-compare")
    expect(table).to_be_visible()
    output = nb.cell(1).locator(".jp-OutputArea-output").last
    fit = _fits(output)
    assert fit["width"] < 660 and fit["widest"] <= fit["width"] + 1 and fit["scroll"] <= 0, fit
    table.scroll_into_view_if_needed()
    artifact(page, "compare")
    # %imagegen models: a few collapsed groups, not a 50-row table.
    models = nb.cell(2).locator(".jupyter-imagegen-groups")
    expect(models).to_be_visible()
    fit = _fits(nb.cell(2).locator(".jp-OutputArea-output").last)
    assert fit["height"] < 400 and fit["widest"] <= fit["width"] + 1, fit
    models.locator("summary", has_text="offline (").click()  # open one group
    expect(models.locator("code", has_text="offline/sketch")).to_be_visible()
    fit = _fits(nb.cell(2).locator(".jp-OutputArea-output").last)
    assert fit["widest"] <= fit["width"] + 1, fit  # its lines wrap on a narrow screen
    models.scroll_into_view_if_needed()
    artifact(page, "models")
    # The help wraps between words only.
    pre = nb.cell(3).locator("pre.jupyter-imagegen-help")
    expect(pre).to_be_visible()
    breaks = pre.evaluate(_BREAKS)
    assert breaks, "the help should need wrapping at this width"
    assert all(pair[0].isspace() or pair[-1].isspace() for pair in breaks), breaks
    pre.scroll_into_view_if_needed()
    artifact(page, "help")
    # A single image: alt text, and never wider than its output.
    alt = single.get_attribute("alt") or ""
    assert alt == "image generated by offline/sketch: a red circle above blue waves", alt
    fit = _fits(nb.cell(4).locator(".jp-OutputArea-output").first)
    assert fit["widest"] <= fit["width"] + 1, fit
    single.scroll_into_view_if_needed()
    artifact(page, "single")
