"""The saved issue-10 notebook is light and still shows every image (nbclient + nbconvert, offline)."""

from __future__ import annotations

import base64
import io
import re
import sys
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("nbclient")
nbconvert = pytest.importorskip("nbconvert")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_notebook_weight import build, execute  # noqa: E402

BUDGET = 150 * 1024  # bytes per image saved (issue 10)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> object:
    nb = build("auto")
    nb.cells = nb.cells[:5]  # the widget cell's weight is the widget's (measured by the benchmark)
    return execute(nb, str(tmp_path_factory.mktemp("nb")))


def test_outputs_stay_under_the_budget_per_image(saved: object) -> None:
    import nbformat

    size = len(nbformat.writes(saved).encode())  # type: ignore[arg-type]
    assert size / 9 < BUDGET, f"{size / 9 / 1024:.0f} KB per image"
    text = nbformat.writes(saved)  # type: ignore[arg-type]
    assert '"image/png": "iVBOR' not in text or text.count("iVBOR") <= 2  # no contact sheets
    for cell in saved.cells[1:]:  # type: ignore[attr-defined]
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.outputs


def test_nbconvert_html_shows_every_image_decodable(saved: object) -> None:
    html, _ = nbconvert.HTMLExporter().from_notebook_node(saved)
    found = re.findall(r'src="data:(image/(?:png|jpeg|webp));base64,([^"]+)"', html)
    images = [Image.open(io.BytesIO(base64.b64decode(b64))) for _mime, b64 in found]
    for image in images:
        image.load()
    big = [im for im in images if max(im.size) == 768]
    thumbs = [im for im in images if max(im.size) == 384]
    assert (len(big), len(thumbs)) == (2, 4 + 3)  # API result + magic; batch of 4 + comparison of 3
    assert 'width="512"' in html  # a 1K image is shown no wider than 512 px


def test_saved_batch_progress_reads_finished(saved: object) -> None:
    batch = saved.cells[3]  # type: ignore[attr-defined]
    texts = [o.get("data", {}).get("text/plain", "") + o.get("text", "") for o in batch.outputs]
    assert any("4/4 done" in t and "finished: 4 of 4 succeeded" in t for t in texts), texts
    assert not any("0%" in t for t in texts)


def test_saved_captions_say_offline_and_simulated(saved: object) -> None:
    magic = saved.cells[2]  # type: ignore[attr-defined]
    caption = magic.outputs[-1]["data"]["text/plain"]
    assert re.search(r" · offline · simulated \$0\.03\d* · ", caption), caption
    notice = [o for o in saved.cells[1].outputs if "jupyter_imagegen is in offline mode" in  # type: ignore[attr-defined]
              str(o.get("data", {}).get("text/plain", ""))]
    assert len(notice) == 1 and "127.0.0.1" not in str(notice[0])
    assert not [o for o in saved.cells[1].outputs if o.get("name") == "stderr"]  # type: ignore[attr-defined]
