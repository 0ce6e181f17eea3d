"""What a stranger installs: the licence, the extras the README names, the Makefile's demo."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the checks need no older interpreter

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_the_licence_file_is_the_one_pyproject_declares() -> None:
    assert PYPROJECT["project"]["license"] == "BSD-3-Clause"
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License")
    assert "Neither the name of the copyright holder" in text  # clause 3, not the 2-clause text


def test_every_extra_the_readme_installs_exists() -> None:
    readme = (REPO / "README.md").read_text()
    named = set(re.findall(r'pip install "jupyter-imagegen\[([a-z]+)\]"', readme))
    assert {"demo", "batch", "dask", "marimo"} <= named
    assert named <= set(PYPROJECT["project"]["optional-dependencies"])
    assert "pip install jupyter-imagegen " in readme


def test_make_demo_installs_only_the_demo_extra() -> None:
    makefile = (REPO / "Makefile").read_text()
    demo_rule = makefile.split("$(DEMO_STAMP): pyproject.toml", 1)[1].split("\n\n", 1)[0]
    assert '-e ".[demo]"' in demo_rule and "dev" not in demo_rule and "test" not in demo_rule
    demo_target = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "$(DEMO_STAMP)" in demo_target and "$(STAMP)" not in demo_target
    assert "rm -rf imagegen-demo" in demo_target  # earlier runs' output is cleared first


def test_ci_runs_the_readme_test_command_and_the_oldest_and_newest_python() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in ci and "make test" in (REPO / "README.md").read_text()
    assert "for version in 3.10 3.13" in ci and '-m "not browser"' in ci
    assert PYPROJECT["project"]["requires-python"] == ">=3.10"


def test_importing_the_kit_does_not_import_the_gateways_extra() -> None:
    """The gateway's heavy parts (its [gateway] extra) load only when the gateway runs."""
    import subprocess
    import sys

    code = ("import sys, jupyter_imagegen as ig; ig.Client; "
            "print(sorted(m for m in ('starlette', 'uvicorn', 'httpx', 'psycopg', 'anyio', "
            "'jupyter_imagegen.gateway') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.stdout.strip() == "[]"
