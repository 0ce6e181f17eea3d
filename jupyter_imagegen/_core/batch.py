"""Many generations at once, and comparisons: parallel, in input order, never losing a success.

One verb family: :func:`generate_many` runs prompts x models and returns a :class:`BatchResult`;
:func:`compare` runs the same and returns a :class:`Comparison`, the grid of prompts by models with
cost and time under each image. ``Client``, ``AsyncClient`` and the module-level functions all
offer both with the same shape: ``(prompts, model(s), *, concurrency, ..., **options)``.

Threads are enough on one machine (the work is waiting on the network); any
``concurrent.futures.Executor`` can be passed instead, such as a process pool or a Dask cluster
(``distributed.Client``, or its ``get_executor()``), to spread a large batch over several
machines. The items still run in this process's threads, which hold the replay cache, the store
and the one spend ledger: each reserves its worst case here before its network step leaves for
the executor, and settles here from what comes back (:mod:`.dispatch`), so a spend limit holds
across every worker.
"""

from __future__ import annotations

import concurrent.futures as cf
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw

from .._exceptions import (
    CancelledError,
    ImageGenError,
    IncompleteStreamError,
    InvalidInputError,
    scrub,
)
from .._results.display import caption_html, cell_image, grid_html, img_html
from .._results.labels import money
from .._results.marimo import MarimoDisplay
from .._results.preview import DisplayBudget, small_image
from .._results.result import ImageResult
from .dispatch import Dispatcher, dispatcher

__all__ = ["BatchItem", "BatchResult", "Comparison", "batch_items", "compare", "compare_axes",
           "generate_many"]

if TYPE_CHECKING:  # the client imports this module when a batch runs: a back-reference
    from .client import Client
    from .matrix import PromptMatrix


@dataclass
class BatchItem:
    """One request of a batch: its prompt and model, and either a result or the error it met."""

    index: int
    prompt: str
    model: str | None
    result: ImageResult | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        """True when this request produced images."""
        return self.result is not None


class BatchResult(MarimoDisplay, Sequence[BatchItem]):
    """The items of a batch in input order; successes and failures side by side."""

    def __init__(self, items: list[BatchItem], *, interrupted: bool = False) -> None:
        self.items = items
        self.interrupted = interrupted

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: Any) -> Any:
        return self.items[index]

    def __iter__(self) -> Iterator[BatchItem]:
        return iter(self.items)

    @property
    def results(self) -> list[ImageResult]:
        """The successful results, in input order."""
        return [item.result for item in self.items if item.result is not None]

    @property
    def errors(self) -> list[BatchItem]:
        """The failed items (each with ``.error``)."""
        return [item for item in self.items if item.result is None]

    @property
    def images(self) -> list[Image.Image]:
        """Every image of every success, in input order."""
        return [image for result in self.results for image in result.images]

    @property
    def cost(self) -> float:
        """Total reported cost of the successes (cache hits count as zero)."""
        return sum(r.cost or 0.0 for r in self.results if not r.cached)

    def raise_for_errors(self) -> BatchResult:
        """Raise the first failure (after the batch finished), or return self."""
        for item in self.errors:
            if item.error is not None:
                raise item.error
        return self

    def summary(self) -> str:
        """One line: how many succeeded, failed and were cancelled, and the cost."""
        cancelled = sum(isinstance(i.error, CancelledError) for i in self.errors)
        failed = len(self.errors) - cancelled
        parts = [f"{len(self.results)} of {len(self.items)} succeeded"]
        if failed:
            parts.append(f"{failed} failed")
        if cancelled:
            parts.append(f"{cancelled} cancelled")
        results = self.results
        if results and all(r.offline for r in results):
            parts.append(f"offline, simulated {money(self.cost)}")
        else:
            parts.append(money(self.cost))
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"<BatchResult {self.summary()}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """One grid of thumbnails (each image stored once), the summary once, errors as text."""
        lines = [self.summary()]
        for item in self.items:
            if item.result is not None:
                lines.append(f"{item.index}: {item.prompt[:80]} · {item.result.caption()}")
            else:
                lines.append(f"{item.index}: {item.prompt[:80]} · {_error_line(item.error)}")
        return {"text/plain": scrub("\n".join(lines)), "text/html": batch_html(self)}


def _error_line(error: BaseException | None) -> str:
    """A failed item in one line, without a repeated type prefix."""
    if isinstance(error, CancelledError):
        return "cancelled"
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


#: How often a batch's progress line is redrawn while nothing finishes (seconds).
TICK = 0.5


class _Progress:
    """n/n progress: a display-handle line in a notebook (saved as finished), tqdm elsewhere.

    A tqdm notebook bar is a widget whose saved text is "0%"; the handle line is plain output
    that is updated in place and, when the batch ends, says what happened.
    """

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.done, self.failed = total, desc, 0, 0
        self.started = self._drawn = time.monotonic()
        self._handle: Any = None
        self._bar: Any = None
        shell = _shell()
        if shell is not None:
            from .._results.display import publish

            self._handle = publish(self._bundle(), display_id=True)
        else:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            self._bar = tqdm(total=total, desc=desc, unit="img", file=sys.stderr)

    def _bundle(self, final: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
        from .._results.display import status_html

        took = f"{time.monotonic() - self.started:.1f}s"
        failed = f", {self.failed} failed" if self.failed else ""
        text = (f"{self.desc} {self.done}/{self.total}{failed} · {took}" if not final
                else f"{final} · {self.done}/{self.total} done · {took}")
        return {"text/plain": scrub(text), "text/html": status_html(text, done=bool(final))}, {}

    def update(self, ok: bool) -> None:
        self.done += 1
        self.failed += not ok
        if self._bar is not None:
            self._bar.update(1)
        self.tick(force=True)

    def tick(self, *, force: bool = False) -> None:
        """Redraw at most every ``TICK`` s unless forced: the time moves before an image ends."""
        now = time.monotonic()
        if self._handle is not None and (force or now - self._drawn >= TICK):
            self._drawn = now
            self._handle.update(self._bundle()[0], raw=True)

    def close(self, summary: str) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._handle is not None:
            self._handle.update(self._bundle(summary)[0], raw=True)


def _shell() -> Any:
    """The running IPython kernel shell (rich outputs), or None in a terminal or script."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return shell if getattr(shell, "kernel", None) is not None else None


def _progress(total: int, enabled: bool, desc: str) -> _Progress | None:
    return _Progress(total, desc) if enabled else None


def generate_many(
    client: Client,
    prompts: Iterable[str],
    model: str | Sequence[str] | None = None,
    *,
    concurrency: int = 4,
    executor: cf.Executor | None = None,
    progress: bool = True,
    on_result: Callable[[BatchItem], None] | None = None,
    cancel: threading.Event | None = None,
    **kwargs: Any,
) -> BatchResult:
    """Generate one result per prompt (or per prompt x model), ``concurrency`` at a time.

    Results come back in input order; a failure is kept on its item and never stops the others.
    Rate limits slow every worker down together (the client's shared gate honours
    ``Retry-After``). A kernel interrupt (Ctrl+C / the stop button) cancels what is still
    running and returns what finished, marked ``interrupted``. With ``executor``, only each
    item's network step runs there; the spend limit, cache and store stay with ``client``.
    ``cancel`` (a ``threading.Event``, as the widget's Cancel button sets) stops it the same way.
    """
    items = batch_items(prompts, model, concurrency)
    if not items:
        return BatchResult([])
    remote = dispatcher(executor) if executor is not None else None
    client.ensure_pool(concurrency)
    pool = cf.ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="jupyter-imagegen")
    asked_to_stop = cancel is not None  # the caller shows the outcome: nothing printed here
    cancel = cancel if cancel is not None else threading.Event()
    bar = _progress(len(items), progress, "generating")
    futures: dict[cf.Future[ImageResult], BatchItem] = {}
    remaining = list(items)
    interrupted = False

    def submit(item: BatchItem) -> None:
        futures[pool.submit(_run_item, client, item, kwargs, cancel, remote)] = item

    try:
        # Keep at most `concurrency` in flight even on an external executor.
        while remaining and len(futures) < concurrency:
            submit(remaining.pop(0))
        while futures:
            if cancel.is_set():
                raise KeyboardInterrupt  # one way out for both: keep what finished, cancel the rest
            done, _ = cf.wait(list(futures), timeout=0.1, return_when=cf.FIRST_COMPLETED)
            if bar is not None:
                bar.tick()
            for future in done:
                item = futures.pop(future)
                try:
                    item.result = future.result()
                except (ImageGenError, Exception) as exc:
                    item.error = exc
                if bar is not None:
                    bar.update(item.result is not None)
                if on_result is not None:
                    on_result(item)
                if remaining and not cancel.is_set():
                    submit(remaining.pop(0))
        if cancel.is_set() and (remaining or any(isinstance(i.error, CancelledError) for i in items)):
            raise KeyboardInterrupt  # the cancel ended the last calls in flight before the check
    except KeyboardInterrupt:
        interrupted = True
        cancel.set()
        _keep_or_cancel(futures, remaining)
    finally:
        pool.shutdown(wait=not interrupted, cancel_futures=True)
    batch = BatchResult(items, interrupted=interrupted)
    if bar is not None:
        bar.close(("interrupted: " if interrupted else "finished: ") + batch.summary())
    elif interrupted and not asked_to_stop:
        print(f"jupyter_imagegen: interrupted: {batch.summary()}", file=sys.stderr)
    return batch


def _run_item(client: Client, item: BatchItem, options: dict[str, Any], cancel: threading.Event,
              remote: Dispatcher | None) -> ImageResult:
    """One item, in a thread of this process: the whole send chain, the network step on ``remote``."""
    kw = dict(options)
    stream, timeout = bool(kw.pop("stream", False)), kw.pop("timeout", None)
    on_event = kw.pop("on_event", None)
    request = client.request(item.prompt, item.model, **kw)
    events = client._send_events(request, sse=stream, cancel=cancel, timeout=timeout,
                                 remote=remote)
    for event in events:
        if on_event is not None:
            on_event(event)
        if event.result is not None:
            return event.result
    raise IncompleteStreamError("the stream ended without a result")  # pragma: no cover


def batch_items(prompts: Iterable[str], model: str | Sequence[str] | None,
                concurrency: int) -> list[BatchItem]:
    """One item per prompt x model, in input order; a misuse is refused before anything runs."""
    if isinstance(prompts, str):
        raise InvalidInputError("prompts must be a list of prompts, not one string: "
                                "wrap it in a list, or call generate() for a single prompt")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidInputError(f"concurrency must be a whole number of at least 1, not {concurrency!r}")
    models = [model] if model is None or isinstance(model, str) else list(model)
    if not models:
        raise InvalidInputError("name at least one model (or None for the client's default)")
    return [BatchItem(i, p, m) for i, (p, m) in enumerate((p, m) for p in prompts for m in models)]


def _keep_or_cancel(futures: dict[cf.Future[ImageResult], BatchItem], remaining: list[BatchItem]) -> None:
    """After an interrupt: keep what finished just before it, cancel the rest."""
    for future, item in futures.items():
        if future.done() and not future.cancelled() and future.exception() is None:
            item.result = future.result()
        else:
            future.cancel()
            item.error = CancelledError("cancelled")
    for item in remaining:
        item.error = CancelledError("cancelled before it started")


def batch_html(batch: BatchResult, *, columns: int = 4, width: int = 256) -> str:
    """A batch as one grid: every image once as a thumbnail, a short label under each."""
    images, labels = [], []
    budget = DisplayBudget()  # the whole grid is one display
    for item in batch.items:
        for g in item.result.generated if item.result is not None else ():
            images.append(cell_image(g, f"{item.index}: {item.prompt[:100]}", budget))
            labels.append(f"{item.index}: {item.prompt[:60]}")
    errors = "".join(f'<div style="font-size:0.85em">{escape(str(item.index))}: '
                     f"{escape(_first_line(item.error))}</div>" for item in batch.errors)
    grid = grid_html(images, batch.summary(), columns=columns, width=width, labels=labels) if images \
        else caption_html(batch.summary())
    return grid + errors


def _first_line(error: BaseException | None) -> str:
    text = str(error).splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


_THUMB = 256
#: Width in CSS pixels of one model column.
_CELL = 256


class Comparison(MarimoDisplay):
    """A finished comparison: ``cell(prompt, model)`` gives each item; it displays as a grid."""

    def __init__(self, prompts: Sequence[str], models: Sequence[str], batch: BatchResult, *,
                 matrix: PromptMatrix | None = None, title: str | None = None) -> None:
        self.prompts = list(prompts)
        self.models = list(models)
        self.batch = batch
        #: What the grid shows when it is not prompts x models (``"variations"``).
        self.title = title
        #: For a prompt matrix: its template and varied words (rows and columns are words then).
        self.matrix = matrix

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
        cell = "vertical-align:top;padding:4px"
        head = "".join(f"<th style='{cell};text-align:left;overflow-wrap:anywhere;font-weight:600'>"
                       f"{escape(m)}</th>" for m in self.models)
        rows = []
        budget = DisplayBudget()  # the whole table is one display
        for i, prompt in enumerate(self.prompts):
            cells = []
            for j in range(len(self.models)):
                item = self.cell(i, j)
                img = ""
                if item.result is not None and item.result.generated:
                    img = img_html(*cell_image(item.result.generated[0], item.prompt[:100], budget))
                cells.append(f"<td style='{cell}'>{img}<div style='font-size:0.85em;opacity:0.8'>"
                             f"{escape(self._caption(item))}</div></td>")
            rows.append(f"<tr><th style='text-align:left;vertical-align:top;padding:4px;"
                        f"font-weight:normal;overflow-wrap:anywhere'>{escape(prompt)}</th>"
                        f"{''.join(cells)}</tr>")
        # At most its natural width, never wider than the output: the columns shrink together.
        total = f"10em + {len(self.models) * (_CELL + 8)}px"
        return (f"<table class='jupyter-imagegen-compare' style='table-layout:fixed;"
                f"border-collapse:collapse;width:100%;max-width:calc({total})'><thead><tr>"
                f"<th style='width:10em'>"
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
                if item.result is not None and item.result.generated:  # never kept whole
                    sheet.paste(small_image(item.result.generated[0], _THUMB).convert("RGB"), (x, y))
                draw.text((x + 2, y + _THUMB + 2), self._caption(item)[:40], fill="black")
        return sheet

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """HTML with each thumbnail once; the text names every cell (no second image copy)."""
        lines = [repr(self)] + [f"{p[:60]} | {m}: {self._caption(self.cell(i, j))}"
                                for i, p in enumerate(self.prompts)
                                for j, m in enumerate(self.models)]
        return {"text/html": self._html(), "text/plain": scrub("\n".join(lines))}

    def __repr__(self) -> str:
        if self.title is not None:
            return f"<Comparison {self.title} of {self.prompts[0]!r}: {self.batch.summary()}>"
        if self.matrix is not None:
            return (f"<Comparison prompt matrix {self.matrix.template!r}: {len(self.prompts)} x "
                    f"{len(self.models)}: {self.batch.summary()}>")
        return (f"<Comparison {len(self.prompts)} prompt(s) x {len(self.models)} model(s): "
                f"{self.batch.summary()}>")


def compare_axes(prompts: str | Sequence[str], models: Sequence[str]) -> tuple[list[str], list[str]]:
    """A comparison's rows and columns; a misuse is refused before anything runs (sync and async)."""
    prompt_list = [prompts] if isinstance(prompts, str) else list(prompts)
    if isinstance(models, str):
        raise InvalidInputError(f"models must be a list of model ids, not one string: [{models!r}]")
    model_list = list(models)
    if not prompt_list or not model_list:
        raise InvalidInputError("compare() needs at least one prompt and one model, e.g. "
                                "compare('a fox', ['offline/sketch', 'offline/photo'])")
    return prompt_list, model_list


def compare(
    client: Client,
    prompts: str | Sequence[str],
    models: Sequence[str],
    *,
    concurrency: int = 4,
    executor: cf.Executor | None = None,
    progress: bool = True,
    **options: Any,
) -> Comparison:
    """Run every prompt on every model in parallel; the :class:`Comparison` shows them side by side."""
    prompt_list, model_list = compare_axes(prompts, models)
    batch = generate_many(client, prompt_list, model_list, concurrency=concurrency, executor=executor,
                          progress=progress, **options)
    return Comparison(prompt_list, model_list, batch)
