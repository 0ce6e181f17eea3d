"""One ``%%imagegen`` cell, read: the option types and the frozen :class:`CellCommand`.

This is the parse half of the magic (:mod:`.magic` is the run half). It is a module of its own
because it is one thing with one job, deciding what a cell means, and it can be read and tested
without an IPython shell: every function takes the text and the namespace it reads, and raises
argparse's or IPython's usage error before anything is sent.

Argument types check spelling only (``16x9`` becomes ``16:9``): what a model takes is the
catalogue's to say, checked against the chosen model by the core's ``Request``.
"""

from __future__ import annotations

import argparse
import builtins
import keyword
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._core.matrix import expand
from .._exceptions import ImageGenError, InvalidInputError
from .._results.result import ImageResult
from .._wire.sizes import spell_ratio, spell_tier
from .interpolate import interpolate
from .tracebacks import usage_error

__all__ = [
    "CellCommand", "PublicVariables", "cell_prompt", "identifier", "input_images", "matrix_cell",
    "normalize_aspect_ratio", "normalize_image_size", "region_edit", "seconds",
]


# -- argument types -----------------------------------------------------------------------------


def normalize_aspect_ratio(value: str) -> str:
    """``16:9`` (also ``16x9`` / ``16/9``), ``9:19.5`` or ``auto``; junk is a usage error.

    The spelling is the core's (:func:`~jupyter_imagegen._wire.sizes.spell_ratio`, which
    ``Request.build`` applies for every front end); this only turns its error into argparse's, so
    the cell shows the magic's usage line. Which ratios a model takes is its record's to say.
    """
    try:
        return spell_ratio(value)
    except InvalidInputError as exc:
        raise argparse.ArgumentTypeError(f"{exc}; `%imagegen models` lists what each model takes") from None


def normalize_image_size(value: str) -> str:
    """``1K`` (any case; ``512`` is ``0.5K``) or a usage error listing the size tiers."""
    try:
        return spell_tier(value)
    except InvalidInputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


#: Names IPython keeps in the namespace itself: its functions, and the history (``_``, ``_i3``...).
_IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit"})
_HISTORY_NAME = re.compile(r"_+|_i+|_[io]?\d+|_[iod]h")


def identifier(value: str) -> str:
    """A name ``--as`` can assign to: checked here, so a typo fails before the request is paid for.

    Normalised as Python normalises identifiers (NFKC: ``--as ﬁle`` stores ``file``, the name code
    can spell), and never a keyword, a builtin, a dunder or one of IPython's own names:
    ``--as __builtins__`` or ``--as print`` would break every later cell.
    """
    name = unicodedata.normalize("NFKC", value)
    if not name.isidentifier() or keyword.iskeyword(name):
        raise argparse.ArgumentTypeError(f"{value!r} is not a valid Python variable name")
    dunder = name.startswith("__") and name.endswith("__")
    if name in _IPYTHON_NAMES or hasattr(builtins, name) or dunder or _HISTORY_NAME.fullmatch(name):
        raise argparse.ArgumentTypeError(
            f"{value!r} names something Python or IPython already uses (a builtin, a dunder or "
            "the output history); choose another name, e.g. --as image")
    return name


def seconds(value: str) -> float:
    """A positive ``--timeout``: zero or a negative number would make every request fail at once."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number of seconds")
    return seconds


# -- the parsed cell ----------------------------------------------------------------------------


class PublicVariables(Mapping[str, Any]):
    """The user's variables as seen by ``{name}``: no IPython internals, no ``_`` names.

    ``{_}`` or ``{In}`` in a prompt is far more likely literal text than a wish to send the last
    output or the input history to a model, so those stay as written.
    """

    def __init__(self, namespace: Mapping[str, Any], hidden: Mapping[str, Any]) -> None:
        self._ns, self._hidden = namespace, hidden

    def _visible(self, name: str) -> bool:
        if name.startswith("_") or name not in self._ns:
            return False
        return not (name in self._hidden and self._hidden[name] is self._ns[name])

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._visible(name)

    def __getitem__(self, name: str) -> Any:
        if not self._visible(name):
            raise KeyError(name)
        return self._ns[name]

    def __iter__(self) -> Iterator[str]:
        return (name for name in list(self._ns) if self._visible(name))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def cell_prompt(body: str, variables: Mapping[str, Any] | None) -> str:
    """The prompt of a cell body, with ``{name}`` filled from ``variables`` (``None``: literal)."""
    prompt = body.strip()
    if not prompt:
        raise usage_error("The cell is empty: write the prompt on the lines below %%imagegen.")
    return prompt if variables is None else interpolate(prompt, variables).text


def matrix_cell(body: str) -> bool:
    """Whether a cell body marks a prompt matrix, read before ``{name}`` interpolation.

    So ``{{a|b}}`` (escaped braces) stays a literal, and a variable's value never makes a matrix.
    """
    try:
        return expand(body.strip()) is not None
    except ImageGenError:
        return True  # a malformed matrix: the run says what is wrong with it


def input_images(expressions: list[str], namespace: dict[str, Any]) -> list[Any]:
    """Evaluate each ``--input`` in the user's namespace; fall back to a file path.

    A URL is kept as a value; a result contributes its generated images, a list or tuple its
    items. A name that is neither a variable nor a file is a usage error, not a failed request.
    """
    images: list[Any] = []
    for expr in expressions:
        if expr.startswith(("https://", "http://", "data:")):
            images.append(expr)  # a URL is a value, not code
            continue
        try:
            # The expression is the user's own code, evaluated in their own namespace.
            value = eval(expr, namespace)  # noqa: S307
        except Exception:
            path = Path(expr).expanduser()
            if path.is_dir():
                raise usage_error(f"--input {expr}: is a folder; name an image file in it.") from None
            if not path.exists():
                raise usage_error(f"--input {expr}: not a notebook variable or expression, "
                                  "and no such file.") from None
            value = expr
        if isinstance(value, ImageResult):
            images.extend(value.generated)
        else:
            images.extend(value if isinstance(value, (list, tuple)) else [value])
    return images


def region_edit(mask: str | None, inputs: list[str],
                namespace: dict[str, Any]) -> tuple[ImageResult | None, object]:
    """``--mask``'s result and region: ``-i`` must name one result; the mask is a box or a name.

    ``L,T,R,B`` is a box in the image's pixels; anything else is evaluated in the notebook (a PIL
    mask, white = change). Without ``--mask``: ``(None, None)``, an ordinary cell.
    """
    if mask is None:
        return None, None
    if len(inputs) != 1:
        raise usage_error("--mask edits a region of one result: give it with -i NAME "
                          "(a result, e.g. from --as NAME)")
    try:
        source = eval(inputs[0], namespace)  # noqa: S307 (the user's own code, as for -i)
    except Exception:
        source = None
    if not isinstance(source, ImageResult):
        raise usage_error(f"-i {inputs[0]}: --mask needs a result the kit made (from --as NAME "
                          "or a variable), not a file or a plain image")
    box = [part.strip() for part in mask.split(",")]
    if len(box) == 4 and all(re.fullmatch(r"-?\d+(\.\d+)?", part) for part in box):
        return source, tuple(round(float(part)) for part in box)
    try:
        return source, eval(mask, namespace)  # noqa: S307
    except Exception:
        raise usage_error(f"--mask {mask}: neither a box L,T,R,B in pixels (e.g. 100,200,300,400) "
                          "nor a notebook variable holding a mask image") from None


@dataclass(frozen=True)
class CellCommand:
    """One ``%%imagegen`` cell, read once: its options, prompt and inputs, defaults filled in.

    Built by :meth:`.magic.ImageGenMagics._read_cell` before anything is sent; running the cell reads
    only this, never the raw line or the magic's settings again.
    """

    prompt: str
    #: The ``-m`` models as given (several: a comparison grid).
    models: tuple[str, ...]
    #: The model of a single request or a batch: the first ``-m``, else the magic's default.
    model: str | None
    images: list[Any]
    aspect_ratio: str | None
    image_size: str | None
    seed: int | None
    n: int | None
    api: str | None
    stream: bool
    timeout: float | None
    each_line: bool
    concurrency: int
    as_name: str | None
    out: str | None
    no_display: bool
    #: The body marks a prompt matrix (``{red|blue}``): one grid, priced whole.
    matrix: bool = False
    #: ``--mask``: a region edit of ``source`` (the one ``-i`` result) with the body as the change.
    mask: object = None
    source: ImageResult | None = None

    @property
    def is_batch(self) -> bool:
        """True for ``--each-line``, several ``-m`` or a prompt matrix: run in parallel, one grid."""
        return len(self.models) > 1 or self.each_line or self.matrix

    @property
    def prompts(self) -> list[str]:
        """Every prompt to run: each non-empty line with ``--each-line``, else the whole prompt."""
        if not self.each_line:
            return [self.prompt]
        return [p.strip() for p in self.prompt.splitlines() if p.strip()]

    def options(self) -> dict[str, Any]:
        """The request options every path shares (a single request adds ``stream``)."""
        return {"images": self.images or None, "aspect_ratio": self.aspect_ratio,
                "image_size": self.image_size, "seed": self.seed, "n": self.n, "api": self.api,
                "timeout": self.timeout}
