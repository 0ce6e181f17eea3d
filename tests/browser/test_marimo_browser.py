"""The marimo demo in a real marimo page (headless Chromium): typing, zoom, and a static export.

``marimo run`` serves the shipped ``notebooks/marimo_demo.py`` (offline: no key, the kit's own
server); the exported HTML page loads marimo's front end from a CDN, which the test answers from
the marimo package's own copy of those files, so nothing leaves the machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, Route, expect

from .conftest import _free_port

pytestmark = pytest.mark.browser

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "marimo_demo.py"
GENERATED_ONCE = "The widget generated 1 result(s)"


def _marimo() -> str:
    found = shutil.which("marimo", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("marimo is not installed (pip install 'jupyter-imagegen[marimo]')")
    return found


def _offline_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OPENROUTER_")}


@pytest.fixture(scope="module")
def marimo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``marimo run`` of a copy of the demo (marimo writes beside the notebook)."""
    folder = tmp_path_factory.mktemp("marimo-run")
    shutil.copy(NOTEBOOK, folder / NOTEBOOK.name)
    port = _free_port()
    log = (folder / "marimo.log").open("wb")
    proc = subprocess.Popen(
        [_marimo(), "run", NOTEBOOK.name, "--headless", "--host", "127.0.0.1", "--port", str(port),
         "--no-token"], cwd=folder, env=_offline_env(), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"marimo exited: {(folder / 'marimo.log').read_text()[-2000:]}")
            try:
                if requests.get(url, timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "marimo run did not start within 60 s"
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()


def test_typing_in_the_widget_does_not_generate_again(page: Page, marimo_app: str,
                                                      artifact: Any) -> None:
    page.goto(marimo_app)
    expect(page.get_by_text(GENERATED_ONCE)).to_be_visible(timeout=90_000)
    widget = page.locator(".ig-root")
    expect(widget).to_have_attribute("data-live", "true", timeout=30_000)
    history = widget.locator(".ig-history-title")
    expect(history).to_contain_text("History (1)")
    prompt = widget.locator("textarea.ig-prompt")
    expect(prompt).to_have_value("a purple cat at night")  # what the Python cell generated
    prompt.fill("")
    prompt.press_sequentially("a quiet harbour", delay=120)  # each key syncs the prompt
    page.wait_for_timeout(3000)
    expect(prompt).to_have_value("a quiet harbour")  # not overwritten by a re-run
    expect(history).to_contain_text("History (1)")  # and nothing generated again
    expect(page.get_by_text(GENERATED_ONCE)).to_be_visible()
    artifact(page, "typed")
    # Zoom opens styled: inside the widget's shadow root, fixed over the page.
    widget.locator(".ig-latest img.ig-image").click()
    zoom = page.locator(".ig-zoom")
    expect(zoom).to_be_visible()
    expect(zoom.locator("img.ig-zoom-image")).to_have_attribute("data-full", "true")
    info = zoom.evaluate("""z => { const s = getComputedStyle(z), r = z.getBoundingClientRect();
      return {shadow: z.getRootNode() instanceof ShadowRoot, position: s.position,
              background: s.backgroundColor, w: r.width, h: r.height, top: r.top}; }""")
    viewport = page.viewport_size or {"width": 0, "height": 0}
    assert info["shadow"] and info["position"] == "fixed", info
    assert info["background"] == "rgba(0, 0, 0, 0.6)", info
    assert (info["w"], info["h"], info["top"]) == (viewport["width"], viewport["height"], 0), info
    artifact(page, "zoom")
    page.keyboard.press("Escape")
    expect(zoom).to_be_hidden()


def _from_the_package(static: Path) -> Any:
    def answer(route: Route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:")):
            route.continue_()
            return
        if "/@marimo-team/frontend@" in url and "/dist/" in url:
            local = static / url.split("/dist/", 1)[1].split("?", 1)[0]
            if local.is_file():
                route.fulfill(path=str(local))
                return
        route.abort()  # nothing else goes out

    return answer


def test_a_static_export_says_the_widget_is_static(page: Page, tmp_path: Path, artifact: Any) -> None:
    import marimo

    notebook = tmp_path / NOTEBOOK.name
    shutil.copy(NOTEBOOK, notebook)
    out = tmp_path / "page.html"
    run = subprocess.run([_marimo(), "export", "html", notebook.name, "-o", str(out)],
                         env=_offline_env(), cwd=tmp_path, capture_output=True, text=True,
                         timeout=180, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    # The offline notice fits marimo's console: short lines, and nothing about %imagegen there.
    notice = [line for line in run.stderr.splitlines() if line.strip()][:6]
    assert "offline mode" in run.stderr and "%imagegen key" not in run.stderr, run.stderr
    assert all(len(line) <= 72 for line in notice), notice
    page.route("**/*", _from_the_package(Path(marimo.__file__).parent / "_static"))
    page.goto(out.as_uri())
    widget = page.locator(".ig-root")
    expect(widget).to_have_attribute("data-live", "false", timeout=60_000)
    banner = widget.locator(".ig-offline")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("static export")
    expect(widget.locator("button.ig-generate")).to_be_hidden()
    expect(widget.locator(".ig-latest img.ig-image")).to_have_count(1)
    widget.scroll_into_view_if_needed()
    artifact(page, "static")
