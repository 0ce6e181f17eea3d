"""A saved widget notebook reopened with no kernel, trusted or not, in JupyterLab and Notebook 7.

The notebook is executed by nbclient (which saves widget state) against the local backend, then
opened with a kernelspec nobody has, and the kernel dialog is answered "No Kernel".
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.sign import NotebookNotary
from playwright.sync_api import Locator, Page, expect

from jupyter_imagegen.server import LocalServer

from .conftest import SECRET_KEY, WIDGET_CELLS, JupyterServer, open_notebook

pytestmark = pytest.mark.browser

_DECODED = """async img => { await img.decode();
  const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
  const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
  const all = ctx.getImageData(0, 0, c.width, c.height).data; const colours = new Set();
  for (let i = 0; i < all.length; i += 4 * 37) colours.add((all[i] << 16) | (all[i + 1] << 8) | all[i + 2]);
  return {w: img.naturalWidth, h: img.naturalHeight, colours: colours.size}; }"""


@pytest.fixture(scope="module")
def saved_notebook(backend: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A widget notebook run by nbclient: two generations, widget state saved."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from jupyter_imagegen import ImageGenWidget\n"
                                  "w = ImageGenWidget(model='offline/sketch')\nw"),
        nbformat.v4.new_code_cell("w.generate('a saved red circle').result(30); w.wait(5)"),
        nbformat.v4.new_code_cell("w.generate('a saved blue square').result(30); w.wait(5)"),
    ])
    env_path = tmp_path_factory.mktemp("nbclient")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENROUTER_BASE_URL", backend.base_url)
        mp.setenv("OPENROUTER_API_KEY", SECRET_KEY)
        NotebookClient(nb, timeout=90, kernel_name="python3",
                       resources={"metadata": {"path": str(env_path)}}).execute()
    assert "widgets" in nb.metadata
    return nb


def _write(jupyter: JupyterServer, nb: Any, *, trusted: bool, kernel: bool = False) -> str:
    name = f"saved-{'trusted' if trusted else 'untrusted'}-{uuid.uuid4().hex[:6]}.ipynb"
    copy = nbformat.from_dict(json.loads(json.dumps(nb)))
    if not kernel:
        # A kernel and a language nobody has: opening it asks which kernel; the answer is "No Kernel".
        copy.metadata["kernelspec"] = {"name": "imagegen-absent", "display_name": "Absent",
                                       "language": "imagegen-absent"}
        copy.metadata["language_info"] = {"name": "imagegen-absent"}
    if trusted:
        NotebookNotary(data_dir=str(jupyter.data_dir)).sign(copy)
    nbformat.write(copy, jupyter.root / name)
    return name


def _open_without_kernel(page: Page, url: str, name: str) -> Locator:
    page.goto(url)
    page.locator(".jp-Dialog").get_by_role("button", name="No Kernel", exact=True).click(timeout=60_000)
    page.wait_for_function(
        """name => { const w = window.jupyterapp?.shell?.currentWidget;
            return w && w.context && w.context.path === name && w.context.isReady; }""",
        arg=name, timeout=60_000)
    panel_id = page.evaluate("window.jupyterapp.shell.currentWidget.id")
    kernel = "window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel ?? null"
    assert page.evaluate(kernel) is None
    return page.locator(f"[id='{panel_id}']")


def _check_restored_widget(page: Page, panel: Locator) -> None:
    """Trusted: the widget renders from saved state, says it needs a re-run, shows the previews."""
    widget = panel.locator(".ig-root")
    expect(widget).to_be_visible(timeout=30_000)
    expect(widget).to_have_attribute("data-live", "false")
    expect(widget.locator(".ig-offline")).to_be_visible()
    expect(widget.locator(".ig-offline")).to_contain_text("re-run its cell")
    # No dead controls: no picker, prompt, Generate, downloads or reuse buttons.
    for selector in ("button.ig-generate", "textarea.ig-prompt", "input.ig-model-search",
                     ".ig-actions", "button.ig-clear"):
        expect(widget.locator(selector).first).to_be_hidden()
    # The saved previews decode: no broken images.
    latest = widget.locator(".ig-latest img.ig-image")
    expect(latest).to_have_count(1)
    assert latest.evaluate(_DECODED)["colours"] > 3
    thumbs = widget.locator(".ig-card img.ig-thumb")
    expect(thumbs).to_have_count(2)
    for i in range(2):
        assert thumbs.nth(i).evaluate(_DECODED)["w"] > 0
    expect(widget.locator(".ig-card .ig-caption-prompt").first).to_have_text("a saved blue square")
    # The static snapshot beside it is hidden: the widget shows the same images itself.
    expect(panel.locator(".ig-snapshot")).to_be_hidden()
    assert SECRET_KEY not in page.content()


def _check_snapshot(panel: Locator) -> None:
    """The static snapshot is what the reader sees: captions and decoded raster images."""
    snapshot = panel.locator(".ig-snapshot")
    expect(snapshot).to_be_visible(timeout=30_000)
    expect(snapshot).to_contain_text("re-run the cell to use the widget")
    expect(snapshot).to_contain_text("a saved blue square")
    expect(snapshot).to_contain_text("a saved red circle")
    images = snapshot.locator("img")
    expect(images).to_have_count(3)  # the newest preview and two history thumbnails
    for i in range(3):
        info = images.nth(i).evaluate(_DECODED)
        assert info["w"] > 0 and info["colours"] > 3, info
    # Nothing that looks usable but is dead.
    expect(panel.locator(".ig-root button.ig-generate")).to_have_count(0)


def test_lab_reopened_trusted_without_kernel(page: Page, jupyter: JupyterServer,
                                            saved_notebook: Any, artifact: Any) -> None:
    # With no kernel at all, Lab's widget manager never gets to restore the saved models (the
    # output stays at Lab's own "Loading widget..."): the snapshot beside it is what shows.
    name = _write(jupyter, saved_notebook, trusted=True)
    panel = _open_without_kernel(page, jupyter.lab_url(name), name)
    _check_snapshot(panel)
    artifact(page, "no-kernel")


def test_notebook7_reopened_trusted_without_kernel(page: Page, jupyter: JupyterServer,
                                                  saved_notebook: Any, artifact: Any) -> None:
    name = _write(jupyter, saved_notebook, trusted=True)
    panel = _open_without_kernel(page, jupyter.notebook_url(name), name)
    _check_snapshot(panel)
    artifact(page, "no-kernel")


def test_lab_reopened_trusted_in_a_new_kernel(page: Page, jupyter: JupyterServer,
                                              saved_notebook: Any, artifact: Any) -> None:
    # The same notebook opened with its own kernelspec: a fresh kernel starts, the cell is not
    # re-run, so the kernel has no such widget either.
    name = _write(jupyter, saved_notebook, trusted=True, kernel=True)
    nb = open_notebook(page, jupyter.lab_url(name), name)
    _check_restored_widget(page, nb.panel)
    assert nb.kernel_print("print('w' in globals())") == "False\n"
    artifact(page, "restored")


def test_notebook7_reopened_trusted_in_a_new_kernel(page: Page, jupyter: JupyterServer,
                                                    saved_notebook: Any, artifact: Any) -> None:
    name = _write(jupyter, saved_notebook, trusted=True, kernel=True)
    nb = open_notebook(page, jupyter.notebook_url(name), name)
    _check_restored_widget(page, nb.panel)
    artifact(page, "restored")


def test_lab_reopened_untrusted_shows_the_snapshot(page: Page, jupyter: JupyterServer,
                                                  saved_notebook: Any, artifact: Any) -> None:
    name = _write(jupyter, saved_notebook, trusted=False)
    panel = _open_without_kernel(page, jupyter.lab_url(name), name)
    # Untrusted, no kernel: Lab leaves the widget output at its "Loading widget..." placeholder
    # (the sanitised snapshot HTML still renders, images included).
    _check_snapshot(panel)
    expect(panel.locator(".ig-root")).to_have_count(0)
    snapshot = panel.locator(".ig-snapshot")
    snapshot.scroll_into_view_if_needed()
    artifact(page, "snapshot")


def test_lab_save_after_a_click_keeps_the_snapshot_current(
    page: Page, jupyter: JupyterServer, artifact: Any
) -> None:
    name = jupyter.write_notebook(WIDGET_CELLS)
    nb = open_notebook(page, jupyter.lab_url(name), name)
    nb.run_all()
    widget = nb.wait_for_widget()
    nb.choose_model("offline/sketch")
    widget.locator("textarea.ig-prompt").fill("a clicked green star")
    widget.locator("button.ig-generate").click()
    expect(widget.locator(".ig-card")).to_have_count(1, timeout=20_000)
    expect(nb.panel.locator(".ig-snapshot")).to_be_hidden()  # the live widget hides it
    page.wait_for_timeout(500)
    page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty")
    saved = nbformat.read(Path(jupyter.root / name), as_version=4)
    outputs = saved.cells[0].outputs
    (snapshot,) = [o for o in outputs if "data-ig-snapshot" in o.get("data", {}).get("text/html", "")]
    assert "a clicked green star" in snapshot["data"]["text/html"]
    assert "1 result; newest: 'a clicked green star'" in snapshot["data"]["text/plain"]
    assert snapshot["data"]["text/html"].count("data:image/") == 2
    assert SECRET_KEY not in (jupyter.root / name).read_text()
