"""The chat-side catalogue (``GET /models``), built from the package data.

Real entries are served exactly as recorded (string prices, pricing keys, modality strings,
``canonical_slug``, ``hugging_face_id``, context sizes, ``supported_parameters``); only the
description gains a note that an offline renderer stands in for the model. The ``offline/*``
entries are this project's own, shaped the same way, with simulated prices. Image costs follow the
Image API price lines recorded for each model (see :mod:`._pricing`); no entry carries
``pricing.image_output``, because no real image model does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ._data import catalogue_data, price_lines_for
from ._pricing import charge

if TYPE_CHECKING:
    from jupyter_imagegen._wire.prices import Order

__all__ = ["ModelSpec", "build_catalogue", "filter_models", "model_json"]

#: One fixed creation time (2026-11-01 UTC) for the offline entries, so listings are reproducible.
_CREATED = 1793491200
_ALL_SIZES = ("0.5K", "1K", "2K", "4K")
_HONEST = (
    " Procedural offline renderer, not a neural model: it draws the animals, objects, colours, "
    "times of day and moods named in the prompt from a small vocabulary "
    "(jupyter_imagegen.server.vocabulary()) and writes the prompt on the image. Prices are "
    "simulated; nothing is charged."
)
_STAND_IN = (" [Offline stand-in: jupyter-imagegen's local server draws this model with a "
             "procedural renderer, not the real model; prices are simulated from the real listing.]")
_TIER = {"512": "0.5K", "1K": "1K", "2K": "2K", "4K": "4K"}
_REAL_ROUTE = "google/gemini-2.5-flash-image"  # where the router goes when no offline id is served


@dataclass(frozen=True)
class ModelSpec:
    """One served chat model: what it accepts and returns, its listing entry and price lines."""

    id: str
    name: str
    description: str
    inputs: tuple[str, ...] = ("text",)
    outputs: tuple[str, ...] = ("image", "text")
    mime: str = "image/png"
    images: int = 1
    reasoning: bool = False
    image_sizes: tuple[str, ...] = _ALL_SIZES
    prompt_price: str = "0.0000003"
    completion_price: str = "0.0000025"
    price_lines: tuple[dict[str, Any], ...] = field(default=(), compare=False)
    style: str = "photo"
    ratios: tuple[str, ...] = ()  # the Image API listing's ratios (extended ones accepted on chat)
    chat: bool = True  # False: listed, but only the Image API serves it
    route_to: str | None = None  # routers resolve to another model
    entry: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def makes_images(self) -> bool:
        """True when the model lists ``image`` among its outputs."""
        return "image" in self.outputs

    @property
    def image_only(self) -> bool:
        """True for models that output images but never text."""
        return self.makes_images and "text" not in self.outputs

    @property
    def accepts_images(self) -> bool:
        """True when input images (edits, references) are allowed."""
        return "image" in self.inputs

    @property
    def parameters(self) -> list[str]:
        """``supported_parameters`` as listed."""
        if self.entry is not None:
            return list(self.entry.get("supported_parameters") or [])
        params = ["max_tokens", "seed", "stop", "temperature", "top_p"]
        return params + (["include_reasoning", "reasoning"] if self.reasoning else [])

    def cost(self, prompt_tokens: int, text_tokens: int, order: Order,
             tokens_per_image: int) -> tuple[float, float]:
        """Simulated ``(prompt_cost, completion_cost)`` in USD for one generation.

        Text at the listing's per-token prices, the images (and inputs) by the shared price model.
        """
        if self.prompt_price.startswith("-"):  # a router: priced by the model it routes to
            return 0.0, 0.0
        prompt = prompt_tokens * float(self.prompt_price)
        pictures = charge(self.price_lines, order, tokens_per_image)
        completion = text_tokens * float(self.completion_price) + pictures
        return round(prompt, 10), round(completion, 10)


def _offline(item: Mapping[str, Any]) -> ModelSpec:
    outputs = tuple(item["output_modalities"])
    return ModelSpec(
        id=item["id"], name=item["name"], description=item["description"],
        inputs=tuple(item["input_modalities"]), outputs=outputs, mime=item["mime"],
        images=item["images"], reasoning=item["reasoning"],
        prompt_price=item["pricing"]["prompt"], completion_price=item["pricing"]["completion"],
        price_lines=tuple(item["price_lines"]), style=item["style"])


def _real(entry: Mapping[str, Any], data: Mapping[str, Any]) -> ModelSpec:
    model_id = entry["id"]
    arch = entry["architecture"]
    listing = next((m for m in data["image_models"] if m["id"] == model_id), None)
    params = (listing or {}).get("supported_parameters", {})
    tiers = params.get("resolution", {}).get("values")
    author = model_id.split("/", 1)[0]
    return ModelSpec(
        id=model_id, name=entry["name"], description=entry["description"] + _STAND_IN,
        inputs=tuple(arch["input_modalities"]), outputs=tuple(arch["output_modalities"]),
        reasoning="reasoning" in (entry.get("supported_parameters") or []),
        image_sizes=tuple(_TIER[t] for t in tiers if t in _TIER) if tiers else ("1K",),
        prompt_price=entry["pricing"]["prompt"], completion_price=entry["pricing"]["completion"],
        price_lines=tuple(price_lines_for(model_id)),
        style=data["stand_in_styles"].get(author, "photo"),
        ratios=tuple(params.get("aspect_ratio", {}).get("values", ())),
        chat=model_id not in data["image_api_only"],
        route_to="offline/sketch" if model_id == "openrouter/auto" else None,
        entry={**entry, "description": entry["description"] + _STAND_IN})


def build_catalogue(aliases: bool = True, offline: bool = True) -> dict[str, ModelSpec]:
    """The served chat models by id: offline ones, then the recorded real entries (stand-ins).

    Without ``aliases`` only the offline models and the router are served. Without ``offline``
    only real ids are (the router then routes to a real one): a notebook that runs against such
    a server uses no ``offline/*`` id, so it runs unchanged on OpenRouter.
    """
    data = catalogue_data()
    specs = [_offline(item) for item in data["offline"]] if offline else []
    specs += [_real(entry, data) for entry in data["models"]
              if aliases or entry["id"] == "openrouter/auto"]
    if not offline:
        specs = [replace(s, route_to=_REAL_ROUTE) if s.route_to else s for s in specs]
    return {spec.id: spec for spec in specs}


def model_json(spec: ModelSpec) -> dict[str, Any]:
    """One model object in OpenRouter's ``Model`` shape (prices as decimal strings)."""
    if spec.entry is not None:
        return dict(spec.entry)
    pricing: dict[str, str] = {"prompt": spec.prompt_price, "completion": spec.completion_price}
    if spec.accepts_images:
        pricing["image"] = spec.prompt_price
    if spec.reasoning:
        pricing["internal_reasoning"] = spec.completion_price
    return {
        "id": spec.id, "canonical_slug": spec.id, "hugging_face_id": None, "name": spec.name,
        "created": _CREATED, "description": spec.description, "context_length": 32768,
        "architecture": {
            "modality": f"{'+'.join(spec.inputs)}->{'+'.join(spec.outputs)}",
            "input_modalities": list(spec.inputs), "output_modalities": list(spec.outputs),
            "tokenizer": "Other", "instruct_type": None,
        },
        "pricing": pricing,
        "top_provider": {"context_length": 32768, "max_completion_tokens": 8192,
                         "is_moderated": False},
        "per_request_limits": None,
        "supported_parameters": spec.parameters,
        "default_parameters": {"temperature": None, "top_p": None, "top_k": None,
                               "frequency_penalty": None, "presence_penalty": None,
                               "repetition_penalty": None},
        "supported_voices": None, "knowledge_cutoff": None, "expiration_date": None,
        "links": {"details": f"/api/v1/models/{spec.id}/endpoints"},
    }


def _wanted(value: str | None) -> set[str] | None:
    if value is None or value.strip() == "all":
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def filter_models(specs: Iterable[ModelSpec], query: Mapping[str, str]) -> list[ModelSpec]:
    """Apply the service's listing filters.

    ``output_modalities`` defaults to ``text`` (so image-only models are absent), accepts a
    comma-separated list matching any listed modality, or ``all``; ``input_modalities`` and
    ``supported_parameters`` keep models that have every listed value.
    """
    outputs = _wanted(query.get("output_modalities", "text"))
    inputs = _wanted(query.get("input_modalities"))
    params = _wanted(query.get("supported_parameters"))
    found = []
    for spec in specs:
        if outputs is not None and not outputs & set(spec.outputs):
            continue
        if inputs is not None and not inputs <= set(spec.inputs):
            continue
        if params is not None and not params <= set(spec.parameters):
            continue
        found.append(spec)
    return found
