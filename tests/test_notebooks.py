"""The notebooks in ``notebooks/`` run headlessly (nbclient) and show real, decodable images."""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from jupyter_imagegen.server import LocalServer

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SECRET = "sk-or-v1-notebook-secret-0123456789abcdef"


class RecordingClient(nbclient.NotebookClient):  # type: ignore[misc]
    """Records in-place display updates (the live status line), which the saved notebook hides."""

    updates: list[dict[str, Any]]

    def _update_display_id(self, display_id: str, msg: dict[str, Any]) -> None:
        self.updates.append(msg["content"]["data"])
        super()._update_display_id(display_id, msg)


def execute(name: str, workdir: Path, updates: list[dict[str, Any]] | None = None) -> Any:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = RecordingClient(nb, timeout=120, kernel_name="python3",
                             resources={"metadata": {"path": str(workdir)}})
    client.updates = updates if updates is not None else []
    client.execute()
    return nb


def images_of(cell: Any) -> list[tuple[str, Image.Image]]:
    """Bare image outputs and single-image ``<img>`` outputs (not the thumbnails of grids)."""
    found = []
    for out in cell.outputs:
        data = out.get("data", {})
        pairs = [(m, v) for m, v in data.items() if m.startswith("image/")]
        html = data.get("text/html", "")
        if html.startswith('<img class="jupyter-imagegen-image"'):
            pairs += re.findall(r'src="data:(image/[a-z]+);base64,([^"]+)"', html)
        for mime, b64 in pairs:
            image = Image.open(io.BytesIO(base64.b64decode(b64)))
            image.load()
            found.append((mime, image))
    return found


def cell_with(nb: Any, text: str) -> Any:
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and text in c.source]
    return cell


def check_clean_run(nb: Any) -> None:
    """No error outputs or tracebacks; errors only (as short messages) where the cell says so."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        expects_error = "raises-exception" in cell.metadata.get("tags", [])
        text = json.dumps(cell.outputs)
        assert "Traceback" not in text, cell.source
        assert not any(o.output_type == "error" for o in cell.outputs), cell.source
        has_usage_error = "UsageError: " in text
        assert has_usage_error == expects_error, cell.source
        assert "generating with" not in text  # no stale status line


STORED = ["quickstart.ipynb", "teaching.ipynb", "power.ipynb", "widget.ipynb",
          "solutions/teaching-solutions.ipynb"]
REAL_ONLY = [n for n in STORED if n != "widget.ipynb"]  # the widget's runs: tests/test_widget.py


def code_cells(name: str) -> list[Any]:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    return [c for c in nb.cells if c.cell_type == "code"]


@pytest.fixture
def real_ids_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    """'Online': a key and a base URL set, on a server that serves only real model ids."""
    with LocalServer(port=0, offline_models=False) as srv:
        monkeypatch.setenv("OPENROUTER_BASE_URL", srv.base_url)
        monkeypatch.setenv("OPENROUTER_API_KEY", SECRET)
        yield srv


@pytest.mark.parametrize("name", STORED)
def test_notebooks_are_stored_clean_and_go_online_unchanged(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert "sk-or-" not in json.dumps(nb)
    source = "\n".join(c.source for c in code)
    assert "ig.offline()" not in source  # online or offline is chosen by the environment alone
    assert not re.search(r"offline/[a-z]", source), name  # real model ids only
    if name in ("quickstart.ipynb", "teaching.ipynb", "power.ipynb"):
        assert any(c.source.startswith("%load_ext jupyter_imagegen") for c in code)
        assert any(c.source.startswith("%%imagegen") for c in code)


@pytest.mark.parametrize("name", REAL_ONLY)
def test_every_notebook_runs_unchanged_against_real_ids_only(
        name: str, real_ids_only: LocalServer, tmp_path: Path) -> None:
    nb = execute(name, tmp_path)
    check_clean_run(nb)
    asked = {r.json.get("model") for r in real_ids_only.requests
             if r.method == "POST" and isinstance(r.json, dict)}
    assert asked and all(m in real_ids_only.catalogue or m in real_ids_only.image_catalogue
                         for m in asked), asked
    text = json.dumps(nb)
    assert SECRET not in text and "jupyter_imagegen is in offline mode" not in text
    assert "online: real images, real prices" in text or name == "power.ipynb"


def test_quickstart_offline_is_light_and_prices_are_honest(tmp_path: Path) -> None:
    nb = execute("quickstart.ipynb", tmp_path)
    check_clean_run(nb)
    assert "offline: built-in renderer, simulated prices" in json.dumps(nb.cells[2].outputs)
    first = cell_with(nb, "ig.generate(\"a red fox at dusk by a lighthouse\")")
    ((mime, image),) = images_of(first)
    assert mime == "image/jpeg" and max(image.size) == 768  # a preview, not the original PNG
    magic = cell_with(nb, "%%imagegen --aspect-ratio 16:9")
    ((_, wide),) = images_of(magic)
    assert wide.size == (768, 439)  # a preview; the original is 1344x768
    prices = cell_with(nb, "ig.price(model)").outputs[0]["text"]
    assert "$0.000/image" not in prices and prices.count("/image (simulated") == 3
    assert "google/gemini-2.5-flash-image" in cell_with(nb, "%imagegen models gemini").outputs[0][
        "data"]["text/html"]
    assert list((tmp_path / "out").iterdir())
    images = sum(len(images_of(c)) for c in nb.cells if c.cell_type == "code")
    assert len(nbformat.writes(nb).encode()) / images < 150 * 1024  # light when saved


def _mean(image: Image.Image) -> float:
    from PIL import ImageStat

    return float(ImageStat.Stat(image.convert("L")).mean[0])


def test_teaching_runs_offline_from_a_fresh_environment(tmp_path: Path) -> None:
    # No key and no base URL: the kit's own offline server answers, as on a fresh clone.
    nb = execute("teaching.ipynb", tmp_path)
    check_clean_run(nb)
    setup = json.dumps(cell_with(nb, "ig.default_client()").outputs)
    assert "jupyter_imagegen is in offline mode" in setup and "127.0.0.1" not in setup
    ((_, fox),) = images_of(cell_with(nb, "fox = ig.generate("))
    assert fox.size == (768, 768)
    assert "fox" in cell_with(nb, "vocabulary()").outputs[0]["text"]
    grid = cell_with(nb, "ig.generate_many(times, seed=3)")
    assert grid.outputs[-1]["data"]["text/html"].count("<img ") == 4
    seeds = cell_with(nb, "seed=42)").outputs[0]["text"]
    assert "a and b are the same picture: True" in seeds
    assert "a and c are the same picture: False" in seeds
    compare = cell_with(nb, "ig.compare(")
    assert compare.outputs[-1]["data"]["text/html"].count("<img ") == 3
    ((_, night),) = images_of(cell_with(nb, "make it night with a yellow moon"))
    assert _mean(night) < 80 < _mean(fox)  # the edit made the day scene night
    errors = {c.source.splitlines()[0]: json.dumps(c.outputs) for c in nb.cells
              if "raises-exception" in c.metadata.get("tags", [])}
    assert "Did you mean: google/gemini-2.5-flash-image" in errors[
        "%%imagegen -m google/gemini-2.5-flash-imag"]
    assert "does not take aspect ratio 7:3" in errors["%%imagegen --aspect-ratio 7:3"]
    assert "APIConnectionError" in cell_with(nb, "unreachable = ig.Client(").outputs[0]["text"]


@pytest.mark.parametrize("name", ["power.ipynb", "solutions/teaching-solutions.ipynb"])
def test_notebook_runs_offline_from_a_fresh_environment(name: str, tmp_path: Path) -> None:
    nb = execute(name, tmp_path)
    check_clean_run(nb)
    if name == "power.ipynb":
        batch = cell_with(nb, "batch = client.generate_many(prompts")
        assert "4 of 4 succeeded" in batch.outputs[-1]["data"]["text/plain"]
        grid = cell_with(nb, "ig.compare(")
        assert images_of(grid) == [] and grid.outputs[-1]["data"]["text/html"].count("<img ") == 6
        cache = cell_with(nb, "cached_client = ig.Client(")
        lines = cache.outputs[0]["text"].splitlines()
        assert not lines[0].endswith("cached") and lines[1].endswith("cached")
        ((_mime, image),) = images_of(cell_with(nb, "night = barn.edit("))
        assert image.size == (768, 439)
        assert "Nothing was sent" in cell_with(nb, "spend_limit=0.05").outputs[0]["text"]
    else:
        assert "True" in cell_with(nb, "again = favourite.rerun()").outputs[0]["data"][
            "text/plain"]
