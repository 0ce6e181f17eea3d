"""The client: the one module that talks HTTP to OpenRouter (or anything that speaks its protocol).

It owns a pooled ``requests.Session`` and adds what a notebook needs around the pure protocol
layer: the key and attribution headers, retries that honour ``Retry-After``, timeouts, streaming
with progress events, cancellation, and model discovery with a cache.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import requests
import urllib3
from requests.adapters import HTTPAdapter

from ._config import Settings
from ._dataurl import decode_data_url, lift_data_urls
from ._exceptions import (
    APIConnectionError,
    CancelledError,
    ImageGenError,
    IncompleteStreamError,
    InvalidInputError,
    ModelCapabilityError,
    NotFoundError,
    RateLimitError,
    RequestTimeoutError,
    ResponseError,
    SpendLimitError,
)
from ._gate import RateGate
from ._imagesapi import (
    ImageModelInfo,
    ImagesStreamAccumulator,
    ImagesStreamUpdate,
    build_images_body,
    parse_image_models,
    parse_images_response,
)
from ._inputs import to_image_urls
from ._models import ModelInfo, closest_ids, parse_models
from ._protocol import (
    RETRYABLE_STATUSES,
    ChatCompletion,
    ImagePayload,
    StreamAccumulator,
    build_chat_body,
    error_from_response,
    modalities_for,
    parse_chat_completion,
    retry_delay,
)
from ._results import GeneratedImage, ImageResult
from ._sse import SSEDecoder
from ._version import __version__

if TYPE_CHECKING:
    from ._batch import BatchResult

__all__ = ["Client", "StreamEvent"]

log = logging.getLogger("jupyter_imagegen")

Timeout = float | tuple[float, float] | None
Api = Literal["chat", "images", "auto"]
_CHUNK = 64 * 1024  # big enough for multi-MB events, small enough that keep-alives arrive promptly


@dataclass(frozen=True)
class StreamEvent:
    """One step of a streamed generation, for progress displays.

    ``kind`` is ``"keepalive"`` (the service is still working), ``"text"`` / ``"reasoning"``
    (a delta in ``text``), ``"image"`` (a complete, decoded-ready image in ``image``),
    ``"partial"`` (an Image API preview in ``image``, never part of the result),
    ``"retry"`` (waiting ``delay`` seconds before attempt ``attempt``) or ``"done"`` (``result``).
    """

    kind: Literal["keepalive", "text", "reasoning", "image", "partial", "retry", "done"]
    text: str = ""
    image: GeneratedImage | None = None
    result: ImageResult | None = None
    elapsed: float = 0.0
    attempt: int = 0
    delay: float = 0.0


class Client:
    """A connection to OpenRouter's image generation, usable as a context manager.

    ```python
    with Client() as client:             # key from OPENROUTER_API_KEY
        result = client.generate("a lighthouse at dusk", aspect_ratio="16:9")
        result.image                     # a PIL image
    ```
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        model: str | None = None,
        timeout: Timeout = (10.0, 300.0),
        max_retries: int = 2,
        max_retry_delay: float = 60.0,
        pool_size: int = 10,
        referer: str | None = None,
        title: str | None = None,
        models_ttl: float = 600.0,
        check_models: bool = True,
        spend_limit: float | None = None,
        cache: Any = None,
        store: Any = None,
        api: Api = "auto",
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._config = {k: v for k, v in locals().items() if k not in ("self", "session", "__class__")}
        settings = Settings.from_env(api_key, base_url)
        self._api_key = settings.api_key
        self.base_url = settings.base_url
        self.default_model = model or settings.default_model
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_delay = max_retry_delay
        self.models_ttl = models_ttl
        self.check_models = check_models
        self._sleep = sleep
        self._owns_session = session is None
        self._session = session or requests.Session()
        self._pool_size = 0
        self.ensure_pool(pool_size)
        self._session.headers.update(self._headers(referer or settings.referer, title or settings.title))
        self._catalogue: dict[bool, tuple[float, list[ModelInfo]]] = {}
        self._image_catalogue: tuple[float, list[ImageModelInfo]] | None = None
        self._reserved = 0.0  # estimated cost of requests in flight (spend limit)
        self.api = api
        self._lock = threading.Lock()
        self._gate = RateGate()
        self.spend_limit = spend_limit
        #: USD reported by the service for this client's generations (cache hits cost nothing).
        self.spent = 0.0
        #: Opt-in replay cache (``cache=True``, a folder, or a ReplayCache): identical requests
        #: are served from disk, offline and at no cost.
        self.cache = _resolve_cache(cache)
        #: Opt-in ImageStore (a folder or an ImageStore) that keeps every generated image.
        self.store = _resolve_store(store)

    def __getstate__(self) -> dict[str, Any]:
        # Executors that ship work to other processes (Dask) pickle the client: send only the
        # configuration and rebuild the session there. That configuration includes the API key,
        # so never write a pickled client to disk; results drop their client when pickled.
        return dict(self._config)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    # -- plumbing -----------------------------------------------------------------------------

    def _headers(self, referer: str | None, title: str | None) -> dict[str, str]:
        headers = {
            "User-Agent": f"jupyter-imagegen/{__version__} requests/{requests.__version__}",
            "Accept": "application/json",
            "X-OpenRouter-Categories": "image-gen",
        }
        if referer:
            headers["HTTP-Referer"] = referer
        if title:
            headers["X-OpenRouter-Title"] = title
            headers["X-Title"] = title
        return headers

    @property
    def has_key(self) -> bool:
        """True when an API key is configured. The key itself is never exposed."""
        return bool(self._api_key)

    def ensure_pool(self, size: int) -> None:
        """Grow the connection pool to ``size`` connections (batches call this for their concurrency)."""
        if size <= self._pool_size:
            return
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=size, pool_block=False)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._pool_size = size

    def close(self) -> None:
        """Close pooled connections (only if this client created the session)."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        key = "set" if self.has_key else "unset"
        return f"<Client base_url={self.base_url!r} model={self.default_model!r} key={key}>"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        stream: bool = False,
        timeout: Timeout = None,
        on_retry: Callable[[int, float], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> requests.Response:
        """Send with retries; return a 2xx response or raise the mapped error.

        Errors are built outside ``except`` blocks on purpose: a chained ``requests`` exception
        would carry the request, and so the ``Authorization`` header, in ``__context__``.
        """
        data = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        headers = {**self._auth()}
        if data is not None:
            headers["Content-Type"] = "application/json"
        attempt = 0
        self._gate.wait(self._sleep)  # a sibling thread was told to slow down: so are we
        while True:
            failure = ""
            try:
                response = self._session.request(
                    method, self._url(path), data=data, params=params, headers=headers,
                    stream=stream, timeout=timeout if timeout is not None else self.timeout,
                )
            except requests.exceptions.RequestException as exc:
                failure = _failure_kind(exc)
            if failure:
                error = self._transport_error(failure)
            else:
                if response.status_code < 400:
                    return response
                error = self._status_error(response)
                if response.status_code not in RETRYABLE_STATUSES:
                    raise error
            if attempt >= self.max_retries:
                error.metadata.setdefault("attempts", attempt + 1)
                raise error
            delay = retry_delay(attempt, retry_after=error.retry_after,
                                cap=self.max_retry_delay)
            log.debug("retrying %s %s in %.2fs after %s", method, path, delay, type(error).__name__)
            if isinstance(error, RateLimitError):
                self._gate.block(delay)
            if on_retry is not None:
                on_retry(attempt + 1, delay)
            if cancel is not None and cancel.is_set():
                raise CancelledError("generation cancelled")  # do not start another, billed try
            self._sleep(delay)
            attempt += 1

    def _transport_error(self, failure: str) -> ImageGenError:
        """The typed error for a request that got no usable response (see :func:`_failure_kind`)."""
        if failure == "invalid":
            raise InvalidInputError(f"cannot send a request to {self.base_url!r}: check the base URL "
                                    "and the API key (no line breaks or odd characters)")
        if failure == "read-timeout":
            # A read timeout may mean the generation is still running (and billed): no retry.
            raise RequestTimeoutError(
                f"no response from {self.base_url} within the read timeout; raise "
                "Client(timeout=...) for slow models")
        if failure == "connect-timeout":
            return RequestTimeoutError(f"timed out connecting to {self.base_url}")
        return APIConnectionError(f"cannot reach {self.base_url}: {failure}")

    def _status_error(self, response: requests.Response) -> ImageGenError:
        """The mapped error for a 4xx/5xx response; a body that breaks off is a connection error."""
        try:
            content = response.content
        except requests.exceptions.RequestException as exc:
            content = None
            kind = type(exc).__name__
        finally:
            response.close()
        if content is None:
            return APIConnectionError(f"the error response from {self.base_url} broke off ({kind}, "
                                      f"HTTP {response.status_code})", status=response.status_code)
        return error_from_response(
            response.status_code, content, retry_after=response.headers.get("Retry-After"),
            request_id=response.headers.get("X-Generation-Id"))

    def _get_json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET a small JSON document (listings, records) with retries and typed errors."""
        response = self._send("GET", path, params=params)
        try:
            content = response.content
        except requests.exceptions.RequestException:
            content = None
        finally:
            response.close()
        if content is None:
            raise APIConnectionError(f"the response to GET {path} broke off")
        try:
            return json.loads(content)
        except ValueError:
            raise ResponseError(f"the response to GET {path} is not valid JSON") from None

    # -- models -------------------------------------------------------------------------------

    def models(self, *, refresh: bool = False, all: bool = False) -> list[ModelInfo]:
        """Image-capable models (``GET /models?output_modalities=image``), cached for ``models_ttl``.

        With ``all=True``, every model of the listing (text models included).
        """
        with self._lock:
            cached = self._catalogue.get(all)
            if cached and not refresh and time.monotonic() - cached[0] < self.models_ttl:
                return list(cached[1])
        query = {"output_modalities": "all" if all else "image"}
        models = parse_models(self._get_json("models", query), images_only=not all)
        with self._lock:
            self._catalogue[all] = (time.monotonic(), models)
        return list(models)

    def model_info(self, model: str) -> ModelInfo:
        """The listing entry for ``model``; :class:`NotFoundError` with suggestions if unknown."""
        catalogue = {m.id: m for m in self.models(all=True)}
        found = catalogue.get(model) or catalogue.get(model.split(":", 1)[0])
        if found is None:
            image_ids = [m.id for m in catalogue.values() if m.outputs_images]
            suggestions = closest_ids(model, image_ids) or closest_ids(model, catalogue)
            hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
            raise NotFoundError(f"unknown model {model!r}.{hint} List image models with "
                                "client.models() or `jupyter-imagegen models`.",
                                suggestions=suggestions, code="model_not_found")
        return found

    def _check_model(self, model: str, *, wants_input: bool) -> ModelInfo | None:
        """Fail before sending when the listing says the model cannot do it (None: listing unusable)."""
        if not self.check_models:
            return None
        try:
            info = self.model_info(model)
        except NotFoundError:
            raise
        except ImageGenError as exc:
            log.debug("model check skipped: %s", exc)
            return None
        if not info.outputs_images:
            alternatives = [m.id for m in self.models()][:5]
            raise ModelCapabilityError(
                f"{model!r} cannot output images (its outputs: {', '.join(info.output_modalities)}). "
                f"Image-capable models: {', '.join(alternatives) or 'none listed'}.",
                alternatives=alternatives)
        if wants_input and not info.accepts_images:
            editors = [m.id for m in self.models() if m.accepts_images][:5]
            raise ModelCapabilityError(
                f"{model!r} does not accept input images. Models that do: "
                f"{', '.join(editors) or 'none listed'}.", alternatives=editors)
        return info

    def generation(self, generation_id: str) -> dict[str, Any]:
        """The service's record of one generation (``GET /generation?id=...``)."""
        data = self._get_json("generation", {"id": generation_id})
        record = data.get("data", data) if isinstance(data, Mapping) else None
        if not isinstance(record, Mapping):
            raise ResponseError("the generation record has no 'data' object")
        return dict(record)

    # -- generation ---------------------------------------------------------------------------

    def build_request(self, prompt: str, model: str | None = None, **options: Any) -> dict[str, Any]:
        """The JSON body :meth:`generate` would send for these arguments (nothing is generated).

        It takes :meth:`generate`'s options (``api`` included) and checks the model like it.
        """
        return self._plan(prompt, model, api=options.pop("api", None), **options).body

    def _build(
        self,
        prompt: str,
        model: str | None = None,
        *,
        images: Any = None,
        aspect_ratio: str | None = None,
        image_size: str | None = None,
        seed: int | None = None,
        stream: bool = False,
        modalities: Sequence[str] | None = None,
        image_config: Mapping[str, Any] | None = None,
        provider: Mapping[str, Any] | None = None,
        messages: Sequence[Mapping[str, Any]] = (),
        extra_body: Mapping[str, Any] | None = None,
    ) -> tuple[dict[str, Any], ModelInfo | None]:
        if not isinstance(prompt, str) or not prompt.strip():
            raise InvalidInputError("the prompt is empty: describe the image you want")
        model = model or self.default_model
        urls = to_image_urls(images)
        info = self._check_model(model, wants_input=bool(urls))
        if modalities is None:
            modalities = modalities_for(info.output_modalities) if info else ["image", "text"]
        body = build_chat_body(
            prompt, model, images=urls, modalities=modalities, aspect_ratio=aspect_ratio,
            image_size=image_size, image_config=image_config, seed=seed, stream=stream,
            provider=provider, messages=messages, extra=extra_body,
        )
        return body, info

    # -- spend and cache ----------------------------------------------------------------------

    @contextmanager
    def _spending(self, plan: _Plan) -> Iterator[None]:
        """Refuse, before sending, a request that would take the session past ``spend_limit``.

        The estimate stays reserved while the request runs, so parallel requests of a batch
        cannot all pass the check before any of them has been paid for.
        """
        limit = self.spend_limit
        if limit is None:
            yield
            return
        estimate = plan.estimate
        with self._lock:
            committed = self.spent + self._reserved
            if committed + estimate > limit:
                raise SpendLimitError(
                    f"spend limit reached: ${committed:.4f} spent or running of ${limit:.2f}, and "
                    f"this request to {plan.model!r} costs about ${estimate:.4f}. Nothing was sent. "
                    "Raise the spend limit (or set it to None) to continue.")
            self._reserved += estimate
        try:
            yield
        finally:
            with self._lock:
                self._reserved -= estimate

    def _record_spend(self, result: ImageResult) -> None:
        if result.cost and not result.cached:
            with self._lock:
                self.spent += result.cost

    def _cache_key(self, prompt: str, model: str | None, api: Api | None, images: Any,
                   options: Mapping[str, Any]) -> str | None:
        """The replay-cache key of a call, from its arguments alone.

        It needs no model listing, so a cached notebook replays offline; input images count
        by content, and ``stream`` (how the answer arrives) does not count at all.
        """
        if self.cache is None:
            return None
        call = {"prompt": prompt, "model": model or self.default_model, "api": api or self.api,
                "images": list(to_image_urls(images)), **options}
        call.pop("stream", None)
        try:
            key: str = self.cache.key_for(call, self.base_url)
        except (TypeError, ValueError):
            return None  # options that are not JSON: not cacheable, still sendable
        return key

    def _lookup(self, key: str | None, started: float) -> ImageResult | None:
        if key is None or self.cache is None:
            return None
        hit: ImageResult | None = self.cache.get(key)
        if hit is not None:
            hit.elapsed = time.perf_counter() - started
            hit._client = self
        return hit

    def _remember(self, key: str | None, result: ImageResult) -> None:
        """Keep a fresh result in the replay cache and the image store, when configured.

        The result is paid for by now: a full disk or a bad folder costs the copy, never it.
        """
        keepers: list[tuple[str, Callable[[], object]]] = []
        if key is not None and self.cache is not None:
            keepers.append(("replay cache", lambda: self.cache.put(key, result)))
        if self.store is not None:
            keepers.append(("image store", lambda: self.store.add(result)))
        for name, keep in keepers:
            try:
                keep()
            except Exception as exc:  # reported below; the paid result is still returned
                log.warning("jupyter_imagegen: could not keep the result in the %s: %s: %s",
                            name, type(exc).__name__, exc)

    def generate(
        self,
        prompt: str,
        model: str | None = None,
        *,
        images: Any = None,
        aspect_ratio: str | None = None,
        image_size: str | None = None,
        seed: int | None = None,
        stream: bool = False,
        on_event: Callable[[StreamEvent], None] | None = None,
        cancel: threading.Event | None = None,
        timeout: Timeout = None,
        api: Api | None = None,
        **options: Any,
    ) -> ImageResult:
        """Generate images for ``prompt`` and return an :class:`ImageResult`.

        ``images`` are input images for editing (PIL images, bytes, paths, data/https URLs or
        earlier results). With ``stream=True`` the result is assembled from the SSE stream and
        ``on_event`` sees keep-alives, text and each image as it arrives. Setting ``cancel``
        (a ``threading.Event``) from another thread stops the request with :class:`CancelledError`.

        ``api`` picks OpenRouter's API: ``"chat"`` (chat completions with ``modalities``),
        ``"images"`` (the dedicated ``POST /images``: also takes ``n``, ``resolution``, ``size``,
        ``quality``, ``output_format``, ``background``) or ``"auto"`` (the client's default: chat
        for models the chat listing knows, else the Image API). Other keyword arguments
        (``modalities``, ``image_config``, ``provider``, ``messages``, ``extra_body``) go into
        the request body.
        """
        if stream or on_event is not None or cancel is not None:
            events = self.stream(prompt, model, images=images, aspect_ratio=aspect_ratio,
                                 image_size=image_size, seed=seed, cancel=cancel, timeout=timeout,
                                 api=api, _sse=stream, **options)
            for event in events:
                if on_event is not None:
                    on_event(event)
                if event.result is not None:
                    return event.result
            raise IncompleteStreamError("the stream ended without a result")  # pragma: no cover
        started = time.perf_counter()
        images = to_image_urls(images)  # once: the cache key and the body both use them
        key = self._cache_key(prompt, model, api, images, dict(
            options, aspect_ratio=aspect_ratio, image_size=image_size, seed=seed))
        hit = self._lookup(key, started)
        if hit is not None:
            return hit
        plan = self._plan(prompt, model, api=api, images=images, aspect_ratio=aspect_ratio,
                          image_size=image_size, seed=seed, stream=False, **options)
        with self._spending(plan):
            response = self._send("POST", plan.path, body=plan.body, timeout=timeout, stream=True)
            completion, lifted = self._parse_body(response, plan)
            return self._result(completion, plan, prompt, started, lifted=lifted, key=key)

    def stream(
        self,
        prompt: str,
        model: str | None = None,
        *,
        images: Any = None,
        aspect_ratio: str | None = None,
        image_size: str | None = None,
        seed: int | None = None,
        cancel: threading.Event | None = None,
        timeout: Timeout = None,
        api: Api | None = None,
        _sse: bool = True,
        **options: Any,
    ) -> Iterator[StreamEvent]:
        """Generate with ``stream: true`` and yield :class:`StreamEvent` values; the last is ``done``.

        An image event is yielded only once its whole event arrived and decoded; a stream cut
        mid-event raises :class:`IncompleteStreamError` and no result is produced. The Image API
        also yields ``partial`` previews, which never become part of the result.
        """
        started = time.perf_counter()
        images = to_image_urls(images)  # once: the cache key and the body both use them
        key = self._cache_key(prompt, model, api, images, dict(
            options, aspect_ratio=aspect_ratio, image_size=image_size, seed=seed))
        hit = self._lookup(key, started)
        if hit is not None:
            for image in hit.generated:
                yield StreamEvent("image", image=image, elapsed=hit.elapsed or 0.0)
            yield StreamEvent("done", result=hit, elapsed=hit.elapsed or 0.0)
            return
        plan = self._plan(prompt, model, api=api, images=images, aspect_ratio=aspect_ratio,
                          image_size=image_size, seed=seed, stream=_sse, **options)
        with self._spending(plan):
            yield from self._stream_plan(plan, prompt, key, started, timeout, cancel)

    def _stream_plan(self, plan: _Plan, prompt: str, key: str | None, started: float,
                     timeout: Timeout, cancel: threading.Event | None) -> Iterator[StreamEvent]:
        retries: list[tuple[int, float]] = []
        response = self._send_cancellable(plan.path, plan.body, timeout, cancel,
                                          lambda a, d: retries.append((a, d)))
        for attempt, delay in retries:
            yield StreamEvent("retry", attempt=attempt, delay=delay)
        generated: list[GeneratedImage] | None = None  # None: decode from the completion
        lifted: dict[str, memoryview] = {}
        with response:
            if "text/event-stream" not in response.headers.get("Content-Type", ""):
                completion, lifted = self._parse_body(response, plan)  # not streamed: JSON
            else:
                accumulator = plan.accumulator(response.headers.get("X-Generation-Id"))
                generated = []
                for event in self._read_stream(response, accumulator, plan, started, cancel):
                    if event.kind == "image" and event.image is not None:
                        generated.append(event.image)
                    yield event
                completion = accumulator.result()
        result = self._result(completion, plan, prompt, started, generated, lifted=lifted, key=key)
        yield StreamEvent("done", result=result, elapsed=time.perf_counter() - started)

    # -- planning: which API, which body ------------------------------------------------------

    def _plan(self, prompt: str, model: str | None, *, api: Api | None, **kwargs: Any) -> _Plan:
        if not isinstance(prompt, str) or not prompt.strip():
            raise InvalidInputError("the prompt is empty: describe the image you want")
        model = model or self.default_model
        if self._api_for(model, api or self.api) == "images":
            body, estimate = self._build_images(prompt, model, **kwargs)
            return _Plan("images", "images", body, model, estimate)
        body, info = self._build(prompt, model, **kwargs)
        price = info.price_per_image if info is not None else None
        return _Plan("chat", "chat/completions", body, model, price or 0.0)

    def _api_for(self, model: str, api: str) -> str:
        """``auto``: chat for models the chat listing knows, else the Image API if it knows them."""
        if api in ("chat", "images"):
            return api
        if api != "auto":
            raise InvalidInputError(f"api must be 'chat', 'images' or 'auto', not {api!r}")
        if not self.check_models:
            return "chat"
        try:
            known = {m.id for m in self.models(all=True)}
        except ImageGenError:
            return "chat"
        if model in known or model.split(":", 1)[0] in known:
            return "chat"
        try:
            if any(m.id == model for m in self.image_models()):
                return "images"
        except ImageGenError:
            pass
        return "chat"  # the chat check then names close matches

    def image_models(self, *, refresh: bool = False) -> list[ImageModelInfo]:
        """Models of the dedicated Image API (``GET /images/models``), with their parameters."""
        with self._lock:
            cached = self._image_catalogue
            if cached and not refresh and time.monotonic() - cached[0] < self.models_ttl:
                return list(cached[1])
        models = parse_image_models(self._get_json("images/models"))
        with self._lock:
            self._image_catalogue = (time.monotonic(), models)
        return list(models)

    def _build_images(
        self,
        prompt: str,
        model: str,
        *,
        images: Any = None,
        aspect_ratio: str | None = None,
        image_size: str | None = None,
        seed: int | None = None,
        stream: bool = False,
        n: int | None = None,
        resolution: str | None = None,
        size: str | None = None,
        quality: str | None = None,
        output_format: str | None = None,
        background: str | None = None,
        provider: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        **unknown: Any,
    ) -> tuple[dict[str, Any], float]:
        if unknown:
            raise InvalidInputError(f"the Image API has no option(s) {', '.join(sorted(unknown))}")
        if resolution is None and image_size is not None:
            resolution = "512" if image_size == "0.5K" else image_size
        body = build_images_body(
            prompt, model, n=n, resolution=resolution, aspect_ratio=aspect_ratio, size=size,
            quality=quality, output_format=output_format, background=background, seed=seed,
            stream=stream, input_references=to_image_urls(images), provider=provider,
            extra=extra_body,
        )
        if self.check_models:
            catalogue = {m.id: m for m in self.image_models()}
            info = catalogue.get(model)
            if info is None:
                suggestions = closest_ids(model, catalogue)
                hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
                raise NotFoundError(f"unknown Image API model {model!r}.{hint} List them with "
                                    "client.image_models().", suggestions=suggestions,
                                    code="model_not_found")
            problems = info.check(body)
            if problems:
                raise ModelCapabilityError("; ".join(problems) + ". Nothing was sent.")
        return body, self._price_of(model) * (n or 1)

    def _price_of(self, model: str) -> float:
        """USD per output image from the model listing, 0.0 when unknown (for the spend limit)."""
        try:
            listed = {m.id: m for m in self.models(all=True)}.get(model)
        except ImageGenError:
            return 0.0
        return (listed.price_per_image or 0.0) if listed else 0.0

    # -- reading responses --------------------------------------------------------------------

    def generate_many(
        self,
        prompts: Iterable[str],
        model: str | Sequence[str] | None = None,
        *,
        concurrency: int = 4,
        executor: Executor | None = None,
        progress: bool = True,
        **kwargs: Any,
    ) -> BatchResult:
        """Generate for many prompts (x models) in parallel; see :func:`generate_many`."""
        from ._batch import generate_many

        return generate_many(self, prompts, model, concurrency=concurrency, executor=executor,
                             progress=progress, **kwargs)

    def _send_cancellable(
        self,
        path: str,
        body: Mapping[str, Any],
        timeout: Timeout,
        cancel: threading.Event | None,
        on_retry: Callable[[int, float], None],
    ) -> requests.Response:
        """POST with ``stream=True``; while waiting for headers, a set ``cancel`` wins at once."""
        if cancel is None:
            return self._send("POST", path, body=body, stream=True, timeout=timeout,
                              on_retry=on_retry)
        box: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            try:
                box["response"] = self._send("POST", path, body=body, stream=True,
                                             timeout=timeout, on_retry=on_retry, cancel=cancel)
            except BaseException as exc:  # handed to the waiting thread
                box["error"] = exc
            finally:
                done.set()
                if cancel.is_set() and "response" in box:
                    box["response"].close()

        threading.Thread(target=run, name="jupyter-imagegen-request", daemon=True).start()
        while not done.wait(0.05):
            if cancel.is_set():
                raise CancelledError("generation cancelled")
        if "error" in box:
            raise box["error"]
        response: requests.Response = box["response"]
        if cancel.is_set():
            response.close()
            raise CancelledError("generation cancelled")
        return response

    def _read_stream(
        self,
        response: requests.Response,
        accumulator: Any,
        plan: _Plan,
        started: float,
        cancel: threading.Event | None,
    ) -> Iterator[StreamEvent]:
        decoder = SSEDecoder()
        chunks = response.iter_content(chunk_size=_CHUNK)
        try:
            for chunk in chunks:
                if cancel is not None and cancel.is_set():
                    raise CancelledError("generation cancelled")
                events = decoder.feed(chunk)
                events.reverse()
                while events:
                    event = events.pop()  # drop each event's text once parsed (multi-MB images)
                    elapsed = time.perf_counter() - started
                    if event.is_comment:
                        yield StreamEvent("keepalive", text=event.comment or "", elapsed=elapsed)
                        continue
                    text, lifted = lift_data_urls(event.raw)  # images skip the JSON decoder
                    del event
                    update = accumulator.add_data(text)
                    if accumulator.done:
                        _drain(chunks)
                        return
                    yield from plan.events(update, elapsed, lifted)
        except requests.exceptions.RequestException as exc:
            raise IncompleteStreamError(
                f"the stream broke off ({type(exc).__name__}); no partial image was kept",
                request_id=accumulator.result().id) from None
        cut = " in the middle of an event" if decoder.pending else ""
        raise IncompleteStreamError(
            f"the stream ended{cut} before 'data: [DONE]'; no partial image was kept",
            request_id=accumulator.result().id)

    def _parse_body(
        self, response: requests.Response, plan: _Plan
    ) -> tuple[ChatCompletion, dict[str, memoryview]]:
        try:
            # One read of the whole body: iter_content's 10 KB steps cost more than the transfer.
            content = response.raw.read(decode_content=True)
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise IncompleteStreamError(f"the response broke off ({type(exc).__name__})") from None
        finally:
            response.close()
        text, lifted = lift_data_urls(content)  # megabytes of base64 skip the JSON decoder
        try:
            obj = json.loads(text)
        except ValueError:
            raise ResponseError(
                f"the response is not JSON ({len(content)} bytes, "
                f"Content-Type {response.headers.get('Content-Type')!r})") from None
        generation_id = response.headers.get("X-Generation-Id")
        return plan.parse(obj, response.status_code, generation_id), lifted

    def _result(
        self,
        completion: ChatCompletion,
        plan: _Plan,
        prompt: str,
        started: float,
        generated: list[GeneratedImage] | None = None,
        *,
        lifted: Mapping[str, memoryview] | None = None,
        key: str | None = None,
    ) -> ImageResult:
        if generated is None:
            generated = [_decode(payload, lifted) for payload in completion.images]
        if not generated:
            completion.require_images()
        params = _params_of(plan.body)
        if plan.api == "images":
            params["api"] = "images"
        result = ImageResult.from_completion(
            completion, generated, prompt=prompt, model=plan.model, params=params,
            elapsed=time.perf_counter() - started,
        )
        result._client = self
        self._record_spend(result)
        self._remember(key, result)
        return result


def _drain(chunks: Iterator[bytes], limit: int = 4) -> None:
    """Read the few bytes after ``[DONE]`` (the closing chunk) so the connection is reused.

    A stream left unread is closed instead of returned to the pool, and the next request then
    pays a new connection (a TLS handshake on the real service). A misbehaving server that keeps
    talking after ``[DONE]`` is given a few reads, no more.
    """
    try:
        for _ in zip(range(limit), chunks, strict=False):
            pass
    except requests.exceptions.RequestException:
        pass  # the answer is complete; a connection that ends badly is simply not reused


def _failure_kind(exc: requests.exceptions.RequestException) -> str:
    """Classify a requests failure by name only: its text can hold the URL and headers."""
    if isinstance(exc, (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL,
                        requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema)):
        return "invalid"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connect-timeout"
    if isinstance(exc, requests.exceptions.Timeout):
        return "read-timeout"
    return type(exc).__name__


def _decode(payload: ImagePayload, lifted: Mapping[str, memoryview] | None = None) -> GeneratedImage:
    url: str | memoryview = lifted.get(payload.url, payload.url) if lifted else payload.url
    mime, data = decode_data_url(url, index=payload.index)
    return GeneratedImage(data=data, mime=mime, index=payload.index)


@dataclass(frozen=True)
class _Plan:
    """One request, ready to send: which API, where, what body, and how to read the answer."""

    api: Literal["chat", "images"]
    path: str
    body: dict[str, Any]
    model: str
    estimate: float  # USD, for the spend limit

    def parse(self, obj: Any, status: int, generation_id: str | None) -> ChatCompletion:
        if self.api == "images":
            return parse_images_response(obj, status=status, generation_id=generation_id,
                                         model=self.model)
        return parse_chat_completion(obj, status=status)

    def accumulator(self, generation_id: str | None) -> Any:
        if self.api == "images":
            return ImagesStreamAccumulator(keep_images=False, generation_id=generation_id,
                                           model=self.model)
        return StreamAccumulator(keep_images=False)

    def events(self, update: Any, elapsed: float,
               lifted: Mapping[str, memoryview]) -> Iterator[StreamEvent]:
        """The progress events one stream update stands for."""
        if isinstance(update, ImagesStreamUpdate):
            if update.image is not None and update.kind in ("partial", "completed"):
                kind: Literal["partial", "image"] = "partial" if update.is_partial else "image"
                yield StreamEvent(kind, image=_decode(update.image, lifted), elapsed=elapsed)
            return
        if update is None:
            return
        if update.reasoning:
            yield StreamEvent("reasoning", text=update.reasoning, elapsed=elapsed)
        if update.text:
            yield StreamEvent("text", text=update.text, elapsed=elapsed)
        for payload in update.images:
            yield StreamEvent("image", image=_decode(payload, lifted), elapsed=elapsed)


def _resolve_cache(cache: Any) -> Any:
    """``cache=True`` means the default folder; a path means that folder; a cache object is used as is."""
    if cache is None or cache is False:
        return None
    from ._cache import ReplayCache

    if cache is True:
        return ReplayCache()
    if isinstance(cache, (str, os.PathLike)):
        return ReplayCache(cache)
    return cache


def _resolve_store(store: Any) -> Any:
    if store is None or store is False:
        return None
    from ._store import ImageStore

    if isinstance(store, (str, os.PathLike)):
        return ImageStore(store)
    return store


def _params_of(body: Mapping[str, Any]) -> dict[str, Any]:
    """The request parameters worth keeping with a result (no prompt text, no image payloads)."""
    params: dict[str, Any] = {k: v for k, v in body.items()
                              if k not in ("messages", "model", "prompt", "input_references")}
    content = body["messages"][-1]["content"] if body.get("messages") else ""
    if isinstance(content, list):
        params["input_images"] = sum(1 for part in content if part.get("type") == "image_url")
    if body.get("input_references"):
        params["input_images"] = len(body["input_references"])
    return params

