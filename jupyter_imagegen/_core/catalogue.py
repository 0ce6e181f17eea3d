"""One record per model, merged from the service's own listings: the kit's only model knowledge.

Three documents describe an image model on OpenRouter, and none is complete alone:

- ``GET /models?output_modalities=image``: modalities, ``supported_parameters`` and per-token
  prices. Real image entries carry **no** ``pricing.image_output`` (openrouter-changes-2026.md,
  "Real listings"); image-only models price ``"0"``.
- ``GET /images/models``: the Image API's models (Gemini ones included) with typed descriptors
  (ratios, resolutions, ``n``, input references, seed) and ``supports_streaming``.
- ``GET /images/models/{author}/{slug}/endpoints``: per-provider price lines, fetched lazily. A
  record that lists no endpoint (recorded for meta/muse-image) marks the model unavailable.

:class:`Catalogue` merges them into :class:`Model` records and is the one source of truth for
routing, validation, the spend guard and every front end. It does no I/O itself: the client hands
it a ``fetch(path, params)`` function, so the same catalogue serves the sync and async clients.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._exceptions import ImageGenError, ModelCapabilityError, NotFoundError
from .._wire.image_tokens import shape_key
from .._wire.listings import (
    EXCLUDED_IDS,
    ImageModelInfo,
    ModelInfo,
    PriceLine,
    closest_ids,
    parse_endpoint_record,
    parse_image_models,
    parse_models,
)
from .._wire.prices import Order, Quote
from .model import ApiCaps, Model, chat_caps, images_caps

__all__ = ["Catalogue", "Fetch"]

log = logging.getLogger("jupyter_imagegen")

Fetch = Callable[[str, Mapping[str, str] | None], Any]


@dataclass
class _Listing:
    """One cached listing: the parsed value and when it was fetched, with its own lock.

    The lock makes concurrent askers wait for one request instead of each sending their own.
    """

    value: Any = None
    fetched: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class _Merged:
    """The merged records of one listing fetch, with what each was merged from."""

    key: tuple[Any, ...]
    models: list[Model]
    by_id: dict[str, Model]
    index: dict[str, int]
    sources: dict[str, tuple[ModelInfo | None, ImageModelInfo | None]]


class Catalogue:
    """Image models as the service lists them, cached for ``ttl`` seconds.

    ``learn_*`` methods fold in what answers taught (a refused API, a billed cost), so the next
    request routes and prices better without another listing.
    """

    def __init__(self, fetch: Fetch, *, ttl: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self.ttl = ttl
        self._clock = clock
        self._chat = _Listing()
        self._images = _Listing()
        self._endpoints: dict[str, list[PriceLine]] = {}
        self._refused: set[tuple[str, str]] = set()
        self._served: dict[str, str] = {}  # model -> the API that answered after a refusal
        self._unavailable: set[tuple[str, str]] = set()  # (model, api) no endpoint serves
        # model -> shape (size and quality) -> USD per image / image tokens per image, as billed
        self._billed: dict[str, dict[str, float]] = {}
        self._tokens: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()
        self._merge_lock = threading.RLock()
        self._merged: _Merged | None = None

    # -- listings -------------------------------------------------------------------------------

    def _get(self, listing: _Listing, load: Callable[[], Any], refresh: bool) -> Any:
        with listing.lock:
            fresh = listing.fetched is not None and self._clock() - listing.fetched < self.ttl
            if refresh or not fresh:
                listing.value = load()
                listing.fetched = self._clock()
            return listing.value

    def chat_models(self, *, refresh: bool = False) -> list[ModelInfo]:
        """``GET /models?output_modalities=image``, image-capable entries only."""
        return list(self._get(self._chat, lambda: parse_models(
            self._fetch("models", {"output_modalities": "image"})), refresh))

    def image_api_models(self, *, refresh: bool = False) -> list[ImageModelInfo]:
        """``GET /images/models``; empty when the server has no Image API (an older proxy)."""
        def load() -> list[ImageModelInfo]:
            try:
                return parse_image_models(self._fetch("images/models", None))
            except NotFoundError:
                return []
        return list(self._get(self._images, load, refresh))

    def models(self, *, refresh: bool = False) -> list[Model]:
        """Every image model either listing names, merged, in listing order."""
        return list(self._records(refresh).models)

    def _records(self, refresh: bool = False) -> _Merged:
        """The merged records, built once per listing fetch (what answers teach updates one)."""
        chat: list[ModelInfo] = []
        images: list[ImageModelInfo] = []
        failures: list[ImageGenError] = []
        try:
            chat = self.chat_models(refresh=refresh)
        except ImageGenError as exc:
            failures.append(exc)
        try:
            images = self.image_api_models(refresh=refresh)
        except ImageGenError as exc:
            failures.append(exc)
        if len(failures) == 2:
            raise failures[0]
        key = (self._chat.fetched, self._images.fetched, len(failures))
        with self._merge_lock:
            cached = self._merged
            if cached is not None and cached.key == key:
                return cached  # every call reads the catalogue: merge once per listing
            by_image_id = {m.id: m for m in images}
            sources: list[tuple[ModelInfo | None, ImageModelInfo | None]] = [
                (info, by_image_id.pop(info.id, None)) for info in chat
                if info.id not in EXCLUDED_IDS]
            sources += [(None, info) for info in by_image_id.values()]
            merged = [self._merge(c, i) for c, i in sources]
            self._merged = _Merged(key, merged, {m.id: m for m in merged},
                                   {m.id: n for n, m in enumerate(merged)},
                                   {m.id: src for m, src in zip(merged, sources, strict=True)})
            return self._merged

    def _refresh(self, model_id: str) -> None:
        """Rebuild the one record an answer or an endpoints record changed (never all of them).

        Reading a record per model used to re-merge every model each time: quadratic work for a
        picker that prices a long listing. Only ``model_id``'s record is rebuilt here.
        """
        with self._merge_lock:
            merged = self._merged
            if merged is None or model_id not in merged.sources:
                return
            record = self._merge(*merged.sources[model_id])
            merged.models[merged.index[model_id]] = record
            merged.by_id[model_id] = record

    def get(self, model_id: str) -> Model | None:
        """The record of ``model_id`` (a ``:variant`` suffix falls back to the base id)."""
        records = self._records().by_id
        return records.get(model_id) or records.get(model_id.split(":", 1)[0])

    def lookup(self, model_id: str) -> Model | None:
        """The record of ``model_id``, or ``None`` when the listings cannot be read.

        Without listings (an older proxy, a service hiccup) the service decides, as it would; an
        unknown model or one that cannot output images is still refused here.
        """
        try:
            return self.require(model_id)
        except (NotFoundError, ModelCapabilityError):
            raise
        except ImageGenError as exc:
            log.debug("model check skipped, the listings are unusable: %s", exc)
            return None

    def require(self, model_id: str) -> Model:
        """The record of ``model_id``, or :class:`NotFoundError` naming close image models."""
        found = self.get(model_id)
        if found is not None:
            return found
        ids = [m.id for m in self.models()]
        self._raise_if_text_only(model_id, ids)
        suggestions = closest_ids(model_id, ids)
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        raise NotFoundError(f"unknown image model {model_id!r}.{hint} List image models with "
                            "client.models() or `jupyter-imagegen models`.",
                            suggestions=suggestions, code="model_not_found")

    def _raise_if_text_only(self, model_id: str, image_ids: list[str]) -> None:
        """A known model that outputs no images is a capability error naming image models."""
        try:
            everything = parse_models(self._fetch("models", {"output_modalities": "all"}),
                                      images_only=False)
        except ImageGenError:
            return
        info = next((m for m in everything if m.id in (model_id, model_id.split(":", 1)[0])), None)
        if info is not None and not info.outputs_images:
            alternatives = image_ids[:5]
            raise ModelCapabilityError(
                f"{model_id!r} cannot output images (its outputs: "
                f"{', '.join(info.output_modalities)}). Image-capable models: "
                f"{', '.join(alternatives) or 'none listed'}.", alternatives=alternatives)

    def record(self, info: ModelInfo) -> Model:
        """A :class:`Model` for any ``GET /models`` entry (a text model gets no image API)."""
        found = self.get(info.id) if info.outputs_images else None
        return found if found is not None else self._merge(info, None)

    def _merge(self, chat: ModelInfo | None, images: ImageModelInfo | None) -> Model:
        source = chat or images
        assert source is not None
        caps = self._caps(source.id, chat, images)
        with self._lock:
            billed = dict(self._billed.get(source.id, {}))
            tokens = dict(self._tokens.get(source.id, {}))
            lines = tuple(self._endpoints.get(source.id, ()))
        return Model(
            id=source.id, name=source.name, description=source.description,
            input_modalities=(chat or images).input_modalities,  # type: ignore[union-attr]
            output_modalities=(chat or images).output_modalities,  # type: ignore[union-attr]
            apis=caps, token_prices=dict(chat.pricing) if chat else {},
            price_lines=lines, billed=billed, learned_tokens=tokens,
            listed_in_images=images is not None, has_endpoints=source.id in self._endpoints,
        )

    def _caps(self, model_id: str, chat: ModelInfo | None,
              images: ImageModelInfo | None) -> dict[str, ApiCaps]:
        """Each API's capabilities, with what answers taught folded in.

        A refused API is dropped; an API that answered after a refusal with no listing about it
        is kept as "unknown" (the service decides); one whose endpoints lists none is unavailable.
        """
        with self._lock:
            refused = {api for (mid, api) in self._refused if mid == model_id}
            unavailable = {api for (mid, api) in self._unavailable if mid == model_id}
            served = self._served.get(model_id)
        caps: dict[str, ApiCaps] = {}
        if chat is not None and chat.outputs_images and "chat" not in refused:
            caps["chat"] = chat_caps(chat, images)
        if images is not None and "images" not in refused:
            caps["images"] = images_caps(images, False if "images" in unavailable else None)
        if served is not None and served not in caps:
            caps[served] = ApiCaps.unknown()
        for api in unavailable & set(caps):
            caps[api] = dataclasses.replace(caps[api], available=False)
        return caps

    # -- prices (lazy) --------------------------------------------------------------------------

    def quote(self, model: Model | None, order: Order, api: str | None = None, *,
              fetch: bool) -> Quote:
        """Price ``order`` on ``model``; ``fetch`` reads the endpoints record's price lines first."""
        if model is None:
            return Quote.unknown("the model was not checked: check_models=False", order.images)
        if fetch:
            model = self.with_prices(model)  # one endpoints request per model
        return model.quote(order, api)

    def editors(self, n: int = 5) -> list[str]:
        """Up to ``n`` models that take input images, for an error that names alternatives."""
        return [m.id for m in self.models() if m.accepts_images][:n]

    def with_prices(self, model: Model) -> Model:
        """``model`` with its Image API price lines, fetching the endpoints record once."""
        return self.with_endpoints(model)

    def with_endpoints(self, model: Model) -> Model:
        """``model`` with its endpoints record read (once): price lines, and whether any serves it.

        An unreadable record changes nothing (unknown stays unknown); a record listing no
        endpoint marks the Image API unavailable, so the next request is refused before sending.
        """
        if not model.listed_in_images or model.has_endpoints:
            return model
        author, _, slug = model.id.partition("/")
        try:
            record = parse_endpoint_record(
                self._fetch(f"images/models/{author}/{slug}/endpoints", None))
        except ImageGenError as exc:
            log.debug("no endpoints record for %s: %s", model.id, exc)
            lines, count = [], None
        else:
            lines, count = list(record.lines), record.endpoints
        with self._lock:
            self._endpoints[model.id] = lines
            if count == 0:
                self._unavailable.add((model.id, "images"))
        self._refresh(model.id)
        return self.get(model.id) or model

    def models_with_prices(self, models: Iterable[Model] | None = None, *,
                           workers: int = 8) -> list[Model]:
        """``models`` (default: every model) with their price lines, in the same order.

        The service has no bulk price listing: each model's endpoints record is its own request,
        so they are fetched in parallel (``workers`` at a time) and cached for the next caller.
        """
        from concurrent.futures import ThreadPoolExecutor

        chosen = self.models() if models is None else list(models)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(self.with_prices, chosen))

    # -- what answers taught --------------------------------------------------------------------

    def learn_refused(self, model_id: str, api: str, *, served: str | None = None) -> None:
        """The service refused ``model_id`` on ``api`` as the wrong route: route elsewhere.

        ``served`` is the API that then answered: a later request goes straight there, even
        when no listing knows the model (the listings unreadable, or a model newer than them).
        """
        with self._lock:
            self._refused.add((model_id, api))
            if served is not None:
                self._served[model_id] = served
        self._refresh(model_id)

    def route_for(self, model_id: str) -> str | None:
        """The API that served ``model_id`` after the other refused it, if one did."""
        with self._lock:
            return self._served.get(model_id)

    def learn_unavailable(self, model_id: str, api: str = "images") -> None:
        """The service said no endpoint serves ``model_id`` on ``api`` (``no_endpoints``)."""
        with self._lock:
            self._unavailable.add((model_id, api))
        self._refresh(model_id)

    def learn_billed(self, model_id: str, cost: float | None, images: int,
                     image_tokens: int = 0, order: Order | None = None) -> None:
        """Remember what a real answer billed per image (and its image tokens per image).

        Kept by shape (size tier or pixels, and quality): a 4K answer says nothing of a 1K price.
        """
        if images <= 0:
            return
        shape = shape_key(order or Order())
        with self._lock:
            billed, tokens = self._billed.setdefault(model_id, {}), self._tokens.setdefault(model_id, {})
            before = (billed.get(shape), tokens.get(shape))
            if cost is not None and cost > 0:
                billed[shape] = cost / images
            if image_tokens > 0:
                tokens[shape] = image_tokens // images
            changed = before != (billed.get(shape), tokens.get(shape))
        if changed:
            self._refresh(model_id)
