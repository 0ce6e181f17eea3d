"""Typing that checks: a misspelled back-reference fails ``mypy --strict``.

Why: to break import cycles, an earlier layout typed back-references as ``Any`` (``Client = Any``,
``self: Any`` mixins), and then ``client._gaurd.settle`` or ``self.clear_histroy()`` passed the
strict type check. Back-references are now typed through ``TYPE_CHECKING`` imports or Protocols;
this test copies the package, misspells one attribute on each kind of back-reference, and asserts
that mypy reports every one of them (and nothing on the untouched copy's other lines).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: (file, the line as written, the line misspelt): one per kind of back-reference.
MISSPELLINGS = [
    # the send chain's own policies (was a free function on a duck-typed ``client: Any``)
    ("_core/client.py", "self._ledger.running(held, call, request.model)",
     "self._ledgr.running(held, call, request.model)"),
    # a mixin over attributes it declares: the client's spend figures
    ("_core/ledger.py", "return self._guard.pending", "return self._gaurd.pending"),
    # a Protocol: results sit below the client that made them
    ("_results/result.py", "return client.edit(self, prompt, model, **kwargs)",
     "return client.edti(self, prompt, model, **kwargs)"),
    # a TYPE_CHECKING import inside one part: the batch names the client that runs it
    ("_core/batch.py", "client.ensure_pool(concurrency)", "client.ensure_poool(concurrency)"),
    # a TYPE_CHECKING import inside one part: display names the results it shows
    ("_results/display.py", "**result.metadata()", "**result.metadta()"),
    # the input images a request takes are the results' own types now, not ``Any``
    ("_core/inputs.py", "return encode_data_url(item.data, item.mime)",
     "return encode_data_url(item.data, item.mine)"),
]


@pytest.mark.slow
def test_misspelled_back_references_fail_mypy_strict(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    copy = tmp_path / "jupyter_imagegen"
    shutil.copytree(ROOT / "jupyter_imagegen", copy, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for name, written, misspelt in MISSPELLINGS:
        path = copy / name
        text = path.read_text(encoding="utf-8")
        assert text.count(written) == 1, f"{name}: the line to misspell moved: {written!r}"
        path.write_text(text.replace(written, misspelt), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / ".mypy_cache")],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    errors = [line for line in run.stdout.splitlines() if ": error:" in line]
    where: dict[str, tuple[str, int]] = {}  # misspelt name -> (file, line number)
    for name, written, misspelt in MISSPELLINGS:
        wrong = next(a for a, b in zip(misspelt.split("."), written.split("."), strict=True) if a != b)
        number = (copy / name).read_text(encoding="utf-8").split(misspelt)[0].count("\n") + 1
        where[re.split(r"[()]", wrong)[0]] = (f"jupyter_imagegen/{name}", number)
    for wrong, (name, number) in where.items():
        hits = [e for e in errors if e.startswith(f"{name}:{number}:") and f'"{wrong}"' in e]
        assert hits, f"mypy --strict did not catch .{wrong} in {name}:{number}:\n{run.stdout[-3000:]}"
    lines = {f"{name}:{number}:" for name, number in where.values()}
    stray = [e for e in errors if not any(e.startswith(line) for line in lines)]
    assert not stray, "errors the misspellings do not explain:\n" + "\n".join(stray)
