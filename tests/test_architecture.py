"""The package's shape: imports point down the layers, no cycles, no module or class over 300 lines.

Every import counts: top level, inside functions and under ``TYPE_CHECKING`` (a type-only import
upwards is still a dependency a reader has to hold in mind). Modules are read with ``ast``, so
nothing is imported to check them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "jupyter_imagegen"

#: Lower numbers are lower layers; a module may import its own layer or lower ones.
LAYERS: dict[str, int] = {
    # protocol: pure wire knowledge, no I/O
    "_version": 0, "_exceptions": 0, "_wire_common": 0, "_wire_errors": 0, "_sizes": 0,
    "_sse": 0, "_dataurl": 0, "_protocol": 0, "_chat_stream": 0, "_imagesapi": 0, "_listing": 0, "_models": 0,
    "_pngmeta": 0,
    # model knowledge and the request
    "_model": 1, "_catalogue": 1, "_request": 1, "_inputs": 1, "_config": 1, "_colab": 1,
    # results
    "_results": 2, "_generated": 2, "_html": 2, "_display": 2, "_decode": 2, "_safeimage": 2, "_marimo": 2,
    "_files": 2, "_storeindex": 3, "_preview": 2, "_labels": 2, "_errors": 4,
    # client: transport, adapters, policies and the facades
    "_gate": 3, "_threads": 3, "_transport": 3, "_reading": 3, "_adapters": 3, "_policies": 3, "_cache": 3,
    "_store": 3, "_store_views": 3,
    "_call": 3, "_cache_manifest": 3, "_client": 3, "_aclient": 3, "_batch": 3,
    # front ends
    "_default": 4, "_compare": 4, "_progress": 4, "_advice": 4, "_interpolate": 4,
    "_magic": 4, "_magic_args": 4, "_magic_run": 4, "_commands": 4, "_widget": 4,
    "_widget_data": 4, "_widget_snapshot": 4,
    "_widget_messages": 4, "_cli": 4, "__init__": 4, "_status": 4,
    "__main__": 4,
}
#: What the local server may use of the package: the protocol layer only (and its own modules).
SERVER_MAY_IMPORT = {name for name, layer in LAYERS.items() if layer == 0}
LIMIT = 300


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE).with_suffix("").parts)


def _imports(path: Path) -> set[str]:
    """Package-internal modules ``path`` imports (by their name under the package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = _name(path).split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = [*base, *(node.module.split(".") if node.module else [])]
            elif node.module and node.module.startswith("jupyter_imagegen"):
                target = node.module.split(".")[1:]
            else:
                continue
            if not target:  # from . import x
                target = [alias.name for alias in node.names][:1]
            found.add(".".join(target))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("jupyter_imagegen."):
                    found.add(alias.name.split(".", 1)[1])
    return found


def _layer(module: str) -> int | None:
    return None if module.startswith("server") else LAYERS.get(module.split(".")[0])


def test_every_module_has_a_layer() -> None:
    unplaced = [_name(p) for p in _modules() if not _name(p).startswith("server")
                and _layer(_name(p)) is None]
    assert not unplaced, f"give these modules a layer in LAYERS: {unplaced}"


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_imports_point_down(path: Path) -> None:
    module = _name(path)
    if module.startswith("server"):
        bad = [m for m in _imports(path) if not m.startswith("server") and m not in SERVER_MAY_IMPORT]
        assert not bad, f"the server may use only the protocol layer, but {module} imports {bad}"
        return
    own = _layer(module)
    assert own is not None
    upward = [m for m in _imports(path) if (_layer(m) or 0) > own and not m.startswith("server")]
    if module not in ("_cli", "_default", "__init__"):  # the entry points start the server
        upward += [m for m in _imports(path) if m.startswith("server")]
    assert not upward, f"{module} (layer {own}) imports higher layers: {upward}"


def test_no_import_cycles() -> None:
    graph = {_name(p): set(_imports(p)) for p in _modules()}
    graph = {k: {m for m in v if m in graph or m + ".__init__" in graph} for k, v in graph.items()}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, trail: list[str]) -> bool:
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                cycle.extend([*trail, node, nxt])
                return True
            if state.get(nxt) is None and visit(nxt, [*trail, node]):
                return True
        state[node] = 2
        return False

    for start in graph:
        if state.get(start) is None and visit(start, []):
            break
    assert not cycle, f"import cycle: {' -> '.join(cycle)}"


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_modules_and_classes_stay_small(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    lines = len(source.splitlines())
    assert lines <= LIMIT, f"{_name(path)} has {lines} lines (limit {LIMIT}): split it by concept"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            size = (node.end_lineno or node.lineno) - node.lineno + 1
            assert size <= LIMIT, f"class {node.name} in {_name(path)} has {size} lines"


def test_the_check_catches_an_upward_import(tmp_path: Path) -> None:
    fake = tmp_path / "jupyter_imagegen" / "_protocol.py"
    fake.parent.mkdir()
    fake.write_text("def f():\n    from ._client import Client\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "jupyter_imagegen"
    try:
        with pytest.raises(AssertionError, match="imports higher layers"):
            test_imports_point_down(fake)
    finally:
        PACKAGE = saved
