"""The README's comparison screenshot is made here, from a real comparison's HTML, in headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

import jupyter_imagegen as ig

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: The README's picture: refreshed only when asked (`make docs-images`); a test run leaves the
#: checkout as it was and saves the picture beside the other test artifacts instead.
DOCS = Path(__file__).resolve().parents[1] / (
    "docs/images" if os.environ.get("JUPYTER_IMAGEGEN_UPDATE_DOCS") else "test-artifacts")


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs headless chromium")
def test_comparison_grid_screenshot_for_the_readme(client: ig.Client, tmp_path: Path) -> None:
    comparison = client.compare(["a lighthouse at dusk", "a red fox in snow"],
                                ["google/gemini-2.5-flash-image", "offline/photo", "offline/poster"],
                                progress=False)
    html = comparison._repr_mimebundle_()["text/html"]
    page = tmp_path / "comparison.html"
    page.write_text("<!doctype html><meta charset=utf-8><body style='font-family:sans-serif;"
                    f"margin:12px;background:white'>{html}</body>", encoding="utf-8")
    shot = tmp_path / "comparison.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1000,680", page.as_uri()],
                   check=True, capture_output=True, timeout=90)
    image = Image.open(shot).convert("RGB")
    assert image.size == (1000, 680)
    # The thumbnails really rendered: the page is not blank white.
    colours = image.resize((100, 68)).getcolors(100 * 68)
    assert colours is not None and len(colours) > 50
    DOCS.mkdir(parents=True, exist_ok=True)
    image.save(DOCS / "comparison.png", optimize=True)
