"""``AsyncClient``: the same client as coroutines, for notebooks that ``await`` and asyncio apps.

Why worker threads over ``requests`` rather than an asyncio HTTP stack: the answer is megabytes of
base64 that must be decoded (and JSON that must be parsed) before an image exists, and that work
would block the event loop wherever the bytes were read. Running the one existing send chain
(:class:`~.client.Client`'s: request, catalogue, adapters, retries, deadline, spend, cache) in worker
threads keeps the loop free, shares every line of the core instead of a second copy, and reuses
the same connection pool. ``benchmarks/bench_async.py`` measures it: 16 gathered generations at
500 ms server latency against the ideal 0.5 s, and the longest stall a ticker coroutine sees
beside them. What it taught: the loop stalls came from work holding the GIL, not from waiting.
Decoding with pybase64 (which releases the GIL) instead of binascii (9.5 ms per 1K image, held)
and reading bodies without extra copies took 16 gathered 1K PNGs from 1.45x to about 1.1x the
latency; starting worker threads from a spawner thread (:class:`.threads.WorkerExecutor`)
rather than from ``submit`` on the loop removed the 20-35 ms stalls of the first gather.

Cancellation: ``task.cancel()`` sets the call's cancel flag, which the transport checks while
waiting for headers (the worker gives up at once), the watchdog checks while reading (it shuts the
socket), and the retry loop checks before another try. Nothing partial is kept.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, TypeVar

from .._exceptions import CancelledError, InvalidInputError
from .._results.result import ImageResult
from .._wire.prices import Quote
from .adapters import StreamEvent
from .batch import BatchItem, BatchResult, Comparison, batch_items, compare_axes
from .client import Client
from .matrix import expand, price_before
from .model import Model, Price
from .request import Request
from .secrets import wrap_secret
from .threads import WorkerExecutor

__all__ = ["AsyncClient"]

T = TypeVar("T")
_END = object()


class AsyncClient:
    """``Client``'s constructor and methods, as coroutines (``await client.generate(...)``).

    ```python
    async with ig.AsyncClient() as client:
        results = await asyncio.gather(*(client.generate(p) for p in prompts))
    ```
    """

    def __init__(self, *args: Any, max_workers: int = 32, client: Client | None = None,
                 **kwargs: Any) -> None:
        # First: the key wrapped, so no frame of a failed constructor shows it (args[0] is api_key).
        args = tuple(wrap_secret(a) if i == 0 else a for i, a in enumerate(args))
        kwargs = {k: wrap_secret(v) if k == "api_key" else v for k, v in kwargs.items()}
        #: The synchronous client doing the work (settings, catalogue, spend and cache shared).
        self.sync = client if client is not None else Client(*args, **kwargs)
        self.sync.ensure_pool(max_workers)
        self._pool = WorkerExecutor(max_workers, name="jupyter-imagegen-async")

    def __repr__(self) -> str:
        return f"<AsyncClient {getattr(self, 'sync', None)!r}>"  # a half-built one too

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the worker threads and close pooled connections."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.sync.close()

    @property
    def spent(self) -> float:
        """USD counted for this client's generations (settled plus pending; see ``Client``)."""
        return self.sync.spent

    @property
    def settled(self) -> float:
        """USD the service said it billed."""
        return self.sync.settled

    @property
    def pending(self) -> float:
        """USD counted but not billed yet (a cancelled task's call, answers without ``cost``)."""
        return self.sync.pending

    async def reconcile(self, timeout: float = 10.0) -> float:
        """Wait (bounded, off the event loop) for pending charges to settle; return the rest."""
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self.sync.reconcile, timeout)

    async def _call(self, work: Callable[[threading.Event], T]) -> T:
        """Run ``work(cancel)`` in a worker; a cancelled task sets ``cancel`` and returns at once."""
        cancel = threading.Event()
        future = asyncio.get_running_loop().run_in_executor(self._pool, work, cancel)
        try:
            return await future
        except asyncio.CancelledError:
            cancel.set()
            raise

    # -- models ---------------------------------------------------------------------------------

    async def models(self, *, refresh: bool = False, all: bool = False) -> list[Model]:
        """Image models, one :class:`Model` record each (see :meth:`Client.models`)."""
        return await self._call(lambda _c: self.sync.models(refresh=refresh, all=all))

    async def model_info(self, model: str) -> Model:
        """The record of ``model``."""
        return await self._call(lambda _c: self.sync.model_info(model))

    async def image_models(self, *, refresh: bool = False) -> list[Model]:
        """Models of the dedicated Image API."""
        return await self._call(lambda _c: self.sync.image_models(refresh=refresh))

    async def price(self, model: str | None = None, **options: Any) -> Price:
        """The estimated price of one image, with its basis."""
        return await self._call(lambda _c: self.sync.price(model, **options))

    async def quote(self, prompt: str, model: str | None = None, **options: Any) -> Quote:
        """What ``generate(prompt, model, **options)`` may bill, is expected to bill, and why."""
        return await self._call(lambda _c: self.sync.quote(prompt, model, **options))

    async def generation(self, generation_id: str) -> dict[str, Any]:
        """The service's record of one generation."""
        return await self._call(lambda _c: self.sync.generation(generation_id))

    # -- generation -----------------------------------------------------------------------------

    def request(self, prompt: str, model: str | None = None, **options: Any) -> Request:
        """The :class:`Request` a generate call would send (no I/O: not a coroutine)."""
        return self.sync.request(prompt, model, **options)

    async def generate(self, prompt: str, model: str | None = None, *, stream: bool = False,
                       on_event: Callable[[StreamEvent], None] | None = None,
                       timeout: Any = None, **options: Any) -> ImageResult:
        """Generate images (see :meth:`Client.generate`); ``on_event`` runs on the event loop."""
        return await self.send(self.request(prompt, model, **options), stream=stream,
                               on_event=on_event, timeout=timeout)

    async def send(self, request: Request, *, stream: bool = False,
                   on_event: Callable[[StreamEvent], None] | None = None,
                   timeout: Any = None) -> ImageResult:
        """Run one :class:`Request`."""
        loop = asyncio.get_running_loop()
        relay: Callable[[StreamEvent], None] | None = None
        if on_event is not None:
            def relay(event: StreamEvent) -> None:
                loop.call_soon_threadsafe(on_event, event)
        return await self._call(lambda cancel: self.sync.send(
            request, stream=stream, on_event=relay, cancel=cancel, timeout=timeout))

    async def stream(self, prompt: str, model: str | None = None, *, timeout: Any = None,
                     **options: Any) -> AsyncIterator[StreamEvent]:
        """Stream a generation: ``async for event in client.stream(...)``; the last is ``done``."""
        request = self.request(prompt, model, **options)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancel = threading.Event()

        def put(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone: nobody is listening any more
                cancel.set()

        def work() -> None:
            try:
                for event in self.sync._send_events(request, sse=True, cancel=cancel, timeout=timeout):
                    put(event)
            except BaseException as exc:  # handed to the consumer
                put(_Failure(exc))
            finally:
                put(_END)

        self._pool.submit(work)
        try:
            while (item := await queue.get()) is not _END:
                if isinstance(item, _Failure):
                    raise item.error
                yield item
        finally:
            cancel.set()  # the consumer stopped early, failed or was cancelled

    async def generate_many(self, prompts: Iterable[str], model: str | Sequence[str] | None = None,
                            *, concurrency: int = 4, **options: Any) -> BatchResult:
        """Generate for many prompts (x models), ``concurrency`` at a time, in input order.

        A failure is kept on its item; cancelling the awaiting task cancels what is running.
        """
        items = batch_items(prompts, model, concurrency)
        gate = asyncio.Semaphore(concurrency)

        async def one(item: BatchItem) -> None:
            async with gate:
                try:
                    item.result = await self.generate(item.prompt, item.model, **options)
                except asyncio.CancelledError:
                    item.error = CancelledError("cancelled")
                    raise
                except Exception as exc:
                    item.error = exc

        await asyncio.gather(*(one(item) for item in items))
        return BatchResult(items)

    async def compare(self, prompts: str | Sequence[str], models: Sequence[str], *,
                      concurrency: int = 4, **options: Any) -> Comparison:
        """Every prompt on every model, side by side (see :meth:`Client.compare`)."""
        prompt_list, model_list = compare_axes(prompts, models)
        batch = await self.generate_many(prompt_list, model_list, concurrency=concurrency, **options)
        return Comparison(prompt_list, model_list, batch)

    async def matrix(self, prompt: str, model: str | None = None, *, concurrency: int = 4,
                     **options: Any) -> Comparison:
        """A prompt matrix, priced whole, as a labelled grid (see :meth:`Client.matrix`)."""
        found = expand(prompt)
        if found is None:
            raise InvalidInputError("no prompt matrix in this prompt: mark the words to vary "
                                    "with braces and bars, e.g. 'a {red|blue} fox'")
        await self._call(lambda _c: price_before(self.sync, found.prompts, model, options))
        batch = await self.generate_many(list(found.prompts), model, concurrency=concurrency,
                                         **options)
        return Comparison(found.rows, found.columns, batch, matrix=found)


class _Failure:
    """An exception travelling from the worker thread to the consuming coroutine."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
