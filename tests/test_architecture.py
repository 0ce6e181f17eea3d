"""The package's shape: parts as folders, imports in one declared order, no cycles, sizes by rule.

Why a test and not prose: the last layout lived as a dict here and as README prose, and the two
drifted apart. Here the order is declared once (``PARTS``), the README's picture is checked
against it, and every rule the developers' guide sets is enforced:

* every module belongs to a part; a part is a subpackage (or one of the few top-level modules);
* imports between parts follow ``PARTS``, bottom first. Every import counts: top level, inside
  functions and under ``TYPE_CHECKING``. Inside one part, type-only imports may point back (a
  back-reference typed through ``TYPE_CHECKING``), but what runs forms no cycle;
* the local server and the classroom gateway share only the wire layer with the kit (and
  nothing with each other); only the command line starts the gateway;
* collapsed to one node per part, the import graph is at most 10 levels deep;
* functions <= 80 lines, classes <= 400, modules <= 600 (a warning, not a failure);
* no ``X = Any`` alias or ``self: Any`` stands in for a project type.

Modules are read with ``ast``, so nothing is imported to check them.
"""

from __future__ import annotations

import ast
import re
import warnings
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "jupyter_imagegen"
README = Path(__file__).resolve().parents[1] / "README.md"

#: The parts, bottom first. A module may import its own part and the parts before it.
PARTS: tuple[tuple[str, ...], ...] = (
    ("_version", "_exceptions"),  # the version and the one exception tree everyone raises
    ("_wire",),  # the pure wire protocol: bodies, parsing, SSE, data URLs, sizes, errors
    ("_results",),  # results, display, previews, replay cache, image store
    ("_core",),  # client and its send chain, transport, catalogue, model, request, policies, batch
    ("_api",),  # the module-level functions over the default client
    ("_widget",),  # the interactive widget (its JS/CSS source lives in js/)
    ("_notebook",),  # the %%imagegen magic, line commands, status line, short tracebacks
    ("_cli",),  # the command line
    ("__init__",),  # the public facade
)
RANK = {name: rank for rank, names in enumerate(PARTS) for name in names}
#: The local server is an OpenRouter stand-in: it shares the wire layer and nothing else.
SERVER_MAY_IMPORT = {"_version", "_exceptions", "_wire"}
#: Who may start the local server: the default client's offline mode and the command line.
MAY_IMPORT_SERVER = {"_api", "_cli", "__init__"}
#: The classroom gateway, like the server, shares the wire layer and the price model with the
#: client, nothing else (the price model lives in ``_wire``).
GATEWAY_MAY_IMPORT = SERVER_MAY_IMPORT
#: Who may start the gateway: the command line only (lazily: its extra is optional).
MAY_IMPORT_GATEWAY = {"_cli"}
#: The parts that stand beside the kit rather than in its order.
SIDE_PARTS = {"server", "gateway"}
FUNCTION_LIMIT, CLASS_LIMIT, MODULE_SOFT_LIMIT = 80, 400, 600


def _modules(root: Path | None = None) -> list[Path]:
    return sorted((root or PACKAGE).rglob("*.py"))


def _name(path: Path, root: Path | None = None) -> str:
    parts = path.relative_to(root or PACKAGE).with_suffix("").parts
    if len(parts) > 1 and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _part(module: str) -> str:
    return module.split(".")[0]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path, root: Path | None = None) -> dict[str, bool]:
    """Package-internal modules ``path`` imports, each with whether the import runs (not type-only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = _name(path, root)
    is_package = path.name == "__init__.py"
    here = module.split(".") if is_package and module != "__init__" else module.split(".")[:-1]
    if module == "__init__":
        here = []
    found: dict[str, bool] = {}
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            type_only.update(id(child) for stmt in node.body for child in ast.walk(stmt))

    def add(target: list[str], node: ast.AST) -> None:
        name = ".".join(target) if target else "__init__"
        runs = id(node) not in type_only
        found[name] = found.get(name, False) or runs

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = [*base, *(node.module.split(".") if node.module else [])]
            elif node.module and node.module.split(".")[0] == "jupyter_imagegen":
                target = node.module.split(".")[1:]
            else:
                continue
            add(target, node)
            for alias in node.names:  # `from . import data`: the name may be a module itself
                add([*target, alias.name], node)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("jupyter_imagegen."):
                    add(alias.name.split(".")[1:], node)
    return {name: runs for name, runs in found.items() if name != module}


def _graph(root: Path | None = None) -> dict[str, dict[str, bool]]:
    modules = {_name(p, root): p for p in _modules(root)}

    def known(name: str) -> str | None:
        while name:  # "x.y.Name" imported as a module attribute resolves to "x.y"
            if name in modules:
                return name
            name = name.rpartition(".")[0]
        return None

    graph: dict[str, dict[str, bool]] = {}
    for name, path in modules.items():
        edges: dict[str, bool] = {}
        for target, runs in _imports(path, root).items():
            resolved = known(target)
            if resolved is not None and resolved != name:
                edges[resolved] = edges.get(resolved, False) or runs
        graph[name] = edges
    return graph


def _problems(module: str, imports: dict[str, bool]) -> list[str]:
    """Imports of ``module`` against the declared order."""
    part = _part(module)
    bad: list[str] = []
    for target in imports:
        other = _part(target)
        if part == "server":
            if other != "server" and other not in SERVER_MAY_IMPORT:
                bad.append(f"{module} imports {target}: the server shares only the wire layer")
        elif part == "gateway":
            if other != "gateway" and other not in GATEWAY_MAY_IMPORT:
                bad.append(f"{module} imports {target}: the gateway shares only the wire layer")
        elif other == "gateway":
            if part not in MAY_IMPORT_GATEWAY:
                bad.append(f"{module} imports {target}: only {sorted(MAY_IMPORT_GATEWAY)} start "
                           "the gateway")
        elif other == "server":
            if part not in MAY_IMPORT_SERVER:
                bad.append(f"{module} imports {target}: only {sorted(MAY_IMPORT_SERVER)} start the server")
        elif RANK[other] > RANK[part]:
            bad.append(f"{module} ({part}) imports {target} ({other}), a part above it")
    return bad


def _cycle(graph: dict[str, dict[str, bool]]) -> list[str]:
    """One cycle of imports that run, or ``[]``."""
    state: dict[str, int] = {}
    trail: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        trail.append(node)
        for nxt, runs in graph.get(node, {}).items():
            if not runs:
                continue
            if state.get(nxt) == 1:
                return [*trail[trail.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        trail.pop()
        state[node] = 2
        return []

    for start in graph:
        if start not in state and (found := visit(start)):
            return found
    return []


_GRAPH = _graph()


def test_every_module_belongs_to_a_declared_part() -> None:
    unplaced = [_name(p) for p in _modules() if _part(_name(p)) not in {*RANK, *SIDE_PARTS}]
    assert not unplaced, f"give these modules a part in PARTS: {unplaced}"
    for part in RANK:
        assert (PACKAGE / part).is_dir() or (PACKAGE / f"{part}.py").is_file(), part


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_imports_follow_the_declared_order(path: Path) -> None:
    bad = _problems(_name(path), _GRAPH[_name(path)])
    assert not bad, "\n".join(bad)


def test_no_import_cycles() -> None:
    cycle = _cycle(_GRAPH)
    assert not cycle, f"import cycle: {' -> '.join(cycle)}"


def test_the_parts_graph_is_shallow() -> None:
    """Collapsed to one node per part, the longest import chain has at most 10 levels."""
    collapsed: dict[str, set[str]] = {}
    for module, edges in _GRAPH.items():
        collapsed.setdefault(_part(module), set()).update(
            _part(t) for t in edges if _part(t) != _part(module))
    assert not _cycle({k: dict.fromkeys(v, True) for k, v in collapsed.items()})
    depth: dict[str, int] = {}

    def level(node: str) -> int:
        if node not in depth:
            depth[node] = 1 + max((level(n) for n in collapsed.get(node, ())), default=0)
        return depth[node]

    deepest = max(level(node) for node in collapsed)
    assert deepest <= 10, f"the parts graph is {deepest} levels deep"
    assert level("__init__") >= 5  # the facade sits on the parts, it is not a flat bag


def test_the_readme_picture_matches_the_declared_order() -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- parts -->\n```text\n(.*?)```", text, re.S)
    assert block, "README.md needs the parts picture between <!-- parts --> and a ```text block"
    named = re.findall(r"(?m)^\s*(_[a-z_]+|__init__|server|gateway)/?\b", block.group(1))
    order = [n for n in named if n in RANK]
    assert order == sorted(order, key=RANK.__getitem__, reverse=True), order
    assert set(order) == set(RANK) - {"_version"}, set(RANK) - set(order)
    assert set(named) >= SIDE_PARTS, f"the picture should show {sorted(SIDE_PARTS - set(named))}"


def _sizes(path: Path) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            out.append((kind, node.name, (node.end_lineno or node.lineno) - node.lineno + 1))
    return out


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_functions_and_classes_stay_readable(path: Path) -> None:
    limits = {"function": FUNCTION_LIMIT, "class": CLASS_LIMIT}
    over = [f"{kind} {name} has {size} lines (limit {limits[kind]})"
            for kind, name, size in _sizes(path) if size > limits[kind]]
    assert not over, f"{_name(path)}: " + "; ".join(over)
    lines = len(path.read_text(encoding="utf-8").splitlines())
    if lines > MODULE_SOFT_LIMIT:  # soft: a long module that is one thing is better than two halves
        warnings.warn(f"{_name(path)} has {lines} lines (soft limit {MODULE_SOFT_LIMIT})", stacklevel=1)


def _any_stand_ins(path: Path) -> list[str]:
    """``X = Any`` aliases and ``self: Any`` parameters: places where a project type went blind."""
    found: list[str] = []

    def is_any(node: ast.AST | None) -> bool:
        return (isinstance(node, ast.Name) and node.id == "Any") or (
            isinstance(node, ast.Attribute) and node.attr == "Any")

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Assign) and is_any(node.value):
            found += [f"line {node.lineno}: {ast.unparse(t)} = Any" for t in node.targets]
        elif isinstance(node, ast.AnnAssign) and is_any(node.value):
            found.append(f"line {node.lineno}: {ast.unparse(node.target)} = Any")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = [*node.args.posonlyargs, *node.args.args]
            if args and args[0].arg in ("self", "cls") and is_any(args[0].annotation):
                found.append(f"line {node.lineno}: {node.name}({args[0].arg}: Any)")
    return found


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_no_any_stands_in_for_a_project_type(path: Path) -> None:
    found = _any_stand_ins(path)
    assert not found, f"{_name(path)}: use a TYPE_CHECKING import or a Protocol: {found}"


# -- the checks catch what they are for ---------------------------------------------------------


def _fake_package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "jupyter_imagegen"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_order_check_catches_an_upward_import(tmp_path: Path) -> None:
    root = _fake_package(tmp_path, {
        "_wire/__init__.py": "", "_wire/chat.py": "def f():\n    from .._core.client import Client\n",
        "_core/__init__.py": "", "_core/client.py": "class Client: ...\n",
        "_results/__init__.py": "",
        "_results/result.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                              "    from jupyter_imagegen._core.client import Client\n",
        "server/_app.py": "from jupyter_imagegen._core import client\n",
        "gateway/_app.py": "from jupyter_imagegen.server._app import Handler\n",
        "gateway/_pricing.py": "from .._wire.chat import f\n",
        "_api.py": "from .gateway._app import create_app\n",
    })
    graph = _graph(root)
    problems = {name: _problems(name, edges) for name, edges in graph.items()}
    assert problems["_wire.chat"] == ["_wire.chat (_wire) imports _core.client (_core), a part above it"]
    assert problems["_results.result"], "a type-only import across parts still counts"
    assert problems["server._app"] and "wire layer" in problems["server._app"][0]
    assert problems["gateway._app"] and "wire layer" in problems["gateway._app"][0]
    assert problems["gateway._pricing"] == []
    assert problems["_api"] and "start the gateway" in problems["_api"][0]
    assert problems["_core.client"] == []


def test_the_cycle_check_ignores_type_only_back_references(tmp_path: Path) -> None:
    root = _fake_package(tmp_path, {
        "_results/__init__.py": "",
        "_results/result.py": "def show():\n    from .display import show_result\n",
        "_results/display.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                               "    from .result import ImageResult\n",
    })
    assert _cycle(_graph(root)) == []
    (root / "_results" / "display.py").write_text("from .result import show\n")
    assert _cycle(_graph(root)) == ["_results.display", "_results.result", "_results.display"] or \
        _cycle(_graph(root)) == ["_results.result", "_results.display", "_results.result"]


def test_the_any_check_catches_aliases_and_blind_self(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("from typing import Any\nClient = Any\nclass M:\n    def f(self: Any) -> None: ...\n"
                    "x: dict[str, Any] = {}\n")
    assert _any_stand_ins(path) == ["line 2: Client = Any", "line 4: f(self: Any)"]


def test_the_size_check_measures_functions(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("def long():\n" + "    x = 1\n" * 81)
    assert ("function", "long", 82) in _sizes(path)
