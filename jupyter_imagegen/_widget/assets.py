"""Assemble the widget's ES modules (``js/*.js``) into the one module anywidget loads.

anywidget takes ``_esm`` as one string (or one file) and loads it from a blob URL, where relative
imports such as ``import { el } from "./dom.js"`` cannot resolve. The front end is still written as
small modules, with no bundler: :func:`assemble` concatenates them at load time.

The modules keep to a small, checked subset of ES module syntax:

* Local imports are named imports at column 0, ``import { a, b } from "./x.js";`` (one or several
  lines), of a file in the same directory. No ``as`` renaming, no default or namespace import, no
  dynamic ``import()``, no ``import.meta``, no bare or URL specifiers.
* Exports are ``export`` before a ``function``, ``async function``, ``class``, ``const``, ``let``
  or ``var`` declaration at column 0. Only the entry module may have ``export default`` (and must).
  No ``export { ... }`` lists and no re-exports.
* Every module-level name is unique across the modules: once concatenated, they share one scope.

Anything else raises :class:`AssembleError`, as do a cycle, a missing file, an imported name the
module does not export, and a name declared at the top level of two modules. Comments, strings,
template literals and regular expressions are masked before any of this is looked for, so text in
them is never taken for an import or an export.

The result lists the modules in dependency order (each after the modules it imports, in the
order the imports appear, the entry last), each with its import statements removed and, except in
the entry, the ``export`` keywords removed. It is deterministic: the same files give the same
string.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from .._exceptions import ImageGenError

__all__ = ["AssembleError", "assemble", "asset_dir", "css", "esm", "mask"]


def asset_dir(package: Path | None = None) -> Path:
    """Where the front end's files are: the wheel's ``static/``, else a checkout's ``js/``."""
    package = package or Path(__file__).resolve().parents[1]
    shipped = package / "static"
    return shipped if (shipped / "widget.js").is_file() else package.parent / "js"


@functools.lru_cache(maxsize=4)
def _assembled(folder: Path, stamp: tuple[tuple[str, int], ...]) -> str:
    return assemble(folder)


def esm(folder: Path | None = None) -> str:
    """The widget's one ES module, assembled from ``widget.js`` and what it imports.

    Cached on the files' modification times: assembling takes a few milliseconds, and an edited
    module in a checkout is picked up by the next widget class that asks.
    """
    folder = folder or asset_dir()
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.js")))
    return _assembled(folder, stamp)


def css(folder: Path | None = None) -> str:
    """The widget's stylesheet."""
    return ((folder or asset_dir()) / "widget.css").read_text(encoding="utf-8")


class AssembleError(ImageGenError):
    """The modules use something :func:`assemble` does not understand, or cannot be joined."""


_IDENT = r"[A-Za-z_$][\w$]*"
#: Before a ``/`` that starts a regular expression rather than dividing (the usual heuristic).
_REGEX_AFTER_CHARS = set("(,=:[!&|?{};+-*%<>~^")
_REGEX_AFTER_WORDS = {"return", "typeof", "instanceof", "in", "of", "new", "delete", "void",
                      "throw", "case", "do", "else", "yield", "await"}


def mask(source: str) -> str:
    """Blank out ``source``'s comments and the text of its strings, templates and regexes.

    Every comment, and the contents of every string, template literal and regular expression,
    become spaces (line breaks kept), so offsets and line numbers still match. Quotes, backticks
    and the slashes of a regular expression stay; so do the ``${`` and ``}`` around a template's
    expressions, which are code and are masked as code. What is left is code whose braces,
    parentheses and keywords can be matched with regular expressions. A ``/`` starts a regular
    expression after an operator, an opening bracket, a comma or semicolon, a keyword such as
    ``return``, or at the start; otherwise it divides (the usual heuristic, good enough for these
    files, not for every program). Raises :class:`AssembleError` on an unterminated comment,
    string, template literal or regular expression.
    """
    return _Masker(source).run()


class _Masker:
    """The scanner behind :func:`mask`: one pass over the source, one method per kind of text."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.out = list(source)
        self.n = len(source)
        self.templates: list[int] = []  # for each open template expression, its brace depth inside

    def blank(self, start: int, end: int) -> None:
        for k in range(start, end):
            if self.out[k] != "\n":
                self.out[k] = " "

    def run(self) -> str:
        source, i = self.source, 0
        while i < self.n:
            ch = source[i]
            if ch in " \t\r\n":
                i += 1
            elif source.startswith("//", i):
                end = source.find("\n", i)
                end = self.n if end < 0 else end
                self.blank(i, end)
                i = end
            elif source.startswith("/*", i):
                end = source.find("*/", i + 2)
                if end < 0:
                    raise AssembleError("unterminated block comment")
                self.blank(i, end + 2)
                i = end + 2
            elif ch in "'\"":
                i = self.string(i)
            elif ch == "`":
                i = self.template_text(i + 1)
            elif ch in "{}" and self.templates:
                i = self.template_brace(i)
            elif ch == "/" and _starts_regex(self.out, i):
                i = self.regex(i)
            else:
                i += 1
        return "".join(self.out)

    def string(self, i: int) -> int:
        """Blank a quoted string's text; return the offset past its closing quote."""
        quote, j = self.source[i], i + 1
        while j < self.n and self.source[j] != quote:
            if self.source[j] == "\n":
                raise AssembleError(f"unterminated string at offset {i}")
            j += 2 if self.source[j] == "\\" else 1
        if j >= self.n:
            raise AssembleError(f"unterminated string at offset {i}")
        self.blank(i + 1, j)
        return j + 1

    def template_text(self, i: int) -> int:
        """From inside a template literal's text to just past its closing backtick or ``${``."""
        start = i
        while i < self.n:
            ch = self.source[i]
            if ch == "\\":
                i += 2
            elif ch == "`":
                self.blank(start, i)
                return i + 1
            elif ch == "$" and self.source.startswith("${", i):
                self.blank(start, i)
                self.templates.append(0)
                return i + 2
            else:
                i += 1
        raise AssembleError("unterminated template literal")

    def template_brace(self, i: int) -> int:
        """A brace inside a template expression: nesting, or the ``}`` that returns to its text."""
        if self.source[i] == "{":
            self.templates[-1] += 1
            return i + 1
        if self.templates[-1] == 0:
            self.templates.pop()
            return self.template_text(i + 1)
        self.templates[-1] -= 1
        return i + 1

    def regex(self, i: int) -> int:
        """Blank a regular expression literal's text; return the offset past its closing slash."""
        j, in_class = i + 1, False
        while j < self.n and (in_class or self.source[j] != "/"):
            if self.source[j] == "\n":
                raise AssembleError(f"unterminated regular expression at offset {i}")
            if self.source[j] == "\\":
                j += 1
            elif self.source[j] == "[":
                in_class = True
            elif self.source[j] == "]":
                in_class = False
            j += 1
        self.blank(i + 1, j)
        return j + 1


def _starts_regex(masked: list[str], i: int) -> bool:
    """Whether the ``/`` at ``i`` starts a regular expression (judged on the code before it)."""
    j = i - 1
    while j >= 0 and masked[j] in " \t\r\n":
        j -= 1
    if j < 0:
        return True
    if masked[j] in _REGEX_AFTER_CHARS:
        return True
    k = j
    while k >= 0 and (masked[k].isalnum() or masked[k] in "_$"):
        k -= 1
    return "".join(masked[k + 1:j + 1]) in _REGEX_AFTER_WORDS


_IMPORT = re.compile(r"^import[ \t]*\{(?P<names>[^}]*)\}[ \t]*from[ \t]*(?P<q>[\"'])"
                     r"(?P<spec>[^\"'\n]*)(?P=q)[ \t]*;?[ \t]*(?:\n|$)", re.M)
_EXPORT = re.compile(r"^export[ \t]+(?=(?:async[ \t]+function\b|function\b|class\b|const\b"
                     r"|let\b|var\b))", re.M)
_EXPORT_DEFAULT = re.compile(r"^export[ \t]+default\b", re.M)
_DECLARATION = re.compile(rf"^(?:export[ \t]+)?(?:async[ \t]+function\b[ \t]*\*?|function\b[ \t]*\*?"
                          rf"|class\b|const\b|let\b|var\b)[ \t]*(?P<name>{_IDENT}|[{{\[])", re.M)
_SPECIFIER = re.compile(r"\./[A-Za-z0-9_.-]+\.js")


@dataclass
class _Module:
    name: str  # the file name, e.g. "dom.js"
    imports: list[tuple[str, list[str]]]  # (file name, imported names), in source order
    exports: set[str]
    declared: list[str]  # every module-level name it declares
    body: str  # the source with its import statements removed


def _line(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def _nested(code: str) -> set[int]:
    """The offsets of the line starts in masked ``code`` that are inside brackets (not top level)."""
    inside: set[int] = set()
    depth = 0
    for offset, ch in enumerate(code):
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
            if depth < 0:
                raise AssembleError(f"unbalanced `{ch}` on line {_line(code, offset)}")
        elif ch == "\n" and depth > 0:
            inside.add(offset + 1)
    if depth:
        raise AssembleError("unbalanced brackets (an unclosed `{`, `(` or `[`)")
    return inside


def _parse(js_dir: Path, name: str) -> _Module:
    path = js_dir / name
    if not path.is_file():
        raise AssembleError(f"{name}: no such module in {js_dir}")
    source = path.read_text(encoding="utf-8")
    try:
        code = mask(source)
        nested = _nested(code)
    except AssembleError as exc:
        raise AssembleError(f"{name}: {exc}") from None

    def where(offset: int) -> str:
        return f"{name}:{_line(source, offset)}"

    imports: list[tuple[str, list[str]]] = []
    spans: list[tuple[int, int]] = []
    for found in _IMPORT.finditer(code):
        if found.start() in nested:
            continue  # not a statement of the module: left to the check below
        spec = source[found.start("spec"):found.end("spec")]
        if not _SPECIFIER.fullmatch(spec):
            raise AssembleError(f"{where(found.start())}: only ./<name>.js imports are joined, not {spec!r}")
        names = [part.strip() for part in found["names"].split(",") if part.strip()]
        for imported in names:
            if not re.fullmatch(_IDENT, imported):
                raise AssembleError(f"{where(found.start())}: cannot join `{imported}` "
                                    "(named imports only, no `as`)")
        imports.append((spec[2:], names))
        spans.append(found.span())
    claimed = [start for start, _ in spans]
    for found in re.finditer(r"\bimport\b", code):
        if found.start() not in claimed:
            raise AssembleError(f"{where(found.start())}: cannot join this import (only `import {{ a, b }} "
                                f"from \"./x.js\";` at the start of a line)")
    top = [m for m in _DECLARATION.finditer(code) if m.start() not in nested]
    exports = {m["name"] for m in top if m[0].startswith("export")}
    understood = {m.start() for m in (*_EXPORT.finditer(code), *_EXPORT_DEFAULT.finditer(code))
                  if m.start() not in nested}
    for found in re.finditer(r"\bexport\b", code):
        if found.start() not in understood:
            raise AssembleError(f"{where(found.start())}: cannot join this export (only `export` before a "
                                "declaration at the start of a line, or `export default` in the entry)")
    declared = []
    for found in top:
        if found["name"] in "{[":
            raise AssembleError(f"{where(found.start())}: cannot join a destructuring declaration "
                                "at the top level")
        declared.append(found["name"])
    body = source
    for start, end in reversed(spans):
        body = body[:start] + body[end:]
    return _Module(name, imports, exports, declared, body)


def _strip_exports(module: _Module) -> str:
    code = mask(module.body)
    if found := _EXPORT_DEFAULT.search(code):
        raise AssembleError(f"{module.name}:{_line(module.body, found.start())}: only the entry module "
                            "may have `export default`")
    body = module.body
    for found in reversed(list(_EXPORT.finditer(code))):
        body = body[:found.start()] + body[found.end():]
    return body


def _order(js_dir: Path, entry: str) -> list[_Module]:
    """The modules reachable from ``entry``, each after those it imports (depth first)."""
    done: dict[str, _Module] = {}
    visiting: list[str] = []

    def visit(name: str, importer: str | None) -> None:
        if name in visiting:
            cycle = " -> ".join([*visiting[visiting.index(name):], name])
            raise AssembleError(f"import cycle: {cycle}")
        if name in done:
            return
        visiting.append(name)
        module = _parse(js_dir, name)
        for target, names in module.imports:
            visit(target, name)
            missing = [n for n in names if n not in done[target].exports]
            if missing:
                raise AssembleError(f"{name} imports {', '.join(missing)} from {target}, "
                                    "which does not export it")
        visiting.pop()
        done[name] = module

    visit(entry, None)
    return list(done.values())


def assemble(js_dir: Path, entry: str = "widget.js") -> str:
    """Join ``entry`` and the modules it imports (transitively) from ``js_dir`` into one ES module.

    Each module comes after the ones it imports, the entry last; import statements are removed,
    and so is every ``export`` keyword outside the entry, which keeps its ``export default``.
    Raises :class:`AssembleError` on anything outside the subset described in this module's
    docstring (``import * as``, a default import, a cycle, a name declared in two modules, ...).
    """
    modules = _order(Path(js_dir), entry)
    owner: dict[str, str] = {}
    for module in modules:
        for name in module.declared:
            if name in owner:
                twice = owner[name] == module.name
                where = f"twice in {module.name}" if twice else f"in {owner[name]} and {module.name}"
                raise AssembleError(f"`{name}` is declared {where}: module-level names must be unique")
            owner[name] = module.name
    if not _EXPORT_DEFAULT.search(mask(modules[-1].body)):
        raise AssembleError(f"{entry}: the entry module has no `export default`")
    parts = [f"// Assembled from {', '.join(m.name for m in modules)} (js/, joined by assemble(): imports"
             " removed, `export` kept only in the entry). Edit those files, not this.\n"]
    for module in modules:
        body = module.body if module is modules[-1] else _strip_exports(module)
        parts.append(f"\n// ---- {module.name} ----\n{body.rstrip()}\n")
    return "".join(parts)
