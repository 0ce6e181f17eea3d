"""marimo: results and grids through marimo's own display protocol, and a real `marimo export`."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import jupyter_imagegen as ig

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "marimo_demo.py"
DATA_URL = re.compile(r"data:image/(png|jpeg|webp);base64,([A-Za-z0-9+/]+=*)")


def _decode(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def test_results_and_grids_speak_marimos_protocol(client: ig.Client) -> None:
    result = client.generate("a red circle", "offline/sketch")
    mime, data = result._mime_()
    assert mime == "text/html" and "alt=" in data
    (preview,) = DATA_URL.findall(data)
    assert _decode(preview[1]).size[0] <= 768
    batch = client.generate_many(["a", "b"], "offline/sketch", progress=False)
    mime, html = batch._mime_()
    assert mime == "text/html"
    assert [_decode(b64).size for _, b64 in DATA_URL.findall(html)]  # the grid's own thumbnails
    comparison = client.compare("a fox", ["offline/sketch", "offline/poster"], progress=False)
    assert comparison._mime_()[0] == "text/html"


@pytest.mark.slow
def test_marimo_export_html_shows_the_images(tmp_path: Path) -> None:
    marimo = shutil.which("marimo", path=str(Path(sys.executable).parent))
    if marimo is None:
        pytest.skip("marimo is not installed (pip install 'jupyter-imagegen[marimo]')")
    notebook = tmp_path / NOTEBOOK.name
    shutil.copy(NOTEBOOK, notebook)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENROUTER_")}
    out = tmp_path / "page.html"
    run = subprocess.run([marimo, "export", "html", str(notebook), "-o", str(out)], env=env,
                         capture_output=True, text=True, timeout=180, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    page = out.read_text(encoding="utf-8")
    images = [_decode(b64) for _, b64 in DATA_URL.findall(page)]
    # The single result (a 16:9 preview), the batch and comparison thumbnails, the widget's result.
    assert len(images) >= 5, run.stderr[-2000:]
    assert any(abs(im.width / im.height - 16 / 9) < 0.05 for im in images)
    assert all(len(im.convert("RGB").resize((16, 16)).getcolors(256) or ()) > 3 for im in images)
    # mo.ui.anywidget wrapped the widget, and a generation through it came back into the page.
    assert "The widget generated 1 result(s)" in page
