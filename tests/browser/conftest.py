"""Real-browser fixtures: one JupyterLab server (which also serves Notebook 7) backed by the local
OpenRouter-compatible server, driven by Debian's headless Chromium through Playwright.

The recipe and its pitfalls are in the project's browser-testing notes: a new workspace per test,
locators scoped to the notebook panel, news toast switched off, ``--allow-root``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
import requests
from playwright.sync_api import Locator, Page, expect

from jupyter_imagegen.server import LocalServer

CHROMIUM = os.environ.get("JUPYTER_IMAGEGEN_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: The kernel gets this key; no page and no saved state may ever contain it.
SECRET_KEY = "sk-or-v1-browser-secret-" + secrets.token_hex(16)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _browser_missing() -> str | None:
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return None
    return f"no Chromium at {CHROMIUM} (install Debian's `chromium`, or set JUPYTER_IMAGEGEN_CHROMIUM)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Locally, skip browser tests without Chromium; in CI (CI=true) a missing browser fails."""
    reason = _browser_missing()
    if reason is None or os.environ.get("CI", "").lower() == "true":
        return
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session", autouse=True)
def _require_browser_in_ci() -> None:
    reason = _browser_missing()
    if reason is not None and os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but the browser tests cannot run: {reason}", pytrace=False)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    # Playwright's plain launch() adds a fresh temporary --user-data-dir for every browser.
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": FLAGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


@pytest.fixture(scope="session")
def backend() -> Iterator[LocalServer]:
    """The OpenRouter-compatible backend the notebook kernels talk to (faults pushed from tests)."""
    with LocalServer(port=0, keepalive_interval=0.3) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _clean_faults(backend: LocalServer) -> Iterator[None]:
    backend.faults.clear()
    yield
    backend.faults.clear()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class JupyterServer:
    """A running ``jupyter lab`` (Notebook 7 is served by the same server)."""

    url: str
    token: str
    root: Path
    data_dir: Path

    def write_notebook(self, cells: list[str]) -> str:
        """Write a fresh notebook into the server root and return its name."""
        name = f"widget-{uuid.uuid4().hex[:8]}.ipynb"
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        nbformat.write(nb, self.root / name)
        return name

    def lab_url(self, name: str) -> str:
        return f"{self.url}/lab/workspaces/{uuid.uuid4().hex}/tree/{name}?token={self.token}"

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/notebooks/{name}?token={self.token}"


@pytest.fixture(scope="session")
def jupyter(backend: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    base = tmp_path_factory.mktemp("jupyter")
    root = base / "root"
    root.mkdir()
    settings = base / "settings"
    notify = settings / "@jupyterlab" / "apputils-extension"
    notify.mkdir(parents=True)
    (notify / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {**os.environ,
           "JUPYTER_CONFIG_DIR": str(base / "config"), "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
           # Its own trust database: tests sign notebooks there to open them trusted.
           "JUPYTER_DATA_DIR": str(base / "data"),
           "OPENROUTER_BASE_URL": backend.base_url, "OPENROUTER_API_KEY": SECRET_KEY}
    env.pop("JUPYTER_IMAGEGEN_MODEL", None)
    port, token = _free_port(), secrets.token_hex(16)
    log = (base / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True", "--JupyterNotebookApp.expose_app_in_browser=True",
         "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.extension_manager=readonly"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited: {(base / 'server.log').read_text()[-2000:]}")
            try:
                if requests.get(f"{url}/api/status", params={"token": token}, timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("jupyter lab did not start within 60 s")
            time.sleep(0.2)
        yield JupyterServer(url, token, root, base / "data")
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


@pytest.fixture
def artifact(request: pytest.FixtureRequest) -> Any:
    """``artifact(page, "name")`` saves ``test-artifacts/<test>-<name>.png``."""
    ARTIFACTS.mkdir(exist_ok=True)

    def save(page: Page, name: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=False)
        return path

    return save


class NotebookPage:
    """A notebook open in Lab or Notebook 7, with locators scoped to its panel."""

    def __init__(self, page: Page, name: str) -> None:
        self.page = page
        self.name = name
        page.wait_for_function(
            """name => { const w = window.jupyterapp?.shell?.currentWidget;
                return w && w.context && w.context.path === name && w.sessionContext?.session?.kernel
                  && w.sessionContext.session.kernel.status === 'idle'; }""",
            arg=name, timeout=60_000)
        panel_id = page.evaluate("window.jupyterapp.shell.currentWidget.id")
        self.panel = page.locator(f"[id='{panel_id}']")

    def run_all(self) -> None:
        self.page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")

    def cell(self, index: int) -> Locator:
        return self.panel.locator(".jp-Cell").nth(index)

    def run_cell(self, index: int) -> None:
        self.cell(index).locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Control+Enter")

    @property
    def widget(self) -> Locator:
        return self.panel.locator(".ig-root")

    def kernel_print(self, code: str) -> str:
        """Run ``code`` in the notebook's kernel (no UI) and return its stdout."""
        return str(self.page.evaluate(
            """async code => {
                const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
                const fut = k.requestExecute({code}); let out = '';
                fut.onIOPub = m => { if (m.header.msg_type === 'stream') out += m.content.text;
                  if (m.header.msg_type === 'error')
                    out += 'ERROR ' + m.content.ename + ': ' + m.content.evalue; };
                await fut.done; return out; }""", code))

    def choose_model(self, model_id: str) -> None:
        """Pick a model the way a person does: type part of its id, press Enter."""
        widget = self.widget
        search = widget.locator("input.ig-model-search")
        search.click()
        search.fill(model_id)
        expect(widget.locator(".ig-model-option").first).to_have_attribute("data-id", model_id)
        search.press("Enter")
        expect(search).to_have_value(model_id)

    def wait_for_widget(self) -> Locator:
        widget = self.widget
        expect(widget).to_be_visible(timeout=30_000)
        expect(widget).to_have_attribute("data-live", "true")
        expect(widget.locator(".ig-match-count")).to_have_text(re.compile(r"^\d+ models$"))
        return widget


def open_notebook(page: Page, url: str, name: str) -> NotebookPage:
    page.goto(url)
    return NotebookPage(page, name)


WIDGET_CELLS = [
    "from jupyter_imagegen import ImageGenWidget\nw = ImageGenWidget()\nw",
    "print('KERNEL-ALIVE', w.status)",
]
