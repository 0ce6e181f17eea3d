"""The client: what users call, and the send chain every generation runs through.

``Client`` holds a :class:`~.transport.Transport` (the only HTTP), a :class:`~.catalogue.Catalogue`
(the only model knowledge), a :class:`~.policies.SpendGuard` and the cache/store
:class:`~.policies.Keepers`. Each call builds one :class:`~.request.Request` and runs the send
chain, written as methods in the manner of httpx's ``send → _send_handling_auth → ... →
_send_single_request``: each step is one short method that wraps the next, so a policy is a layer
a reader can find by name rather than a flag threaded through one long function:

``send`` → ``_send_events`` (replay cache) → ``_send_with_spend`` (route, check, reserve, settle,
keep) → ``_send_with_fallback`` (one retry on the other API after a wrong-route refusal the
real service sends, remembered per model) → ``_send_single_request`` (body, transport, read).
Settling is the :class:`~.ledger.Ledger`'s: every way a call ends (an answer, an error with
usage, an unfinished call) counts on the guard, and pending charges are reconciled from the
generation records. With an ``executor`` (:mod:`.dispatch`), only the network step runs there.

Reading an answer (a JSON body or an SSE stream) needs no client state, so it lives in the
functions at the end, :func:`read_watched` (under the watchdog), :func:`read_answer` and
:func:`read_stream`. Nothing here parses a wire format itself or keeps a table of what models
accept.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

import requests

from .._exceptions import (
    APIError,
    CancelledError,
    ImageGenError,
    IncompleteStreamError,
    InvalidInputError,
    ModelCapabilityError,
    RequestTimeoutError,
    ResponseError,
)
from .._results.labels import mark_offline, prices_simulated, shown_basis
from .._results.result import GeneratedImage, ImageResult
from .._wire.common import ChatCompletion, loads
from .._wire.dataurl import lift_data_urls
from .._wire.listings import parse_models
from .._wire.prices import Order, Quote
from .adapters import ADAPTERS, StreamEvent, choose_api, decode_payload
from .caps import MAX_ANSWER_BYTES, MAX_ANSWER_PIXELS, AnswerBudget
from .catalogue import Catalogue
from .config import Settings, offline_base_url
from .dispatch import Call as _Call
from .dispatch import dispatcher, send_remote
from .ledger import Ledger, SpendAccount
from .model import Model, Price
from .policies import CacheSetting, Keepers, StoreSetting, guard_for
from .reading import Watchdog, drain, iter_events, read_body
from .request import Request, order_for
from .routing import confirm_available, learned_route, neither_serves, retry_route
from .secrets import client_repr, wrap_secret
from .transport import Limits, RateGate, Timeout, Transport

if TYPE_CHECKING:
    from .._results.cache import ReplayCache
    from .._results.store import ImageStore
    from .adapters import Adapter
    from .batch import BatchResult, Comparison
    from .dispatch import Dispatcher

__all__ = ["Client", "StreamEvent", "read_answer", "read_stream", "read_watched"]

log = logging.getLogger("jupyter_imagegen")
Api = Literal["chat", "images", "auto"]
#: Parsing and base64-decoding megabytes hold the GIL. With many requests in flight, letting all
#: of them do it at once makes every other thread (an event loop, a progress bar) wait behind the
#: whole convoy; as many at a time as there are cores keeps throughput and the others responsive.
_CPU = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))


class Client(SpendAccount):
    """A connection to OpenRouter's image generation, usable as a context manager.

    ```python
    with Client() as client:             # key from OPENROUTER_API_KEY
        result = client.generate("a lighthouse at dusk", aspect_ratio="16:9")
        result.image                     # a PIL image
    ```

    With no key and no base URL anywhere it talks to the local offline server, as ig.generate.
    ``deadline`` bounds a whole generation (retries included); ``max_response_bytes``,
    ``max_image_bytes`` and, for all images of one answer, ``max_answer_pixels`` and
    ``max_answer_bytes`` bound what an answer may make the kernel hold. ``prices`` gives USD per
    image for models whose price the listings do not tell (the spend guard then allows them).
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        model: str | None = None,
        timeout: Timeout = (10.0, 300.0),
        deadline: float | None = 600.0,
        max_retries: int = 2,
        max_retry_delay: float = 60.0,
        max_response_bytes: int = 256 * 1024 * 1024,
        max_image_bytes: int | None = 128 * 1024 * 1024,
        max_answer_pixels: int | None = MAX_ANSWER_PIXELS,
        max_answer_bytes: int | None = MAX_ANSWER_BYTES,
        pool_size: int = 10,
        referer: str | None = None,
        title: str | None = None,
        models_ttl: float = 600.0,
        check_models: bool = True,
        spend_limit: float | None = None,
        prices: Mapping[str, float] | None = None,
        cache: CacheSetting = None,
        store: StoreSetting = None,
        api: Api = "auto",
        auto_seed: bool = True,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        api_key = wrap_secret(api_key)  # first: no frame of a failed constructor shows the key
        if (local := offline_base_url(api_key, base_url)) is not None:  # nothing configured
            api_key, base_url = wrap_secret(""), local
        self._config = {k: v for k, v in locals().items()
                        if k not in ("self", "session", "__class__", "local")}
        settings = Settings.from_env(api_key, base_url)
        if api not in ("chat", "images", "auto"):
            raise InvalidInputError(f"api must be 'chat', 'images' or 'auto', not {api!r}")
        self.base_url = settings.base_url
        self.default_model = model or settings.default_model
        self.check_models = check_models
        self.api: Api = api
        self.max_image_bytes = max_image_bytes
        self.prices = dict(prices or {})
        self.auto_seed = auto_seed  # choose, send, record a seed (Request.seeded) unless False
        self._transport = Transport(
            settings.base_url, settings.api_key, timeout=timeout, max_retries=max_retries,
            max_retry_delay=max_retry_delay, session=session, sleep=sleep,
            headers=settings.headers(referer, title),
            limits=Limits(deadline, max_response_bytes, max_answer_pixels, max_answer_bytes))
        self._transport.ensure_pool(pool_size)
        #: Every image model the service lists, merged into one record each.
        self.catalogue = Catalogue(self._transport.get_json, ttl=models_ttl)
        self._guard = guard_for(spend_limit, settings.spend_limit, settings.class_mode)
        self._ledger = Ledger(self._guard, lambda gen, seconds: self.generation(gen, deadline=seconds))
        self._keepers = Keepers(cache, store)
        if local is not None:
            mark_offline(self)

    def __getstate__(self) -> dict[str, Any]:
        # Executors that ship work to other processes (Dask) pickle the client: send only the
        # configuration and rebuild the session there. That configuration includes the API key,
        # so never write a pickled client to disk; results drop their client when pickled.
        return dict(self._config)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]
        # A copy cannot report to the ledger it came from: under a limit it refuses to spend
        # (``generate_many(executor=...)`` keeps the ledger in the driver instead).
        self._ledger.detached = self.spend_limit is not None

    # -- plumbing -----------------------------------------------------------------------------

    @property
    def has_key(self) -> bool:
        """True when an API key is configured. The key itself is never exposed."""
        return self._transport.has_key

    @property
    def timeout(self) -> Timeout:
        """Connect and read timeouts of each HTTP request (seconds)."""
        return self._transport.timeout

    @property
    def max_retries(self) -> int:
        """Retries after a retryable failure (429, 5xx, connection errors)."""
        return self._transport.max_retries

    @property
    def cache(self) -> ReplayCache | None:
        """The replay cache (``cache=True``, a folder, or a ReplayCache), or ``None``."""
        return self._keepers.cache

    @cache.setter
    def cache(self, value: CacheSetting) -> None:
        self._keepers = Keepers(value, self._keepers.store)

    @property
    def store(self) -> ImageStore | None:
        """The ImageStore keeping every generated image, or ``None``."""
        return self._keepers.store

    @store.setter
    def store(self, value: StoreSetting) -> None:
        self._keepers = Keepers(self._keepers.cache, value)

    @property
    def _gate(self) -> RateGate:
        return self._transport.gate

    def ensure_pool(self, size: int) -> None:
        """Grow the connection pool to ``size`` connections (batches call this)."""
        self._transport.ensure_pool(size)

    def close(self) -> None:
        """Close pooled connections (only if this client created the session)."""
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return client_repr(self)  # never raises, even for a client whose __init__ failed

    # -- models -------------------------------------------------------------------------------

    def models(self, *, refresh: bool = False, all: bool = False) -> list[Model]:
        """Image models, one merged :class:`Model` record each (cached for ``models_ttl``).

        With ``all=True``, every model of ``GET /models?output_modalities=all`` (text models
        included, with no image API), for the command line's ``models --all``.
        """
        if all:
            listed = parse_models(self._transport.get_json("models", {"output_modalities": "all"}),
                                  images_only=False)
            return [self.catalogue.record(info) for info in listed]
        return self.catalogue.models(refresh=refresh)

    def model_info(self, model: str) -> Model:
        """The record of ``model``; :class:`NotFoundError` with suggestions if unknown."""
        return self.catalogue.require(model)

    def image_models(self, *, refresh: bool = False) -> list[Model]:
        """The models the dedicated Image API serves (``GET /images/models``), merged records."""
        return [m for m in self.catalogue.models(refresh=refresh) if "images" in m.apis]

    def price(self, model: str | None = None, **options: Any) -> Price:
        """The expected (and worst) price of one image of ``model`` for these options, with its basis."""
        return Price.of(quote_call(self, "an image", model, options, per_image=True))

    def quote(self, prompt: str, model: str | None = None, **options: Any) -> Quote:
        """What ``generate(prompt, model, **options)`` may bill (``worst``), is expected to, and why."""
        return quote_call(self, prompt, model, options)

    def generation(self, generation_id: str, *, deadline: float | None = None) -> dict[str, Any]:
        """The service's record of one generation (``GET /generation?id=...``).

        ``deadline`` (seconds) bounds the lookup instead of the client's ``deadline``. The
        record appears some seconds after the answer (a 404 :class:`NotFoundError` until then).
        """
        data = self._transport.get_json("generation", {"id": generation_id}, deadline=deadline)
        record = data.get("data", data) if isinstance(data, Mapping) else None
        if not isinstance(record, Mapping):
            raise ResponseError("the generation record has no 'data' object")
        return dict(record)

    # -- generation ---------------------------------------------------------------------------

    def request(self, prompt: str, model: str | None = None, **options: Any) -> Request:
        """The :class:`Request` a generate call with these arguments would send."""
        return Request.build(prompt, model or self.default_model, **options)

    def build_request(self, prompt: str, model: str | None = None, **options: Any) -> dict[str, Any]:
        """The JSON body :meth:`generate` would send for these arguments (nothing is generated)."""
        stream = bool(options.pop("stream", False))
        request = self.request(prompt, model, **options)
        record = self._record(request.model)
        api = choose_api(request, record, self.api)
        check_request(self, request, record, api)
        return ADAPTERS[api].body(request, record, stream)

    def generate(self, prompt: str, model: str | None = None, *, stream: bool = False,
                 on_event: Callable[[StreamEvent], None] | None = None,
                 cancel: threading.Event | None = None, timeout: Timeout = None,
                 **options: Any) -> ImageResult:
        """Generate images for ``prompt`` and return an :class:`ImageResult`.

        ``images`` are input images for editing (PIL images, bytes, paths, data/https URLs or
        earlier results). ``aspect_ratio``, ``image_size`` (or ``resolution``: ``0.5K``/``512``,
        ``1K``, ``2K``, ``4K``), ``size`` (``WIDTHxHEIGHT``), ``n``, ``seed``, ``quality``,
        ``output_format``, ``background``, ``provider``, ``modalities``, ``image_config``,
        ``messages`` and ``extra_body`` describe the request; each is checked against the model's
        record before anything is sent. ``api`` picks ``"chat"``, ``"images"`` or ``"auto"`` (the
        documented path for the model). With ``stream=True`` the answer is read as it arrives and
        ``on_event`` sees keep-alives, text and each image; setting ``cancel`` (a
        ``threading.Event``) stops the request with :class:`CancelledError`.
        """
        return self.send(self.request(prompt, model, **options), stream=stream,
                         on_event=on_event, cancel=cancel, timeout=timeout)

    def stream(self, prompt: str, model: str | None = None, *,
               cancel: threading.Event | None = None, timeout: Timeout = None,
               **options: Any) -> Iterator[StreamEvent]:
        """Generate with ``stream: true`` and yield :class:`StreamEvent` values; the last is ``done``.

        An image event is yielded only once its whole event arrived and decoded; a stream cut
        mid-event raises :class:`IncompleteStreamError` and no result is produced. The Image API
        also yields ``partial`` previews, which never become part of the result.
        """
        sse = bool(options.pop("_sse", True))
        yield from self._send_events(self.request(prompt, model, **options), sse=sse,
                                     cancel=cancel, timeout=timeout)

    def edit(self, result: ImageResult, prompt: str, model: str | None = None,
             **options: Any) -> ImageResult:
        """Edit ``result``'s images with a new instruction (what :meth:`ImageResult.edit` runs).

        The request that made ``result`` is reused with the new prompt and the images as input,
        so its shape (ratio, size, seed, provider) carries over; the model defaults to its own.
        ``mask=`` (a PIL mask or a pixel box) edits one region and keeps the rest bit for bit.
        """
        from .regions import edit_result

        return edit_result(self, result, prompt, model, options)

    # -- batches: one verb family, the same shape here, on AsyncClient and on the module ----------

    def generate_many(self, prompts: Iterable[str], model: str | Sequence[str] | None = None, *,
                      concurrency: int = 4, executor: Executor | None = None,
                      progress: bool = True, **options: Any) -> BatchResult:
        """Generate for every prompt (x every model) in parallel, ``concurrency`` at a time.

        Results come back in input order; a failure is kept on its item, never raised for the
        batch. ``executor`` (a process pool, a Dask ``distributed.Client`` or its executor) runs
        each item's network step elsewhere; the spend limit, cache and store stay here.
        """
        from .batch import generate_many

        return generate_many(self, prompts, model, concurrency=concurrency, executor=executor,
                             progress=progress, **options)

    def compare(self, prompts: str | Sequence[str], models: Sequence[str], *,
                concurrency: int = 4, executor: Executor | None = None,
                progress: bool = True, **options: Any) -> Comparison:
        """Run every prompt on every model (a :meth:`generate_many`) and show them side by side."""
        from .batch import compare

        return compare(self, prompts, models, concurrency=concurrency, executor=executor,
                       progress=progress, **options)

    def matrix(self, prompt: str, model: str | None = None, **options: Any) -> Comparison:
        """A prompt matrix (``"a {red|blue} fox at {dawn|dusk}"``), priced whole, as a grid."""
        from .matrix import run_matrix

        return run_matrix(self, prompt, model, **options)

    def variations(self, result: ImageResult, count: int = 4, **options: Any) -> Comparison:
        """``count`` more like ``result`` with new (recorded) seeds, beside it as a strip."""
        from .matrix import run_variations

        return run_variations(self, result, count, **options)

    # -- the send chain -------------------------------------------------------------------------

    def send(self, request: Request, *, stream: bool = False,
             on_event: Callable[[StreamEvent], None] | None = None,
             cancel: threading.Event | None = None, timeout: Timeout = None,
             executor: Executor | None = None) -> ImageResult:
        """Run one :class:`Request` (as built by :meth:`request` or a front end).

        With ``executor`` (a ``concurrent.futures`` executor or a Dask client) only the network
        step runs there; the replay cache, the spend ledger and the store stay in this process,
        so a spend limit holds across every worker.
        """
        remote = dispatcher(executor) if executor is not None else None
        for event in self._send_events(request, sse=stream, cancel=cancel, timeout=timeout,
                                       remote=remote):
            if on_event is not None:
                on_event(event)
            if event.result is not None:
                return event.result
        raise IncompleteStreamError("the stream ended without a result")  # pragma: no cover

    def _send_events(self, request: Request, *, sse: bool, cancel: threading.Event | None = None,
                     timeout: Timeout = None, remote: Dispatcher | None = None,
                     ) -> Iterator[StreamEvent]:
        """The replay cache around the send: a hit replays its images and costs nothing."""
        started = time.perf_counter()
        # The cache key comes from the request alone: a cached notebook replays with no listing.
        key = self._keepers.key(request, request.api or self.api, self.base_url)
        hit = self._keepers.lookup(key)
        if hit is not None:
            hit.elapsed = time.perf_counter() - started
            hit._client, hit.request = self, request.recorded(hit.params)  # as it was sent
            for image in hit.generated:
                yield StreamEvent("image", image=image, elapsed=hit.elapsed)
            yield StreamEvent("done", result=hit, elapsed=hit.elapsed)
            return
        result = yield from self._send_with_spend(request, _Call(sse, cancel, timeout, started,
                                                                remote))
        self._keepers.keep(key, result)
        yield StreamEvent("done", result=result, elapsed=time.perf_counter() - started)

    def _send_with_spend(self, request: Request, call: _Call) -> Generator[StreamEvent, None, ImageResult]:
        """Route and check, then hold the worst case of the spend limit while the request runs."""
        model = self._record(request.model)
        api = choose_api(request, model, self.api)
        check_request(self, request, model, api)
        order = order_for(request, model, api)
        quote = quote_request(self, model, request, order, api)
        if prices_simulated(self, request.model):  # offline: a refusal says the price is simulated
            quote = replace(quote, basis=shown_basis(quote.basis, simulated=True))
        with self._guard.reserve(request.model, quote) as held, \
                self._ledger.running(held, call, request.model) as settlement:
            if call.remote is None:
                result = yield from self._send_with_fallback(request, model, api, call)
            else:  # the network step on another executor; the ledger stays here
                result = send_remote(self, request, model, api, call)
            settlement.settle(result)
        self.catalogue.learn_billed(request.model, result.cost, len(result.generated),
                                    result.usage.image_tokens, order)
        return result

    def _send_with_fallback(self, request: Request, model: Model | None, api: str,
                            call: _Call) -> Generator[StreamEvent, None, ImageResult]:
        """Send; after a wrong-route refusal (never billed), once more where :mod:`.routing` says."""
        chose = request.api in (None, "auto") and not (request.api is None and self.api != "auto")
        api = learned_route(self.catalogue, request, model, api, chose)
        model = confirm_available(self.catalogue, request, model, api)
        try:
            return (yield from self._send_single_request(request, model, api, call))
        except ImageGenError as exc:
            refused = exc
            other, model = retry_route(self.catalogue, request, model, api, exc, chose)
        try:
            result = yield from self._send_single_request(request, model, other, call)
        except ImageGenError as second:
            if neither_serves(refused, second, request, other, model):
                raise refused from second
            raise
        self.catalogue.learn_refused(request.model, api, served=other)
        return result

    def _send_single_request(self, request: Request, model: Model | None, api: str,
                             call: _Call) -> Generator[StreamEvent, None, ImageResult]:
        """Send ``request`` to ``api`` once (the transport retries what is retryable)."""
        adapter, request = ADAPTERS[api], request.seeded(model, api, enabled=self.auto_seed)
        limits = self._transport.limits
        deadline = None if limits.deadline is None else time.monotonic() + limits.deadline
        data = json.dumps(adapter.body(request, model, stream=call.sse), separators=(",", ":")).encode()
        retries: list[tuple[int, float]] = []
        response = self._transport.request(
            "POST", adapter.path, data=data, stream=True, timeout=call.timeout, cancel=call.cancel,
            deadline=deadline, on_retry=lambda a, d: retries.append((a, d)), on_send=call.mark_sent)
        for attempt, delay in retries:
            yield StreamEvent("retry", attempt=attempt, delay=delay)
        completion, generated = yield from read_watched(
            response, adapter, request, call, limits, deadline, self.max_image_bytes)
        if not generated:
            completion.require_images()
        result = ImageResult.from_completion(
            completion, generated, prompt=request.prompt, model=request.model,
            params={**request.params(), "api": api}, elapsed=time.perf_counter() - call.started)
        result.request = request
        result._client = self
        return result

    # -- the steps' helpers ---------------------------------------------------------------------

    def _record(self, model: str, *, required: bool = False) -> Model | None:
        """The model's record, or ``None`` when checks are off or the listings are unusable.

        Without a record (``check_models=False``, an older proxy) the service decides, as it would.
        """
        if required:
            return self.catalogue.require(model)
        return self.catalogue.lookup(model) if self.check_models else None

def check_request(client: Client, request: Request, model: Model | None, api: str) -> None:
    """The one validation, against the model's own record (skipped without a catalogue)."""
    request.check_api(api)
    if model is None:
        return
    if request.images and not model.accepts_images:
        editors = client.catalogue.editors()
        raise ModelCapabilityError(
            f"{model.id!r} does not accept input images. Models that do: "
            f"{', '.join(editors) or 'none listed'}.", alternatives=editors)
    request.validated(model, api)


def quote_call(client: Client, prompt: str, model: str | None, options: dict[str, Any], *,
               per_image: bool = False) -> Quote:
    """The price model of :mod:`jupyter_imagegen._wire.prices` over a generate call's request.

    The model's endpoints record is fetched once; the quote counts every image the answer may
    hold, input images and prompt text, on the API the call would take. ``per_image`` prices one
    image alone (a label: no prompt or reply text).
    """
    request = client.request(prompt, model, **options)
    record = client._record(request.model, required=True)
    if per_image:
        single = replace(order_for(request, record), images=1, likely=1)
        return quote_request(client, record, request, single, None, fetch=True)
    api = choose_api(request, record, client.api)
    check_request(client, request, record, api)  # a request that would be refused has no price
    return quote_request(client, record, request, order_for(request, record, api), api, fetch=True)


def quote_request(client: Client, model: Model | None, request: Request, order: Order,
                  api: str | None = None, *, fetch: bool = False) -> Quote:
    """A request priced: the user's own price per image, else the catalogue's price model.

    Under a spend limit the endpoints record is read first (its price lines are the price).
    """
    if request.model in client.prices:
        usd = float(client.prices[request.model])
        return Quote(usd * max(1, order.images), usd * order.expected_images, "your price",
                     "Client(prices=...)", order.images, expected_images=order.expected_images)
    return client.catalogue.quote(model, order, api, fetch=fetch or client.spend_limit is not None)


def read_watched(response: requests.Response, adapter: Adapter, request: Request, call: _Call,
                 limits: Limits, deadline: float | None, max_image: int | None,
                 ) -> Generator[StreamEvent, None, tuple[ChatCompletion, list[GeneratedImage]]]:
    """:func:`read_answer` under the watchdog, noting on ``call`` how far the answer got.

    A read the watchdog cut is the deadline or a cancel; until the whole answer is in (or the
    service answered with an error of its own) the call stays ``sent``: it may still be billed.
    """
    call.generation_id = response.headers.get("X-Generation-Id") or call.generation_id
    with Watchdog(response, deadline, call.cancel) as dog:
        try:
            answer = yield from read_answer(response, adapter, request, call, limits, max_image)
        except (IncompleteStreamError, CancelledError) as exc:
            call.generation_id = exc.request_id or call.generation_id
            if dog.fired and call.cancel is not None and call.cancel.is_set():
                raise CancelledError("generation cancelled", request_id=call.generation_id) from None
            if dog.fired:
                raise RequestTimeoutError(
                    "the generation did not finish within its deadline "
                    f"({limits.deadline:.0f} s); raise Client(deadline=...) for slow models",
                    request_id=call.generation_id) from None
            raise
        except APIError:  # the service's own error, in a whole answer: billed only with usage
            call.sent = False
            raise
    call.sent = False  # the whole answer is here: what it says it cost is what counts
    return answer


def read_answer(response: requests.Response, adapter: Adapter, request: Request, call: _Call,
                limits: Limits, max_image: int | None,
                ) -> Generator[StreamEvent, None, tuple[ChatCompletion, list[GeneratedImage]]]:
    """Read a JSON body or an SSE stream into a completion and its decoded images (capped: .caps)."""
    generation_id = response.headers.get("X-Generation-Id")
    budget = AnswerBudget(limits.max_answer_pixels, limits.max_answer_bytes)  # all its images
    if "text/event-stream" not in response.headers.get("Content-Type", ""):
        raw = read_body(response, limits.max_response_bytes)
        with _CPU:
            text, lifted = lift_data_urls(raw)
            completion = adapter.parse(loads(text), response.status_code, generation_id, request.model)
            try:
                return completion, [budget.charge(decode_payload(p, lifted, max_image))
                                    for p in completion.images]
            except ImageGenError as exc:  # a billed answer whose image is broken: it still counts
                exc.usage, exc.request_id = completion.usage, exc.request_id or completion.id
                raise
    generated: list[GeneratedImage] = []
    completion = yield from read_stream(response, adapter, request, generated, call, generation_id,
                                        limits, max_image, budget)
    return completion, generated


def read_stream(response: requests.Response, adapter: Adapter, request: Request,
                generated: list[GeneratedImage], call: _Call, generation_id: str | None,
                limits: Limits, max_image: int | None, budget: AnswerBudget,
                ) -> Generator[StreamEvent, None, ChatCompletion]:
    """Read SSE events into ``generated``; return the assembled completion after ``[DONE]``.

    An image is handed on only once its whole event arrived and decoded; a stream cut before
    ``[DONE]`` raises :class:`IncompleteStreamError` and yields no result.
    """
    accumulator = adapter.accumulator(generation_id, request.model)
    try:
        for event in iter_events(response, limits.max_response_bytes, call.cancel):
            elapsed = time.perf_counter() - call.started
            if event.is_comment:
                yield StreamEvent("keepalive", text=event.comment or "", elapsed=elapsed)
                continue
            with _CPU:  # decoded here, yielded outside: a slow consumer holds no slot
                text, lifted = lift_data_urls(event.raw)  # images skip the JSON decoder
                del event
                update = accumulator.add_data(text)
                steps = [] if accumulator.done else list(
                    adapter.events(update, elapsed, lifted, max_image))
            if accumulator.done:
                drain(response)
                break
            for progress in steps:
                if progress.kind == "image" and progress.image is not None:
                    generated.append(budget.charge(progress.image))
                yield progress
    except ImageGenError as exc:  # a cut, a cancel, a broken image: keep the generation's id
        seen = accumulator.result()
        exc.request_id = exc.request_id or seen.id or generation_id
        if exc.usage is None and seen.usage.cost is not None:
            exc.usage = seen.usage  # the stream had said what it cost before it broke
        raise
    completion: ChatCompletion = accumulator.result()
    return completion
