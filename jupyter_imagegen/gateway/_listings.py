"""The upstream's listings, fetched once and cached: what the gateway prices requests from.

``GET /models?output_modalities=image`` and ``GET /images/models`` are fetched whole; an endpoints
record (``GET /images/models/{author}/{slug}/endpoints``) is fetched for a model the first time a
request names it. Each listing has its own lock, so thirty parallel first requests send one
listing request, not thirty. Listings are public on OpenRouter (its docs' samples carry no key),
so the gateway asks for them without its key.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from .._exceptions import ImageGenError
from .._wire.listings import (
    EndpointsRecord,
    ImageModelInfo,
    ModelInfo,
    parse_endpoint_record,
    parse_image_models,
    parse_models,
)
from ._pricing import Listings

__all__ = ["PriceBook"]

_MAX_LISTING_BYTES = 64 * 1024 * 1024


class _Cached:
    def __init__(self) -> None:
        self.value: Any = None
        self.fetched: float | None = None
        self.lock = asyncio.Lock()


class PriceBook:
    """Cached, parsed listings of one upstream (``ttl`` seconds each)."""

    def __init__(self, client: httpx.AsyncClient, base_url: str, *, ttl: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self.ttl = ttl
        self._clock = clock
        self._chat = _Cached()
        self._images = _Cached()
        self._endpoints: dict[str, _Cached] = {}

    async def _json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        try:
            response = await self._client.get(f"{self._base}/{path}", params=params,
                                              headers={"Accept-Encoding": "identity"})
        except httpx.HTTPError as exc:
            raise ImageGenError(f"the upstream listing {path} could not be fetched "
                                f"({type(exc).__name__})") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200 or len(response.content) > _MAX_LISTING_BYTES:
            raise ImageGenError(f"the upstream listing {path} answered {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise ImageGenError(f"the upstream listing {path} is not JSON") from None

    async def _get(self, cached: _Cached, load: Callable[[], Any]) -> Any:
        async with cached.lock:
            now = self._clock()
            if cached.fetched is None or now - cached.fetched >= self.ttl:
                cached.value = await load()
                cached.fetched = self._clock()
            return cached.value

    async def chat(self) -> dict[str, ModelInfo]:
        """``GET /models?output_modalities=image`` by id."""
        async def load() -> dict[str, ModelInfo]:
            obj = await self._json("models", {"output_modalities": "image"})
            return {m.id: m for m in parse_models(obj or {"data": []})}
        result: dict[str, ModelInfo] = await self._get(self._chat, load)
        return result

    async def images(self) -> dict[str, ImageModelInfo]:
        """``GET /images/models`` by id (empty when the upstream has no Image API)."""
        async def load() -> dict[str, ImageModelInfo]:
            obj = await self._json("images/models")
            return {m.id: m for m in parse_image_models(obj)} if obj is not None else {}
        result: dict[str, ImageModelInfo] = await self._get(self._images, load)
        return result

    async def endpoints(self, model_id: str) -> EndpointsRecord | None:
        """The Image API endpoints record of ``model_id`` (``None``: the upstream has none)."""
        cached = self._endpoints.setdefault(model_id, _Cached())

        async def load() -> EndpointsRecord | None:
            obj = await self._json(f"images/models/{model_id}/endpoints")
            return parse_endpoint_record(obj) if obj is not None else None
        record: EndpointsRecord | None = await self._get(cached, load)
        return record

    async def listings(self, model_ids: list[str]) -> Listings:
        """What pricing ``model_ids`` needs, fetched or from the cache."""
        chat, images = await asyncio.gather(self.chat(), self.images())
        records: dict[str, EndpointsRecord] = {}
        for model_id in {m.split(":", 1)[0] for m in model_ids}:
            if model_id in images and "/" in model_id and ".." not in model_id:
                record = await self.endpoints(model_id)
                if record is not None:
                    records[model_id] = record
        return Listings(chat=chat, images=images, endpoints=records)
