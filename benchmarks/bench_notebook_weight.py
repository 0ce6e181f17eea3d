"""How heavy a saved notebook is: KB per image with previews vs. the same notebook at ``full``.

Builds the issue-10 notebook (one API result, one ``%%imagegen``, a 4-line ``--each-line`` batch,
a 3-model comparison and one widget generation: 10 images), executes it offline with nbclient,
saves it with widget state and prints KB per image, total MB, and the ratio to the same notebook
run with ``preview_format = "full"`` (originals embedded), measured in the same run.

    PYTHONPATH=. python benchmarks/bench_notebook_weight.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

#: Images the notebook makes: 1 + 1 + 4 + 3 + 1.
IMAGES = 10
MODELS = ("google/gemini-2.5-flash-image", "offline/photo", "offline/poster")


def build(preview_format: str = "auto") -> nbformat.NotebookNode:
    """The issue's 10-image notebook; ``preview_format`` is set through ``%config``."""
    cells = [
        "import jupyter_imagegen as ig\n%load_ext jupyter_imagegen\n"
        f'%config ImageGenMagics.preview_format = "{preview_format}"',
        'result = ig.generate("a lighthouse at dusk", "google/gemini-2.5-flash-image")\nresult',
        "%%imagegen -m google/gemini-2.5-flash-image\na red fox in fresh snow",
        "%%imagegen --each-line -m google/gemini-2.5-flash-image\n"
        "a cat\na dog\na heron at dawn\na lighthouse in a storm",
        "%%imagegen " + " ".join(f"-m {m}" for m in MODELS) + "\na harbour at night",
        "w = ig.ImageGenWidget(model='google/gemini-2.5-flash-image')\n"
        "w.generate('a paper boat').result(timeout=60)\nw",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def execute(nb: nbformat.NotebookNode, cwd: str) -> nbformat.NotebookNode:
    """Run offline (no key, no base URL) with widget state stored, as "Save with widget state"."""
    env_drop = ("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL")
    saved = {k: os.environ.pop(k) for k in env_drop if k in os.environ}
    try:
        NotebookClient(nb, timeout=180, kernel_name="python3", store_widget_state=True,
                       resources={"metadata": {"path": cwd}}).execute()
    finally:
        os.environ.update(saved)
    return nb


def weigh(nb: nbformat.NotebookNode) -> dict[str, Any]:
    """Saved bytes: the whole file, each cell's outputs, and the widget state."""
    text = nbformat.writes(nb)
    per_cell = [len(json.dumps(cell.get("outputs", []))) for cell in nb.cells]
    state = nb.metadata.get("widgets", {})
    return {"total": len(text.encode()), "cells": per_cell, "widget_state": len(json.dumps(state))}


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        preview = weigh(execute(build("auto"), tmp))
        full = weigh(execute(build("full"), tmp))
    labels = ["setup", "API result", "%%imagegen", "batch x4", "compare x3", "widget"]
    print(f"{'cell':<12}{'preview KB':>12}{'full KB':>12}")
    for label, a, b in zip(labels, preview["cells"], full["cells"], strict=True):
        print(f"{label:<12}{a / 1024:>12.1f}{b / 1024:>12.1f}")
    print(f"{'widget st.':<12}{preview['widget_state'] / 1024:>12.1f}{full['widget_state'] / 1024:>12.1f}")
    per_image = preview["total"] / IMAGES / 1024
    print(f"saved notebook: {preview['total'] / 1e6:.2f} MB, {per_image:.1f} KB per image "
          f"(full: {full['total'] / 1e6:.2f} MB, {full['total'] / IMAGES / 1024:.1f} KB per image); "
          f"ratio preview/full = {preview['total'] / full['total']:.3f}")
    outputs = sum(preview["cells"][:5]) / (IMAGES - 1) / 1024
    print(f"non-widget outputs: {outputs:.1f} KB per image (9 images); the widget's saved state is "
          f"{preview['widget_state'] / 1024:.0f} KB (its ESM, CSS and small previews)")
    print(f"budget 150 KB per image: {'met' if per_image <= 150 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main())
