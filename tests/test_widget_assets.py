"""The JS assembler (jupyter_imagegen._widget.assets): js/'s ES modules joined into
the one module anywidget loads, and a loud failure on anything it does not understand."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from js_function_lengths import LIMIT, functions, too_long

from jupyter_imagegen import ImageGenWidget
from jupyter_imagegen._widget.assets import AssembleError, assemble, asset_dir, esm, mask

ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "js"

NODE = shutil.which("node")


def modules(tmp_path: Path, **files: str) -> Path:
    """Write ``name_js="source"`` keyword arguments as ``name.js`` files; return the directory."""
    for name, source in files.items():
        (tmp_path / f"{name.removesuffix('_js')}.js").write_text(source, encoding="utf-8")
    return tmp_path


def sections(assembled: str) -> list[str]:
    return re.findall(r"^// ---- (\S+) ----$", assembled, re.M)


def run_node(tmp_path: Path, assembled: str, script: str) -> str:
    """Import the assembled module in Node (as a file) and run ``script`` with it as ``widget``."""
    (tmp_path / "assembled.mjs").write_text(assembled, encoding="utf-8")
    (tmp_path / "main.mjs").write_text(f"import widget from './assembled.mjs';\n{script}\n", encoding="utf-8")
    done = subprocess.run([NODE or "node", str(tmp_path / "main.mjs")], capture_output=True, text=True,
                          timeout=30, check=True)
    return done.stdout.strip()


# -- the real front end ---------------------------------------------------------------------------

def test_real_modules_join_into_one_module_with_one_default_export() -> None:
    out = assemble(JS)
    assert sections(out)[-1] == "widget.js"
    assert len(re.findall(r"^export\b", out, re.M)) == 1
    assert re.search(r"^export default \{ render \};$", out, re.M)
    assert not re.search(r"^\s*import\b", out, re.M)
    assert assemble(JS) == out  # deterministic


def test_every_module_in_js_is_reached_from_the_entry() -> None:
    # A module nothing imports would be type-checked but never shipped.
    assert sorted(sections(assemble(JS))) == sorted(p.name for p in JS.glob("*.js"))


def test_each_real_module_comes_after_what_it_imports() -> None:
    order = sections(assemble(JS))
    for path in JS.glob("*.js"):
        for spec in re.findall(r'^import \{[^}]*\} from "\./([\w.-]+)";', path.read_text(), re.M):
            assert order.index(spec) < order.index(path.name), (spec, path.name)


@pytest.mark.skipif(NODE is None, reason="no node")
def test_real_assembled_module_parses_as_an_es_module(tmp_path: Path) -> None:
    (tmp_path / "widget.mjs").write_text(assemble(JS), encoding="utf-8")
    subprocess.run([NODE or "node", "--check", str(tmp_path / "widget.mjs")], check=True, timeout=30)


# -- joining ----------------------------------------------------------------------------------------

@pytest.mark.skipif(NODE is None, reason="no node")
def test_dependencies_first_shared_ones_once_and_the_result_runs(tmp_path: Path) -> None:
    js = modules(
        tmp_path,
        widget_js='import { b } from "./b.js";\nimport { c, C } from "./c.js";\n'
                  'function render() { return b() + c() + C; }\nexport default { render };\n',
        b_js='import { c } from "./c.js";\n\nexport function b() { return "b" + c(); }\n',
        c_js='export const C = "!";\nexport function c() { return "c"; }\n',
    )
    out = assemble(js)
    assert sections(out) == ["c.js", "b.js", "widget.js"]
    assert "export function" not in out and "export const" not in out
    assert run_node(tmp_path, out, "console.log(widget.render());") == "bcc!"


def test_multi_line_import_and_text_that_only_looks_like_imports(tmp_path: Path) -> None:
    js = modules(
        tmp_path,
        widget_js='import {\n  a,\n  b,\n} from "./a.js";\n'
                  '// import * as nope from "./nowhere.js"\n'
                  '/* export { a };\nimport x from "./x.js"; */\n'
                  'const s = "import * as q from \'./q.js\'";\n'
                  'const t = `\nimport { z } from "./z.js";\n${a}`;\n'
                  'const r = /export default/;\n'
                  'export default { a, b, s, t, r };\n',
        a_js='export function a() {}\nexport async function b() {}\n',
    )
    out = assemble(js)
    assert sections(out) == ["a.js", "widget.js"]
    assert '// import * as nope from "./nowhere.js"' in out
    assert 'import { z } from "./z.js";' in out  # inside the template literal: kept as text
    assert "function a() {}" in out and "async function b() {}" in out


def test_mask_blanks_text_and_keeps_offsets(tmp_path: Path) -> None:
    source = ('const a = "x{y}"; // {\nconst b = `t{${ {k: 1}.k }}`;\n'
              'const c = x / 2 / y; const d = /[/{]\\//g.test(s);\n/* { */ const e = \'}\';\n')
    code = mask(source)
    assert len(code) == len(source) and code.count("\n") == source.count("\n")
    assert code.count("{") == code.count("}")
    assert "x / 2 / y" in code  # division is not a regular expression
    assert "const e = ' ';" in code


# -- loud failures ------------------------------------------------------------------------------

ENTRY = 'export default { render() {} };\n'


@pytest.mark.parametrize(("line", "message"), [
    ('import * as all from "./b.js";', "cannot join this import"),
    ('import b from "./b.js";', "cannot join this import"),
    ('import b, { x } from "./b.js";', "cannot join this import"),
    ('import { x as y } from "./b.js";', "named imports only"),
    ('import "./b.js";', "cannot join this import"),
    ('import { x } from "b";', "only ./<name>.js imports"),
    ('import { x } from "../js/b.js";', "only ./<name>.js imports"),
    ('import { x } from "https://esm.sh/b.js";', "only ./<name>.js imports"),
    ('const m = await import("./b.js");', "cannot join this import"),
    ('const here = import.meta.url;', "cannot join this import"),
    ('  import { x } from "./b.js";', "cannot join this import"),
    ('export { x };', "cannot join this export"),
    ('export * from "./b.js";', "cannot join this export"),
    ('export const { p, q } = {};', "destructuring"),
])
def test_what_it_does_not_understand_raises(tmp_path: Path, line: str, message: str) -> None:
    js = modules(tmp_path, widget_js=f"{line}\n{ENTRY}", b_js="export const x = 1;\n")
    with pytest.raises(AssembleError, match=re.escape(message)):
        assemble(js)


def test_a_cycle_raises_and_names_it(tmp_path: Path) -> None:
    js = modules(tmp_path, widget_js=f'import {{ b }} from "./b.js";\n{ENTRY}',
                 b_js='import { c } from "./c.js";\nexport const b = 1;\n',
                 c_js='import { b } from "./b.js";\nexport const c = 1;\n')
    with pytest.raises(AssembleError, match=re.escape("import cycle: b.js -> c.js -> b.js")):
        assemble(js)


def test_importing_the_entry_back_is_a_cycle(tmp_path: Path) -> None:
    js = modules(tmp_path, widget_js=f'import {{ b }} from "./b.js";\nexport const w = 1;\n{ENTRY}',
                 b_js='import { w } from "./widget.js";\nexport const b = w;\n')
    with pytest.raises(AssembleError, match=re.escape("import cycle: widget.js -> b.js -> widget.js")):
        assemble(js)


def test_a_name_declared_in_two_modules_raises(tmp_path: Path) -> None:
    js = modules(tmp_path, widget_js=f'import {{ b }} from "./b.js";\nfunction helper() {{}}\n{ENTRY}',
                 b_js="const helper = 2;\nexport const b = helper;\n")
    with pytest.raises(AssembleError, match=re.escape("`helper` is declared in b.js and widget.js")):
        assemble(js)


def test_names_in_nested_scopes_may_repeat(tmp_path: Path) -> None:
    js = modules(tmp_path,
                 widget_js='import { b } from "./b.js";\nfunction f() {\n  const x = b;\n  return x;\n}\n'
                           'export default { render: f };\n',
                 b_js="export function b() {\n  const x = 1;\n  return x;\n}\n")
    assert sections(assemble(js)) == ["b.js", "widget.js"]


@pytest.mark.parametrize(("files", "message"), [
    ({"widget_js": f'import {{ nope }} from "./b.js";\n{ENTRY}', "b_js": "export const b = 1;\n"},
     "imports nope from b.js, which does not export it"),
    ({"widget_js": f'import {{ hidden }} from "./b.js";\n{ENTRY}', "b_js": "const hidden = 1;\n"},
     "imports hidden from b.js, which does not export it"),
    ({"widget_js": f'import {{ b }} from "./missing.js";\n{ENTRY}'}, "missing.js: no such module"),
    ({"widget_js": f'import {{ b }} from "./b.js";\n{ENTRY}',
      "b_js": "export const b = 1;\nexport default b;\n"},
     "only the entry module may have `export default`"),
    ({"widget_js": "export const w = 1;\n"}, "the entry module has no `export default`"),
    ({"widget_js": f"const a = 1;\nconst a = 2;\n{ENTRY}"}, "`a` is declared twice in widget.js"),
    ({"widget_js": f"function f() {{\n{ENTRY}"}, "unbalanced"),
    ({"widget_js": f'const s = "no end;\n{ENTRY}'}, "unterminated string"),
])
def test_broken_module_sets_raise(tmp_path: Path, files: dict[str, str], message: str) -> None:
    with pytest.raises(AssembleError, match=re.escape(message)):
        assemble(modules(tmp_path, **files))


def test_another_entry_name(tmp_path: Path) -> None:
    js = modules(tmp_path, main_js=f'import {{ b }} from "./b.js";\n{ENTRY}', b_js="export const b = 1;\n")
    assert sections(assemble(js, entry="main.js")) == ["b.js", "main.js"]


def test_the_widget_gets_the_assembled_module_of_this_checkout() -> None:
    assert asset_dir() == JS  # an editable install reads js/ itself
    assert ImageGenWidget._esm == esm() == assemble(JS)
    assert "export default" in ImageGenWidget._esm and "--jp-layout-color1" in ImageGenWidget._css


def test_a_wheel_reads_its_static_copy(tmp_path: Path) -> None:
    package = tmp_path / "jupyter_imagegen"
    (package / "static").mkdir(parents=True)
    for path in JS.glob("*.js"):
        shutil.copy(path, package / "static" / path.name)
    assert asset_dir(package) == package / "static"
    assert esm(package / "static") == assemble(JS)


def test_every_module_ships_in_the_wheel() -> None:
    """pyproject force-includes each module: one left out would load in a checkout, not a wheel."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for path in JS.glob("*.js"):
        assert f'"js/{path.name}" = "jupyter_imagegen/static/{path.name}"' in text, path.name


@pytest.mark.parametrize("path", sorted(JS.glob("*.js")), ids=lambda p: p.name)
def test_js_functions_stay_readable(path: Path) -> None:
    over = [f"{f.name} (line {f.line}) has {f.lines} lines" for f in too_long(path.read_text())]
    assert not over, f"{path.name}: split these (limit {LIMIT}): {over}"


def test_the_length_check_sees_every_kind_of_function() -> None:
    body = "  x += 1;\n" * 85
    source = (f"function plain() {{\n{body}}}\n"
              f"const arrow = (a) => {{\n{body}}};\n"
              f"class K {{\n  method() {{\n{body}  }}\n}}\n"
              "const short = () => { return '{{{'; };\n")  # braces in a string do not count
    assert [(f.name, f.lines) for f in too_long(source)] == [
        ("plain", 87), ("arrow", 87), ("method", 87)]
    assert "short" in [f.name for f in functions(source)]
