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


def test_a_registry_page_has_what_it_needs() -> None:
    """Project links, classifiers for every supported Python, and README images by absolute URL."""
    project = PYPROJECT["project"]
    assert {"Homepage", "Source", "Issues"} <= set(project["urls"])
    classifiers = project["classifiers"]
    minimum = int(project["requires-python"].removeprefix(">=3."))
    assert [c for c in classifiers if c.startswith("Development Status ::")]
    assert [c for c in classifiers if c.startswith("Topic ::")]
    for minor in range(minimum, 14):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    readme = (REPO / "README.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme)
    assert images and all(i.startswith("https://") for i in images), images
    for url in images:  # each one is a file of this repository, kept in docs/images
        path = url.split("/main/", 1)[1]
        assert path.startswith("docs/images/") and (REPO / path).is_file(), url


def test_the_readme_says_how_to_install_today_and_documents_dask() -> None:
    readme = (REPO / "README.md").read_text()
    install = readme.split("## Install", 1)[1].split("\n## ", 1)[0]
    assert "not on the package registry yet" in install and 'pip install -e ".[demo]"' in install
    assert "executor=dask.get_executor()" in readme and "## Batches on a Dask cluster" in readme


def test_ci_runs_the_tests_at_the_lowest_allowed_versions() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    assert "--resolution lowest-direct" in ci and '-e ".[test]"' in ci
    lowest = ci.split("--resolution lowest-direct", 1)[1]
    assert '-m pytest -q -m "not browser"' in lowest
    # Every dependency has a lower bound for that job to install.
    deps = PYPROJECT["project"]["dependencies"] + [
        d for extra in PYPROJECT["project"]["optional-dependencies"].values() for d in extra
        if not d.startswith("jupyter-imagegen")]
    assert all(re.search(r"(>=|==)\d", d) for d in deps), [d for d in deps if ">=" not in d]


def test_make_test_checks_the_checkout_is_left_as_it_was() -> None:
    rule = (REPO / "Makefile").read_text().split("\ntest: $(STAMP)", 1)[1].split("\n\n", 1)[0]
    assert "git status --porcelain" in rule and "exit 1" in rule
