"""Report every JavaScript function in js/*.js longer than a limit (80 lines by default).

Used by tests/test_widget_assets.py. A function is a ``function`` declaration or expression
(``async`` and generator forms too), a method (in a class or an object literal, getters and
setters included) or an arrow
function with a block body; arrow functions with an expression body are not counted. Its length
runs from the line its head starts on (the ``function`` keyword, the method's name, the arrow's
``=>``) to the line of its closing brace, both included. A nested function counts within the
function around it as well as on its own.

The braces are matched on :func:`jupyter_imagegen._widget.assets.mask`'s view of the source,
where comments and the contents of strings, template literals and regular expressions are
blanked out (the same
scanner the assembler relies on), so braces in text never count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from jupyter_imagegen._widget.assets import mask

LIMIT = 80
_IDENT = r"[A-Za-z_$][\w$]*"
_KEYWORDS = {"if", "for", "while", "switch", "catch", "with", "function", "return", "do", "else",
             "try", "finally", "typeof", "await", "new", "delete", "void", "in", "of", "yield"}
_FUNCTION = re.compile(rf"\bfunction\b\s*\*?\s*(?P<name>{_IDENT})?\s*\(")
_METHOD = re.compile(rf"(?:^|(?<=[{{,;}}]))\s*(?:(?:static|async|get|set)\s+)*\*?\s*"
                     rf"(?P<name>{_IDENT}|#{_IDENT})\s*\(", re.M)
_ARROW = re.compile(r"=>\s*\{")
_ARROW_NAME = re.compile(rf"(?P<name>{_IDENT})\s*(?::|=|\?\?=|\|\|=)\s*(?:async\s*)?"
                         rf"(?:\([^()]*\)|{_IDENT})\s*$")


@dataclass(frozen=True)
class Function:
    name: str
    line: int  # where its head starts (1-based)
    end: int  # the line of its closing brace

    @property
    def lines(self) -> int:
        return self.end - self.line + 1


def _close(code: str, start: int, open_ch: str, close_ch: str) -> int:
    """The offset of the bracket closing the one at ``start``."""
    depth = 0
    for offset in range(start, len(code)):
        if code[offset] == open_ch:
            depth += 1
        elif code[offset] == close_ch:
            depth -= 1
            if depth == 0:
                return offset
    raise ValueError(f"unbalanced {open_ch!r} at offset {start}")


def _body_after_params(code: str, paren: int) -> int | None:
    """After the parameter list opening at ``paren``: the offset of the body's ``{``, if a body follows."""
    after = _close(code, paren, "(", ")") + 1
    found = re.match(r"\s*\{", code[after:])
    return after + found.end() - 1 if found else None


def functions(source: str) -> list[Function]:
    """Every function in ``source``, in the order their heads appear."""
    code = mask(source)

    def line(offset: int) -> int:
        return code.count("\n", 0, offset) + 1

    found: dict[int, Function] = {}  # by the offset of the body's opening brace
    for match in _FUNCTION.finditer(code):
        brace = _body_after_params(code, match.end() - 1)
        if brace is not None:
            found[brace] = Function(match["name"] or "<function>", line(match.start()),
                                    line(_close(code, brace, "{", "}")))
    for match in _METHOD.finditer(code):
        if match["name"] in _KEYWORDS:
            continue
        brace = _body_after_params(code, match.end() - 1)
        if brace is not None and brace not in found:
            start = match.start("name")
            found[brace] = Function(match["name"], line(start), line(_close(code, brace, "{", "}")))
    for match in _ARROW.finditer(code):
        brace = match.end() - 1
        head = code[code.rfind("\n", 0, match.start()) + 1:match.start()]
        named = _ARROW_NAME.search(head)
        found[brace] = Function(named["name"] if named else "<arrow>", line(match.start()),
                                line(_close(code, brace, "{", "}")))
    return sorted(found.values(), key=lambda f: (f.line, f.name))


def too_long(source: str, limit: int = LIMIT) -> list[Function]:
    """The functions of ``source`` longer than ``limit`` lines."""
    return [f for f in functions(source) if f.lines > limit]
