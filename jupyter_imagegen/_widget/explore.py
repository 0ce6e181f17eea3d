"""The widget's exploring: prompt matrices and seed strips drawn as one grid, region edits, picks.

Exploring is varying one thing and looking at the results side by side, so a matrix prompt
(``{red|blue} lighthouse at {dawn|dusk}``) typed in the prompt box and "4 more like this" in the
zoom view both end in the same ``grid`` trait: row and column labels and one cell per request,
filled as each one lands (a cell is a gallery entry, so it zooms, downloads and stars like any).
The work itself is the client's (``Client.matrix`` prices the whole grid before sending,
``Client.variations`` refuses a model without seeds, ``ImageResult.edit(mask=...)`` keeps every
pixel outside the region); this module only turns the page's requests into those calls and their
answers into what the page draws. The widget's class runs the calls in its worker thread.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PIL import Image, UnidentifiedImageError

from .._core.matrix import expand, worst_case
from .._exceptions import CancelledError, InvalidInputError
from .._results.labels import money, prices_simulated
from . import data as wd

if TYPE_CHECKING:
    import threading

    from .._core.batch import BatchItem, Comparison
    from .._core.client import Client
    from .._results.result import ImageResult
    from .widget import ImageGenWidget

__all__ = ["Grid", "mask_from_page", "matrix_price", "run_edit", "run_matrix", "run_variations"]

#: The largest mask PNG the page may send (a painted mask of a 4K image is well under this).
MAX_MASK_BYTES = 16 * 1024 * 1024


class Grid:
    """The newest matrix or variations strip, as the ``grid`` trait carries it to the page.

    Cells are row-major, ``None`` while their request runs, a gallery entry once it has images,
    or ``{"error": text}``. ``note`` is the line above it (what it may cost, how far it got).
    """

    def __init__(self, kind: str, title: str, rows: Sequence[str], columns: Sequence[str]) -> None:
        self.kind, self.title = kind, title
        self.rows, self.columns = list(rows), list(columns)
        self.cells: list[dict[str, Any] | None] = [None] * (len(self.rows) * len(self.columns))
        self.note = ""

    def fill(self, position: int, key: str | None, result: ImageResult | None,
             error: BaseException | None) -> None:
        """Put one finished request in its cell (an entry, or the reason it has none)."""
        if result is not None and key is not None:
            self.cells[position] = wd.history_entry(key, result)
        else:
            cancelled = isinstance(error, CancelledError)
            self.cells[position] = {"error": "cancelled" if cancelled else
                                    wd.error_text(error or InvalidInputError("no image"))}

    def state(self) -> dict[str, Any]:
        """The trait value: a fresh dict each time, so the page sees every change."""
        done = sum(cell is not None for cell in self.cells)
        return {"kind": self.kind, "title": self.title, "rows": list(self.rows),
                "columns": list(self.columns), "cells": list(self.cells), "note": self.note,
                "done": done, "total": len(self.cells)}


def matrix_price(client: Client, prompts: Sequence[str], model: str | None,
                 options: dict[str, Any]) -> str:
    """"up to $0.24" for the whole matrix (cached cells free), "" when a price is unknown."""
    try:
        total = worst_case(client, prompts, model, options)
    except Exception:  # the matrix call itself says what is wrong, with its typed error
        return ""
    return "" if total is None else f"up to {money(total)}"


def run_matrix(widget: ImageGenWidget, cancel: threading.Event,
               options: dict[str, Any]) -> Comparison:
    """The prompt box's matrix: priced whole by the client, each cell drawn as it lands."""
    matrix = expand(widget.prompt)
    if matrix is None:
        raise InvalidInputError("no prompt matrix in this prompt: mark the words to vary with "
                                "braces and bars, e.g. 'a {red|blue} lighthouse at {dawn|dusk}'")
    client, model = widget.client, widget.model
    grid = Grid("matrix", matrix.template, matrix.rows, matrix.columns)
    price = matrix_price(client, matrix.prompts, model, options)
    simulated = " (simulated)" if prices_simulated(client, model) else ""
    grid.note = f"{len(matrix.prompts)} images" + (f", {price}{simulated}" if price else "")
    widget.show_grid(grid)
    widget.status_text = f"Generating a {len(matrix.rows)} x {len(matrix.columns)} matrix..."

    def landed(item: BatchItem) -> None:
        key = widget.kept.keep(item.result) if item.result is not None else None
        grid.fill(item.index, key, item.result, item.error)
        widget.show_grid(grid)

    try:
        comparison = client.matrix(widget.prompt, model or None, progress=False, cancel=cancel,
                                   on_result=landed, **options)
    except Exception:
        if not any(grid.cells):  # refused before sending (over the limit, a bad option): no grid
            widget.show_grid(None)
        raise
    _settle(grid, comparison)
    widget.show_grid(grid, comparison)
    if comparison.batch.interrupted:
        raise CancelledError("the matrix was cancelled; what finished is in the grid")
    return comparison


def run_variations(widget: ImageGenWidget, key: str, count: int,
                   cancel: threading.Event) -> Comparison:
    """"N more like this": the result's request again with new seeds, a strip beside it."""
    result = widget.kept.named(key)
    grid = Grid("variations", result.prompt, [result.prompt],
                ["original", *(f"seed {i}" for i in range(1, count + 1))])
    grid.fill(0, key, result, None)
    grid.note = f"{count} more like this"
    widget.show_grid(grid)
    widget.status_text = f"Making {count} more like this..."

    def landed(item: BatchItem) -> None:
        if item.index == 0:
            return
        kept = widget.kept.keep(item.result) if item.result is not None else None
        grid.columns[item.index] = str(item.model)  # "seed 123": known once it is chosen
        grid.fill(item.index, kept, item.result, item.error)
        widget.show_grid(grid)

    try:
        comparison = widget.client.variations(result, count, cancel=cancel, on_result=landed)
    except Exception:
        if not any(grid.cells[1:]):  # refused before sending (no seeds, no request): no strip
            widget.show_grid(None)
        raise
    grid.columns = list(comparison.models)
    _settle(grid, comparison)
    widget.show_grid(grid, comparison)
    if comparison.batch.interrupted:
        raise CancelledError("cancelled; the seeds that finished are in the strip")
    return comparison


def _settle(grid: Grid, comparison: Comparison) -> None:
    """Cells whose request never reported (cancelled before it started) say so."""
    for item in comparison.batch.items:
        if grid.cells[item.index] is None and item.result is None:
            grid.fill(item.index, None, None, item.error)


def run_edit(widget: ImageGenWidget, key: str, index: int, prompt: str, mask: object,
             cancel: threading.Event) -> ImageResult:
    """A region edit from the zoom view: the client composites the answer inside the mask."""
    if not prompt.strip():
        raise InvalidInputError("describe the change for the region first (e.g. 'a red door')")
    result = widget.kept.named(key)
    widget.status_text = "Editing the region..."
    return result.edit(prompt, mask=mask, index=index, cancel=cancel)


def mask_from_page(content: dict[str, Any], buffers: Sequence[bytes]) -> object:
    """The region the page sent: a box ``[l, t, r, b]`` in image pixels, or a painted PNG mask."""
    box = content.get("box")
    if isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box):
        return tuple(round(v) for v in box)
    if buffers and 0 < len(buffers[0]) <= MAX_MASK_BYTES:
        with contextlib.suppress(UnidentifiedImageError, OSError, ValueError):
            painted = Image.open(io.BytesIO(buffers[0]))
            painted.load()
            # Painted strokes are opaque where drawn: alpha is the mask (white = change).
            return painted.getchannel("A") if "A" in painted.getbands() else painted.convert("L")
    raise InvalidInputError("no region to edit: drag a box or paint over the part to change")
