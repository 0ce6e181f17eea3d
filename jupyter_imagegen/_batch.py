"""Many generations at once: parallel, in input order, and never losing a success to a failure.

Threads are enough on one machine (the work is waiting on the network); any
``concurrent.futures.Executor`` can be passed instead, such as a Dask cluster's
``distributed.Client.get_executor()``, to spread a large batch over several machines.
"""

from __future__ import annotations

import concurrent.futures as cf
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ._exceptions import CancelledError, ImageGenError
from ._labels import money
from ._marimo import MarimoDisplay
from ._results import ImageResult

if TYPE_CHECKING:
    from PIL import Image


class Client(Protocol):
    """What a batch needs of a client (``Client`` itself; no import, so no cycle with it)."""

    def generate(self, prompt: str, model: str | None = None, **kwargs: Any) -> ImageResult: ...
    def ensure_pool(self, size: int) -> None: ...

__all__ = ["BatchItem", "BatchResult", "generate_many"]


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
        from ._display import batch_html

        lines = [self.summary()]
        for item in self.items:
            if item.result is not None:
                lines.append(f"{item.index}: {item.prompt[:80]} · {item.result.caption()}")
            else:
                lines.append(f"{item.index}: {item.prompt[:80]} · {_error_line(item.error)}")
        return {"text/plain": "\n".join(lines), "text/html": batch_html(self)}


def _error_line(error: BaseException | None) -> str:
    """A failed item in one line, without a repeated type prefix."""
    if isinstance(error, CancelledError):
        return "cancelled"
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


class _Progress:
    """n/n progress: a display-handle line in a notebook (saved as finished), tqdm elsewhere.

    A tqdm notebook bar is a widget whose saved text is "0%"; the handle line is plain output
    that is updated in place and, when the batch ends, says what happened.
    """

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.done, self.failed = total, desc, 0, 0
        self.started = time.monotonic()
        self._handle: Any = None
        self._bar: Any = None
        shell = _shell()
        if shell is not None:
            from ._display import publish

            self._handle = publish(self._bundle(), display_id=True)
        else:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            self._bar = tqdm(total=total, desc=desc, unit="img", file=sys.stderr)

    def _bundle(self, final: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
        from ._html import status_html

        took = f"{time.monotonic() - self.started:.1f}s"
        failed = f", {self.failed} failed" if self.failed else ""
        text = (f"{self.desc} {self.done}/{self.total}{failed} · {took}" if not final
                else f"{final} · {self.done}/{self.total} done · {took}")
        return {"text/plain": text, "text/html": status_html(text, done=bool(final))}, {}

    def update(self, ok: bool) -> None:
        self.done += 1
        self.failed += not ok
        if self._bar is not None:
            self._bar.update(1)
        if self._handle is not None:
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
    **kwargs: Any,
) -> BatchResult:
    """Generate one result per prompt (or per prompt x model), ``concurrency`` at a time.

    Results come back in input order; a failure is kept on its item and never stops the others.
    Rate limits slow every worker down together (the client's shared gate honours
    ``Retry-After``). A kernel interrupt (Ctrl+C / the stop button) cancels what is still
    running and returns what finished, marked ``interrupted``.
    """
    models = [model] if model is None or isinstance(model, str) else list(model)
    items = [BatchItem(i, p, m) for i, (p, m) in
             enumerate((p, m) for p in prompts for m in models)]
    if not items:
        return BatchResult([])
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    client.ensure_pool(concurrency)
    own = executor is None
    pool = executor or cf.ThreadPoolExecutor(max_workers=concurrency,
                                             thread_name_prefix="jupyter-imagegen")
    cancel = threading.Event()
    bar = _progress(len(items), progress, "generating")
    futures: dict[cf.Future[ImageResult], BatchItem] = {}
    remaining = list(items)
    interrupted = False

    def submit(item: BatchItem) -> None:
        kw = dict(kwargs)
        if own:
            kw["cancel"] = cancel  # threads share the flag; remote workers cannot
        futures[pool.submit(client.generate, item.prompt, item.model, **kw)] = item

    try:
        # Keep at most `concurrency` in flight even on an external executor.
        while remaining and len(futures) < concurrency:
            submit(remaining.pop(0))
        while futures:
            done, _ = cf.wait(list(futures), timeout=0.1, return_when=cf.FIRST_COMPLETED)
            for future in done:
                item = futures.pop(future)
                try:
                    item.result = future.result()
                    if item.result._client is None:  # came back pickled from another process
                        item.result._client = client
                except (ImageGenError, Exception) as exc:
                    item.error = exc
                if bar is not None:
                    bar.update(item.result is not None)
                if on_result is not None:
                    on_result(item)
                if remaining:
                    submit(remaining.pop(0))
    except KeyboardInterrupt:
        interrupted = True
        cancel.set()
        for future, item in futures.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                item.result = future.result()  # finished just before the interrupt: keep it
            else:
                future.cancel()
                item.error = CancelledError("cancelled by a keyboard interrupt")
        for item in remaining:
            item.error = CancelledError("cancelled by a keyboard interrupt before it started")
    finally:
        if own:
            pool.shutdown(wait=not interrupted, cancel_futures=True)
    batch = BatchResult(items, interrupted=interrupted)
    if bar is not None:
        bar.close(("interrupted: " if interrupted else "finished: ") + batch.summary())
    elif interrupted:
        print(f"jupyter_imagegen: interrupted: {batch.summary()}", file=sys.stderr)
    return batch
