"""Caps per answer and per display (issue 19): one 3 MB answer of sixteen 6000x6000 images (each
under the per-image cap) reached 2.66 GB and took 12-17 s to display. Now an answer is counted
against a pixel and a byte budget as it arrives, previews decode no more than they need and are
never kept whole, and one display spends a bounded number of decoded pixels; every refusal is a
``MemoryLimitError`` that names its cap and how to raise it.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

import jupyter_imagegen as ig
from jupyter_imagegen._results.display import result_outputs
from jupyter_imagegen._results.preview import DisplayBudget, DisplayOptions, preview
from jupyter_imagegen.server import Fault, LocalServer

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_an_answer_over_the_pixel_budget_is_refused_and_still_counted(server: LocalServer,
                                                                       stream: bool) -> None:
    server.faults.push(Fault("huge-images"))
    with ig.Client(api_key="sk-or-v1-caps", base_url=server.base_url, spend_limit=10.0) as client:
        with pytest.raises(ig.MemoryLimitError) as info:
            client.generate("a fox", "offline/sketch", stream=stream)
        error = info.value
        assert error.cap == "max_answer_pixels" and error.limit == 160_000_000
        assert error.needed > error.limit and "Client(max_answer_pixels=" in str(error)
        client.reconcile(10)
        assert client.spent == pytest.approx(server.total_cost) and client.spent > 0  # billed


def test_an_answer_over_the_byte_budget_is_refused(server: LocalServer) -> None:
    with ig.Client(api_key="sk-or-v1-caps", base_url=server.base_url,
                   max_answer_bytes=3_000_000) as client:
        with pytest.raises(ig.MemoryLimitError) as info:
            client.generate("four foxes", "offline/quartet")  # four grainy 1K PNGs
        assert info.value.cap == "max_answer_bytes" and "Client(max_answer_bytes=" in str(info.value)
        one = client.generate("a fox", "offline/sketch")  # one image fits
    assert len(one.generated) == 1


_CHILD = """
import json, resource, sys, time
import jupyter_imagegen as ig
from jupyter_imagegen._results.display import result_outputs
from jupyter_imagegen._widget import data as wd
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
client = ig.Client(api_key="sk-or-v1-caps", base_url=sys.argv[1], max_answer_pixels=None)
result = client.generate("a fox", "offline/sketch")
html = result_outputs(result)[0][0]["text/html"]
entry, latest, note = wd.published("r1", result)
sizes = {g.size for g in result.generated}
print(json.dumps({
    "images": len(result.generated), "shown": html.count("<img"), "notes": html.count("not previewed"),
    "widget": len(latest), "note": note, "sizes": sorted(sizes),
    "decoded": sum(g._pil is not None for g in result.generated),
    "peak_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024,
    "seconds": time.perf_counter() - started}))
"""


def test_sixteen_6000px_images_never_reach_gigabytes(server: LocalServer) -> None:
    """The attack's answer, with the answer cap lifted: shown within one display's budget."""
    server.faults.push(Fault("huge-images"))
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(_CHILD), server.base_url],
                           capture_output=True, text=True, timeout=300, cwd=ROOT,
                           env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert child.returncode == 0, child.stderr
    got = json.loads(child.stdout.splitlines()[-1])
    print(f"\n16 x 6000x6000 shown: {got['peak_mb']:.0f} MB more at peak, {got['seconds']:.1f} s")
    assert got["images"] == 16 and got["sizes"] == [[6000, 6000]]
    assert got["shown"] == 4 and got["notes"] == 12  # 4 x 36 Mpx fit in 160 Mpx
    assert got["widget"] == 4 and "display_options(max_pixels=" in got["note"]
    assert got["decoded"] == 0  # no image kept decoded whole
    assert got["peak_mb"] < 600, got  # 2,389 MB before


def _png(size: tuple[int, int], fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "teal").save(buffer, format=fmt)
    return buffer.getvalue()


def test_sizes_come_from_headers_and_previews_decode_at_draft_scale() -> None:
    jpeg = ig.GeneratedImage(_png((6000, 4000), "JPEG"), "image/jpeg")
    assert jpeg.size == (6000, 4000) and jpeg._pil is None  # asking decoded nothing
    budget = DisplayBudget()
    shown = preview(jpeg, budget=budget)
    assert max(shown.width, shown.height) == 768
    assert budget.spent == 1500 * 1000  # a quarter-scale decode, not 24 Mpx
    drafted = Image.open(io.BytesIO(jpeg.data))
    drafted.draft("RGB", (768, 768))
    assert drafted.size == (1500, 1000)  # what the decoder itself does
    assert jpeg._pil is None


def test_a_display_over_its_budget_says_which_cap(tmp_path: Path) -> None:
    images = tuple(ig.GeneratedImage(_png((1000, 1000)), "image/png", index=i) for i in range(3))
    result = ig.ImageResult(prompt="three squares", model="offline/sketch", generated=images)
    with ig.display_options(max_pixels=2_500_000):
        html = result_outputs(result)[0][0]["text/html"]
        with pytest.raises(ig.MemoryLimitError) as info:
            preview(images[0], budget=DisplayBudget(DisplayOptions(max_pixels=10)))
    assert html.count("<img") == 2 and "display_options(max_pixels=...)" in html
    assert info.value.cap == "display max_pixels" and info.value.limit == 10
    with pytest.raises(ig.InvalidInputError, match="max_pixels"):
        ig.display_options(max_pixels=0)
