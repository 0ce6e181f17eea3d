"""Side-by-side comparisons: prompts x models in one grid, with cost and time under each image."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw

from ._batch import BatchItem, BatchResult, generate_many
from ._exceptions import CancelledError
from ._html import img_html
from ._labels import money
from ._marimo import MarimoDisplay
from ._preview import thumbnail

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["Comparison", "compare"]

_THUMB = 256
#: Width in CSS pixels of one model column.
_CELL = 256


class Comparison(MarimoDisplay):
    """A finished comparison: ``cell(prompt, model)`` gives each item; it displays as a grid."""

    def __init__(self, prompts: Sequence[str], models: Sequence[str], batch: BatchResult) -> None:
        self.prompts = list(prompts)
        self.models = list(models)
        self.batch = batch

    def cell(self, prompt: str | int, model: str | int) -> BatchItem:
        """The item for a prompt and a model (by value or position)."""
        row = prompt if isinstance(prompt, int) else self.prompts.index(prompt)
        col = model if isinstance(model, int) else self.models.index(model)
        return self.batch[row * len(self.models) + col]  # type: ignore[no-any-return]

    def _caption(self, item: BatchItem) -> str:
        if item.result is None:
            if isinstance(item.error, CancelledError):
                return "cancelled"
            lines = str(item.error).splitlines()
            return f"{type(item.error).__name__}: {lines[0] if lines else ''}"
        r = item.result
        cost = "cost n/a" if r.cost is None else (
            f"simulated {money(r.cost)}" if r.offline else money(r.cost))
        took = f"{r.elapsed:.1f}s" if r.elapsed is not None else ""
        return " · ".join(x for x in (cost, took, "cached" if r.cached else "") if x)

    def _html(self) -> str:
        """A fixed-layout table: equal model columns, wrapped readable headers, one caption each."""
        cell = f"width:{_CELL}px;vertical-align:top;padding:4px"
        head = "".join(f"<th style='{cell};text-align:left;overflow-wrap:anywhere;font-weight:600'>"
                       f"{escape(m)}</th>" for m in self.models)
        rows = []
        for i, prompt in enumerate(self.prompts):
            cells = []
            for j in range(len(self.models)):
                item = self.cell(i, j)
                img = ""
                if item.result is not None and item.result.generated:
                    t = thumbnail(item.result.generated[0])
                    img = img_html(t.data, t.mime, prompt[:100])
                cells.append(f"<td style='{cell}'>{img}<div style='font-size:0.85em;opacity:0.8'>"
                             f"{escape(self._caption(item))}</div></td>")
            rows.append(f"<tr><th style='width:10em;text-align:left;vertical-align:top;padding:4px;"
                        f"font-weight:normal;overflow-wrap:anywhere'>{escape(prompt)}</th>"
                        f"{''.join(cells)}</tr>")
        total = f"10em + {len(self.models) * (_CELL + 8)}px"
        return (f"<table class='jupyter-imagegen-compare' style='table-layout:fixed;"
                f"border-collapse:collapse;width:calc({total})'><thead><tr><th style='width:10em'>"
                f"</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")

    def contact_sheet(self) -> Image.Image:
        """The grid as one image (for front ends that do not render HTML, and for saving)."""
        cols, rows = len(self.models), len(self.prompts)
        sheet = Image.new("RGB", (cols * _THUMB, rows * (_THUMB + 16)), "white")
        draw = ImageDraw.Draw(sheet)
        for i in range(rows):
            for j in range(cols):
                item = self.cell(i, j)
                x, y = j * _THUMB, i * (_THUMB + 16)
                if item.result is not None and item.result.generated:
                    thumb = item.result.generated[0].image.convert("RGB")
                    thumb.thumbnail((_THUMB, _THUMB))
                    sheet.paste(thumb, (x, y))
                draw.text((x + 2, y + _THUMB + 2), self._caption(item)[:40], fill="black")
        return sheet

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """HTML with each thumbnail once; the text names every cell (no second image copy)."""
        lines = [repr(self)] + [f"{p[:60]} | {m}: {self._caption(self.cell(i, j))}"
                                for i, p in enumerate(self.prompts)
                                for j, m in enumerate(self.models)]
        return {"text/html": self._html(), "text/plain": "\n".join(lines)}

    def __repr__(self) -> str:
        return (f"<Comparison {len(self.prompts)} prompt(s) x {len(self.models)} model(s): "
                f"{self.batch.summary()}>")


def compare(
    prompt: str | Sequence[str],
    models: Sequence[str],
    *,
    client: Client | None = None,
    concurrency: int = 4,
    progress: bool = True,
    **kwargs: Any,
) -> Comparison:
    """Run every prompt on every model in parallel and show them side by side."""
    if client is None:
        from ._default import default_client

        client = default_client()
    prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    if not models:
        raise ValueError("compare() needs at least one model")
    batch = generate_many(client, prompts, list(models), concurrency=concurrency, progress=progress,
                          **kwargs)
    return Comparison(prompts, list(models), batch)
