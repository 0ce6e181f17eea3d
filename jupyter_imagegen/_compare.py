"""Side-by-side comparisons: prompts x models in one grid, with cost and time under each image."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw

from ._batch import BatchItem, BatchResult, generate_many

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["Comparison", "compare"]

_THUMB = 256


class Comparison:
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
            return f"{type(item.error).__name__}: {item.error}"
        r = item.result
        cost = f"${r.cost:.4f}" if r.cost is not None else "cost n/a"
        took = f"{r.elapsed:.1f}s" if r.elapsed is not None else ""
        return " · ".join(x for x in (cost, took, "cached" if r.cached else "") if x)

    def _html(self) -> str:
        head = "".join(f"<th style='padding:4px'>{escape(m)}</th>" for m in self.models)
        rows = []
        for i, prompt in enumerate(self.prompts):
            cells = []
            for j in range(len(self.models)):
                item = self.cell(i, j)
                img = ""
                if item.result is not None and item.result.generated:
                    g = item.result.generated[0]
                    b64 = base64.b64encode(g.data).decode("ascii")
                    img = (f'<img src="data:{escape(g.mime)};base64,{b64}" width="{_THUMB}" '
                           f'alt="{escape(prompt[:100])}" style="max-width:100%;height:auto"><br>')
                cells.append(f"<td style='vertical-align:top;padding:4px'>{img}"
                             f"<small>{escape(self._caption(item))}</small></td>")
            rows.append(f"<tr><th style='text-align:left;padding:4px;max-width:12em'>"
                        f"{escape(prompt)}</th>{''.join(cells)}</tr>")
        return (f"<table class='jupyter-imagegen-compare'><tr><th></th>{head}</tr>"
                f"{''.join(rows)}</table>")

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
        buffer = io.BytesIO()
        self.contact_sheet().save(buffer, "PNG", compress_level=1)
        return {"text/html": self._html(), "image/png": buffer.getvalue(), "text/plain": repr(self)}

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
