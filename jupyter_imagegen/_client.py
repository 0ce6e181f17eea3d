"""The client facade: what users call. The work is done by the layers it composes.

``Client`` holds a :class:`~._transport.Transport` (the only HTTP), a :class:`~._catalogue.Catalogue`
(the only model knowledge), a :class:`~._policies.SpendGuard` and the cache/store
:class:`~._policies.Keepers`; each call builds one :class:`~._request.Request` and runs the send
chain of :mod:`._call`. Nothing here parses a wire format or keeps a table of what models accept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, Literal

import requests

from ._adapters import ADAPTERS, StreamEvent, choose_api
from ._call import price_of, record_of, run
from ._catalogue import Catalogue
from ._config import Settings
from ._exceptions import (
    IncompleteStreamError,
    InvalidInputError,
    ResponseError,
)
from ._listing import ImageModelInfo
from ._model import Model, Price
from ._models import parse_models
from ._policies import Keepers, SpendGuard
from ._request import Request
from ._results import ImageResult
from ._transport import Limits, Timeout, Transport

if TYPE_CHECKING:
    from ._batch import BatchResult

__all__ = ["Client", "StreamEvent"]

Api = Literal["chat", "images", "auto"]


class Client:
    """A connection to OpenRouter's image generation, usable as a context manager.

    ```python
    with Client() as client:             # key from OPENROUTER_API_KEY
        result = client.generate("a lighthouse at dusk", aspect_ratio="16:9")
        result.image                     # a PIL image
    ```

    ``deadline`` bounds a whole generation (retries included); ``max_response_bytes`` and
    ``max_image_bytes`` bound what an answer may make the kernel hold. ``prices`` gives USD per
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
        pool_size: int = 10,
        referer: str | None = None,
        title: str | None = None,
        models_ttl: float = 600.0,
        check_models: bool = True,
        spend_limit: float | None = None,
        prices: Mapping[str, float] | None = None,
        cache: Any = None,
        store: Any = None,
        api: Api = "auto",
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._config = {k: v for k, v in locals().items() if k not in ("self", "session", "__class__")}
        settings = Settings.from_env(api_key, base_url)
        if api not in ("chat", "images", "auto"):
            raise InvalidInputError(f"api must be 'chat', 'images' or 'auto', not {api!r}")
        self.base_url = settings.base_url
        self.default_model = model or settings.default_model
        self.check_models = check_models
        self.api: Api = api
        self.max_image_bytes = max_image_bytes
        self.prices = dict(prices or {})
        headers = {"X-OpenRouter-Categories": "image-gen"}
        if referer or settings.referer:
            headers["HTTP-Referer"] = referer or settings.referer or ""
        if title or settings.title:
            headers["X-OpenRouter-Title"] = headers["X-Title"] = title or settings.title or ""
        self._transport = Transport(
            settings.base_url, settings.api_key, timeout=timeout, max_retries=max_retries,
            max_retry_delay=max_retry_delay, session=session, sleep=sleep, headers=headers,
            limits=Limits(deadline=deadline, max_response_bytes=max_response_bytes))
        self._transport.ensure_pool(pool_size)
        #: Every image model the service lists, merged into one record each.
        self.catalogue = Catalogue(self._transport.get_json, ttl=models_ttl)
        self._guard = SpendGuard(spend_limit)
        self._keepers = Keepers(cache, store)

    def __getstate__(self) -> dict[str, Any]:
        # Executors that ship work to other processes (Dask) pickle the client: send only the
        # configuration and rebuild the session there. That configuration includes the API key,
        # so never write a pickled client to disk; results drop their client when pickled.
        return dict(self._config)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

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
    def spend_limit(self) -> float | None:
        """USD this client may spend in this session; ``None`` for no limit."""
        return self._guard.limit

    @spend_limit.setter
    def spend_limit(self, value: float | None) -> None:
        self._guard.limit = value

    @property
    def spent(self) -> float:
        """USD billed for this client's generations (cache hits cost nothing)."""
        return self._guard.spent

    @spent.setter
    def spent(self, value: float) -> None:
        self._guard.spent = value

    @property
    def cache(self) -> Any:
        """The replay cache (``cache=True``, a folder, or a ReplayCache), or ``None``."""
        return self._keepers.cache

    @cache.setter
    def cache(self, value: Any) -> None:
        self._keepers = Keepers(value, self._keepers.store)

    @property
    def store(self) -> Any:
        """The ImageStore keeping every generated image, or ``None``."""
        return self._keepers.store

    @store.setter
    def store(self, value: Any) -> None:
        self._keepers = Keepers(self._keepers.cache, value)

    @property
    def _gate(self) -> Any:
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
        key = "set" if self.has_key else "unset"
        return f"<Client base_url={self.base_url!r} model={self.default_model!r} key={key}>"

    # -- models -------------------------------------------------------------------------------

    def models(self, *, refresh: bool = False, all: bool = False) -> list[Any]:
        """Image models, one merged :class:`Model` record each (cached for ``models_ttl``).

        With ``all=True``, every model of ``GET /models?output_modalities=all`` as a listing entry.
        """
        if all:
            return parse_models(self._transport.get_json("models", {"output_modalities": "all"}),
                                images_only=False)
        return self.catalogue.models(refresh=refresh)

    def model_info(self, model: str) -> Model:
        """The record of ``model``; :class:`NotFoundError` with suggestions if unknown."""
        return self.catalogue.require(model)

    def image_models(self, *, refresh: bool = False) -> list[ImageModelInfo]:
        """Models of the dedicated Image API (``GET /images/models``), with their descriptors."""
        return self.catalogue.image_api_models(refresh=refresh)

    def price(self, model: str | None = None, **options: Any) -> Price:
        """The estimated price of one image of ``model`` for these options, and its basis."""
        request = self.request("price", model, **options)
        return self._price(self._record(request.model, required=True), request, fetch=True)

    def _record(self, model: str, *, required: bool = False) -> Model | None:
        return record_of(self, model, required=required)

    def _price(self, model: Model | None, request: Request, *, fetch: bool = False) -> Price:
        return price_of(self, model, request, fetch=fetch)

    def generation(self, generation_id: str) -> dict[str, Any]:
        """The service's record of one generation (``GET /generation?id=...``)."""
        data = self._transport.get_json("generation", {"id": generation_id})
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
        if record is not None:
            request.validated(record, api)
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

    def send(self, request: Request, *, stream: bool = False,
             on_event: Callable[[StreamEvent], None] | None = None,
             cancel: threading.Event | None = None, timeout: Timeout = None) -> ImageResult:
        """Run one :class:`Request` (as built by :meth:`request` or a front end)."""
        for event in run(self, request, sse=stream, cancel=cancel, timeout=timeout):
            if on_event is not None:
                on_event(event)
            if event.result is not None:
                return event.result
        raise IncompleteStreamError("the stream ended without a result")  # pragma: no cover

    def stream(self, prompt: str, model: str | None = None, *,
               cancel: threading.Event | None = None, timeout: Timeout = None,
               **options: Any) -> Iterator[StreamEvent]:
        """Generate with ``stream: true`` and yield :class:`StreamEvent` values; the last is ``done``.

        An image event is yielded only once its whole event arrived and decoded; a stream cut
        mid-event raises :class:`IncompleteStreamError` and no result is produced. The Image API
        also yields ``partial`` previews, which never become part of the result.
        """
        sse = bool(options.pop("_sse", True))
        yield from run(self, self.request(prompt, model, **options), sse=sse, cancel=cancel,
                       timeout=timeout)

    def generate_many(self, prompts: Iterable[str], model: str | Sequence[str] | None = None, *,
                      concurrency: int = 4, executor: Executor | None = None,
                      progress: bool = True, **kwargs: Any) -> BatchResult:
        """Generate for many prompts (x models) in parallel; see :func:`generate_many`."""
        from ._batch import generate_many

        return generate_many(self, prompts, model, concurrency=concurrency, executor=executor,
                             progress=progress, **kwargs)
