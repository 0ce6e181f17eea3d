"""One generation, step by step: the send chain the client facade runs.

``run`` = replay cache → route and validate → spend reservation → ``_attempt`` (one API) → settle
→ keep. A documented wrong-endpoint refusal (nothing is billed for it) gets one retry on the other
API when the route was the client's own choice. Every step is a short function; the facade and
the async facade both drive this same chain.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

from ._adapters import ADAPTERS, StreamEvent, choose_api, decode_payload
from ._dataurl import lift_data_urls
from ._exceptions import (
    CancelledError,
    ImageGenError,
    IncompleteStreamError,
    ModelCapabilityError,
    NotFoundError,
    RequestTimeoutError,
)
from ._model import Model, Price
from ._reading import Watchdog, drain, iter_events, read_body
from ._request import Request
from ._results import GeneratedImage, ImageResult
from ._wire_common import ChatCompletion, loads
from ._wire_errors import WRONG_ENDPOINT

if TYPE_CHECKING:
    import requests

    from ._adapters import Adapter

#: The facade running this chain (duck-typed: ``_client`` imports this module, not the reverse).
Client = Any

__all__ = ["price_of", "record_of", "run"]

log = logging.getLogger("jupyter_imagegen")
#: Parsing and base64-decoding megabytes hold the GIL. With many requests in flight, letting all
#: of them do it at once makes every other thread (an event loop, a progress bar) wait behind the
#: whole convoy; as many at a time as there are cores keeps throughput and the others responsive.
_CPU = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))


def run(client: Client, request: Request, *, sse: bool, cancel: threading.Event | None = None,
        timeout: float | tuple[float, float] | None = None) -> Iterator[StreamEvent]:
    """Yield the events of one generation; the last is ``done`` with the result."""
    started = time.perf_counter()
    # The cache key comes from the request alone: a cached notebook replays with no listing.
    key = client._keepers.key(request, request.api or client.api, client.base_url)
    hit = client._keepers.lookup(key)
    if hit is not None:
        hit.elapsed = time.perf_counter() - started
        hit._client = client
        for image in hit.generated:
            yield StreamEvent("image", image=image, elapsed=hit.elapsed)
        yield StreamEvent("done", result=hit, elapsed=hit.elapsed)
        return
    model = record_of(client, request.model)
    api = choose_api(request, model, client.api)
    _check(client, request, model, api)
    price = price_of(client, model, request)
    worst = request.n or (model.max_images if model is not None else 1)
    with client._guard.reserve(request.model, price, worst) as held:
        try:
            result = yield from _attempt(client, request, model, api, sse, cancel, timeout, started)
        except ImageGenError as exc:
            other = "images" if api == "chat" else "chat"
            if exc.code != WRONG_ENDPOINT or request.api not in (None, "auto") or \
                    (request.api is None and client.api != "auto"):
                raise
            client.catalogue.learn_refused(request.model, api)
            model = record_of(client, request.model)
            _check(client, request, model, other)
            result = yield from _attempt(client, request, model, other, sse, cancel, timeout, started)
        client._guard.settle(result.cost, held)
    client.catalogue.learn_billed(request.model, result.cost, len(result.generated),
                                  result.usage.image_tokens)
    client._keepers.keep(key, result)
    yield StreamEvent("done", result=result, elapsed=time.perf_counter() - started)


def _check(client: Client, request: Request, model: Model | None, api: str) -> None:
    """The one validation, against the model's own record (skipped without a catalogue)."""
    request.check_api(api)
    if model is None:
        return
    if request.images and not model.accepts_images:
        editors = [m.id for m in client.models() if m.accepts_images][:5]
        raise ModelCapabilityError(
            f"{model.id!r} does not accept input images. Models that do: "
            f"{', '.join(editors) or 'none listed'}.", alternatives=editors)
    request.validated(model, api)


def _attempt(client: Client, request: Request, model: Model | None, api: str, sse: bool,
             cancel: threading.Event | None, timeout: float | tuple[float, float] | None,
             started: float) -> Generator[StreamEvent, None, ImageResult]:
    """Send ``request`` to ``api`` once (the transport retries); return the result."""
    adapter = ADAPTERS[api]
    limits = client._transport.limits
    deadline = None if limits.deadline is None else time.monotonic() + limits.deadline
    body = adapter.body(request, model, stream=sse)
    data = json.dumps(body, separators=(",", ":")).encode()
    retries: list[tuple[int, float]] = []
    response = client._transport.request(
        "POST", adapter.path, data=data, stream=True, timeout=timeout, cancel=cancel,
        deadline=deadline, on_retry=lambda a, d: retries.append((a, d)))
    for attempt, delay in retries:
        yield StreamEvent("retry", attempt=attempt, delay=delay)
    generation_id = response.headers.get("X-Generation-Id")
    generated: list[GeneratedImage] | None = None
    max_image = client.max_image_bytes
    with Watchdog(response, deadline, cancel) as dog:
        try:
            if "text/event-stream" not in response.headers.get("Content-Type", ""):
                raw = read_body(response, limits.max_response_bytes)
                with _CPU:
                    text, lifted = lift_data_urls(raw)
                    completion = adapter.parse(loads(text), response.status_code, generation_id,
                                               request.model)
                    generated = [decode_payload(p, lifted, max_image) for p in completion.images]
            else:
                generated = []
                completion = yield from _read_stream(
                    response, adapter, request, generated, started, cancel, generation_id,
                    limits.max_response_bytes, max_image)
        except (IncompleteStreamError, CancelledError):
            if dog.fired and cancel is not None and cancel.is_set():
                raise CancelledError("generation cancelled") from None
            if dog.fired:
                raise RequestTimeoutError(
                    "the generation did not finish within its deadline "
                    f"({limits.deadline:.0f} s); raise Client(deadline=...) for slow models") from None
            raise
    if not generated:
        completion.require_images()
    result = ImageResult.from_completion(
        completion, generated, prompt=request.prompt, model=request.model,
        params={**request.params(), "api": api}, elapsed=time.perf_counter() - started)
    result.request = request
    result._client = client
    return result


def _read_stream(response: requests.Response, adapter: Adapter, request: Request,
                 generated: list[GeneratedImage], started: float,
                 cancel: threading.Event | None, generation_id: str | None, max_event: int,
                 max_image: int | None) -> Generator[StreamEvent, None, ChatCompletion]:
    """Read SSE events into ``generated``; return the assembled completion after ``[DONE]``.

    An image is handed on only once its whole event arrived and decoded; a stream cut before
    ``[DONE]`` raises :class:`IncompleteStreamError` and yields no result.
    """
    accumulator = adapter.accumulator(generation_id, request.model)
    try:
        for event in iter_events(response, max_event, cancel):
            elapsed = time.perf_counter() - started
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
                    generated.append(progress.image)
                yield progress
    except IncompleteStreamError as exc:
        exc.request_id = exc.request_id or accumulator.result().id
        raise
    completion: ChatCompletion = accumulator.result()
    return completion


def record_of(client: Client, model: str, *, required: bool = False) -> Model | None:
    """The model's record, or ``None`` when checks are off or the listings are unusable.

    Without a record (``check_models=False``, an older proxy) the service decides, as it would.
    """
    if not client.check_models and not required:
        return None
    try:
        found: Model = client.catalogue.require(model)
        return found
    except (NotFoundError, ModelCapabilityError):
        raise
    except ImageGenError as exc:
        if required:
            raise
        log.debug("model check skipped, the listings are unusable: %s", exc)
        return None


def price_of(client: Client, model: Model | None, request: Request, *,
             fetch: bool = False) -> Price:
    """The estimated price of one image: the user's own price, else the catalogue's."""
    if request.model in client.prices:
        return Price(float(client.prices[request.model]), "your price", "Client(prices=...)")
    if model is None:
        return Price(None, "unknown", "check_models=False")
    if fetch or client.spend_limit is not None:
        model = client.catalogue.with_prices(model)  # one endpoints request per model
    return model.price(request.size, request.aspect_ratio)
