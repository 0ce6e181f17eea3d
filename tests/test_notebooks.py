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


@pytest.fixture
def nb_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    """A local server the kernels are pointed at, with a key in the environment that must not leak."""
    with LocalServer(port=0) as srv:
        monkeypatch.setenv("OPENROUTER_BASE_URL", srv.base_url)
        monkeypatch.setenv("OPENROUTER_API_KEY", SECRET)
        yield srv


@pytest.mark.parametrize("name", ["quickstart.ipynb", "teaching.ipynb", "power.ipynb"])
def test_notebooks_are_stored_clean(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert "sk-or-" not in json.dumps(nb)
    assert any(c.source.startswith("%load_ext jupyter_imagegen") for c in code)
    assert any(c.source.startswith("%%imagegen") for c in code)


def test_quickstart_runs_against_the_local_server(nb_server: LocalServer, tmp_path: Path) -> None:
    nb = execute("quickstart.ipynb", tmp_path)
    check_clean_run(nb)
    magic = cell_with(nb, "%%imagegen -m offline/sketch --aspect-ratio 16:9")
    ((mime, image),) = images_of(magic)
    assert (mime, image.size) == ("image/jpeg", (768, 439))  # a preview; the original is 1344x768
    assert magic.outputs[0]["metadata"]["jupyter_imagegen"]["original"] == [1344, 768, "image/png"]
    assert magic.outputs[0]["metadata"]["jupyter_imagegen"]["model"] == "offline/sketch"
    assert "offline/sketch · 1344x768" in magic.outputs[-1]["data"]["text/plain"]
    grid = cell_with(nb, "%%imagegen -m offline/quartet --as stars")
    assert images_of(grid) == []  # no contact-sheet second copy
    assert grid.outputs[0]["data"]["text/html"].count("<img ") == 4
    sizes = cell_with(nb, "[image.size for image in stars.images]")
    assert sizes.outputs[0]["data"]["text/plain"] == repr([(1024, 1024)] * 4)
    models = cell_with(nb, "%imagegen models gemini")
    assert "google/gemini-2.5-flash-image" in models.outputs[0]["data"]["text/html"]
    # The requests really went to this server, with the interpolated prompt, and with the key.
    bodies = [r.json for r in nb_server.requests if r.path.endswith("/chat/completions")]
    assert {"model": "offline/quartet", "prompt": "four yellow stars over green mountains"} in [
        {"model": b["model"], "prompt": b["messages"][-1]["content"]} for b in bodies]
    assert SECRET not in json.dumps(nb)
    assert list((tmp_path / "out").iterdir())  # the Python section saved its image


def test_teaching_runs_offline_from_a_fresh_environment(tmp_path: Path) -> None:
    # No key and no base URL: the kit's own offline server answers, as on a fresh clone.
    updates: list[dict[str, Any]] = []
    nb = execute("teaching.ipynb", tmp_path, updates)
    check_clean_run(nb)
    first = cell_with(nb, "a red circle above blue waves")
    ((mime, image),) = images_of(first)
    assert (mime, image.size) == ("image/jpeg", (768, 768))
    provenance = first.outputs[0]["metadata"]["jupyter_imagegen"]
    assert provenance["prompt"] == "a red circle above blue waves"
    assert provenance["generation_id"].startswith("gen-")
    assert "jupyter_imagegen is in offline mode" in json.dumps(nb.cells[1].outputs)
    assert "127.0.0.1" not in json.dumps(nb.cells[1].outputs)
    stars = cell_with(nb, "stars.prompt")
    assert '3 stars in orange and purple over green hills, style notes: {\\"lines\\"' in json.dumps(
        stars.outputs)
    wide = cell_with(nb, "wide.image.size")
    assert wide.outputs[0]["data"]["text/plain"] == "(672, 384)"
    ((_, edited),) = images_of(cell_with(nb, "make the sea purple"))
    assert edited.size == (768, 439)
    assert len(list((tmp_path / "teaching-out").iterdir())) == 1
    errors = {c.source.splitlines()[0]: json.dumps(c.outputs) for c in nb.cells
              if "raises-exception" in c.metadata.get("tags", [])}
    assert "Did you mean: offline/sketch" in errors["%%imagegen -m offline/skech"]
    assert "cannot output images" in errors["%%imagegen -m offline/chat"]
    assert "does not take aspect ratio 7:3 (it takes 1:1" in errors["%%imagegen --aspect-ratio 7:3"]
    assert "Out of credits (HTTP 402)" in errors["%%imagegen -m offline/sketch"]
    # The slow cell showed a live status line in the real kernel, then the image replaced it.
    status = [u["text/plain"] for u in updates if "generating with" in u.get("text/plain", "")]
    assert any("still working" in text for text in status)
    assert any("jupyter-imagegen-image" in u.get("text/html", "") for u in updates)
    ((_, slow),) = images_of(cell_with(nb, "a slow green hill"))
    assert slow.size == (768, 768)
    rate_limit = cell_with(nb, "lab.faults.push(Fault(\"429\"")
    assert "RateLimitError 429 attempts: 3" in rate_limit.outputs[0]["text"]


def test_power_notebook_runs_offline(tmp_path: Path) -> None:
    nb = execute("power.ipynb", tmp_path)
    check_clean_run(nb)
    batch = cell_with(nb, "batch = client.generate_many(prompts")
    assert "4 of 4 succeeded" in batch.outputs[-1]["data"]["text/plain"]
    assert batch.outputs[-1]["data"]["text/html"].count("<img ") == 4
    grid = cell_with(nb, "ig.compare(")
    assert images_of(grid) == [] and grid.outputs[-1]["data"]["text/html"].count("<img ") == 6
    assert "6 of 6 succeeded" in grid.outputs[-1]["data"]["text/plain"]
    cache = cell_with(nb, "cached_client = ig.Client(")
    lines = cache.outputs[0]["text"].splitlines()
    assert not lines[0].endswith("cached") and lines[1].endswith("cached")
    edit = cell_with(nb, "night = barn.edit(")
    ((_mime, image),) = images_of(edit)
    assert image.size == (768, 439)
    pair = cell_with(nb, "openai/gpt-image-1")
    shown = [im.size for _, im in images_of(pair)] or [
        Image.open(io.BytesIO(base64.b64decode(b64))).size
        for o in pair.outputs
        for b64 in re.findall(r'base64,([^"]+)"', o.get("data", {}).get("text/html", ""))]
    assert shown and shown[-1][0] > 0
    assert "Nothing was sent" in cell_with(nb, "spend_limit=0.05").outputs[0]["text"]
