"""The offline model catalogue and its ``GET /models`` JSON.

Every model here is served by the same procedural Pillow renderer; the entries differ in what they
accept and return (image-only, several images, JPEG/WebP, reasoning, edits, text-only) so that
clients meet each shape the real service produces. Prices are simulated: nothing is ever charged,
but ``usage.cost`` is computed from them so spend accounting can be exercised offline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ModelSpec", "build_catalogue", "filter_models", "model_json"]

#: One fixed creation time (2026-11-01 UTC) so listings are reproducible.
_CREATED = 1793491200
_ALL_SIZES = ("0.5K", "1K", "2K", "4K")
_HONEST = (
    " Procedural offline renderer, not a neural model: it draws the colours, shapes and counts "
    "named in the prompt and writes the prompt on the image. Prices are simulated; nothing is "
    "charged."
)
_STAND_IN = " Offline stand-in served by jupyter-imagegen's local server, not the real model."


@dataclass(frozen=True)
class ModelSpec:
    """What one offline model accepts and returns, and its simulated prices (USD per unit)."""

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
    image_price: str = "0.039"
    tokenizer: str = "Other"
    route_to: str | None = None  # routers resolve to another model

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

    def cost(self, prompt_tokens: int, text_tokens: int, images: int) -> tuple[float, float]:
        """Simulated ``(prompt_cost, completion_cost)`` in USD for one generation."""
        prompt = prompt_tokens * float(self.prompt_price)
        completion = text_tokens * float(self.completion_price) + images * float(self.image_price)
        return round(prompt, 10), round(completion, 10)


def _offline() -> list[ModelSpec]:
    both = ("image", "text")
    return [
        ModelSpec("offline/sketch", "Offline: Sketch",
                  "Default offline model: a short text reply plus one PNG image. Accepts input "
                  "images as a base." + _HONEST, inputs=("text", "image")),
        ModelSpec("offline/poster", "Offline: Poster",
                  "Image-only offline model (send modalities [\"image\"]): one PNG, empty text."
                  + _HONEST, outputs=("image",), completion_price="0", image_price="0.04"),
        ModelSpec("offline/quartet", "Offline: Quartet",
                  "Returns four variations of the prompt in one response." + _HONEST,
                  outputs=both, images=4, image_price="0.01"),
        ModelSpec("offline/editor", "Offline: Editor",
                  "Edits input images: the first input is resized to the target size, tinted by "
                  "the prompt's colour words and drawn over with its shapes." + _HONEST,
                  inputs=("text", "image"), outputs=both),
        ModelSpec("offline/photo", "Offline: Photo (JPEG)",
                  "Returns one JPEG image (data:image/jpeg)." + _HONEST, outputs=both,
                  mime="image/jpeg"),
        ModelSpec("offline/webp", "Offline: WebP",
                  "Returns one WebP image (data:image/webp)." + _HONEST, outputs=both,
                  mime="image/webp"),
        ModelSpec("offline/thinker", "Offline: Thinker (reasoning)",
                  "Reasoning model: returns message.reasoning and streams reasoning deltas "
                  "before the image." + _HONEST, outputs=both, reasoning=True),
        ModelSpec("offline/chat", "Offline: Chat (text only)",
                  "Text-only offline model: it cannot output images (useful to see the errors "
                  "for that). Prices are simulated.", outputs=("text",), image_price="0"),
    ]


def _aliases() -> list[ModelSpec]:
    return [
        ModelSpec("google/gemini-2.5-flash-image", "Google: Gemini 2.5 Flash Image (offline)",
                  "Gemini 2.5 Flash Image (\"Nano Banana\")." + _STAND_IN + _HONEST,
                  inputs=("image", "text"), image_sizes=("1K",), tokenizer="Gemini"),
        ModelSpec("google/gemini-3-pro-image-preview",
                  "Google: Gemini 3 Pro Image Preview (offline)",
                  "Gemini 3 Pro Image, a reasoning image model with 1K/2K/4K output."
                  + _STAND_IN + _HONEST, inputs=("image", "text"), reasoning=True,
                  image_sizes=("1K", "2K", "4K"), prompt_price="0.000002",
                  completion_price="0.000012", image_price="0.134", tokenizer="Gemini"),
        ModelSpec("black-forest-labs/flux.2-pro", "Black Forest Labs: FLUX.2 [pro] (offline)",
                  "FLUX.2 [pro], image-only (send modalities [\"image\"])."
                  + _STAND_IN + _HONEST, inputs=("text", "image"), outputs=("image",),
                  image_sizes=("1K", "2K"), prompt_price="0", completion_price="0",
                  image_price="0.03"),
    ]


_AUTO = ModelSpec(
    "openrouter/auto", "Auto Router (offline)",
    "Router pseudo-model: routes to offline/sketch here. It lists image among its outputs, but "
    "it is not an image model to pick." + _STAND_IN,
    inputs=("text", "image"), outputs=("text", "image"), prompt_price="-1",
    completion_price="-1", image_price="-1", tokenizer="Router", route_to="offline/sketch",
)


def build_catalogue(aliases: bool = True) -> dict[str, ModelSpec]:
    """The served models by id: offline ones, the router, and (optionally) real-id stand-ins."""
    specs = _offline() + (_aliases() if aliases else []) + [_AUTO]
    return {spec.id: spec for spec in specs}


def _parameters(spec: ModelSpec) -> list[str]:
    params = ["max_tokens", "seed", "temperature", "top_p", "stop"]
    if spec.reasoning:
        params += ["reasoning", "include_reasoning"]
    return params


def model_json(spec: ModelSpec) -> dict[str, Any]:
    """One model object in OpenRouter's ``Model`` shape (prices as decimal strings)."""
    author, _, slug = spec.id.partition("/")
    pricing: dict[str, str] = {"prompt": spec.prompt_price, "completion": spec.completion_price}
    if spec.makes_images:
        pricing["image_output"] = spec.image_price
    if spec.accepts_images:
        pricing["image"] = "0" if spec.prompt_price == "-1" else "0.0000003"
    if spec.reasoning:
        pricing["internal_reasoning"] = spec.completion_price
    return {
        "id": spec.id,
        "canonical_slug": spec.id,
        "hugging_face_id": None,
        "name": spec.name,
        "created": _CREATED,
        "description": spec.description,
        "context_length": 32768,
        "architecture": {
            "modality": f"{'+'.join(spec.inputs)}->{'+'.join(spec.outputs)}",
            "input_modalities": list(spec.inputs),
            "output_modalities": list(spec.outputs),
            "tokenizer": spec.tokenizer,
            "instruct_type": None,
        },
        "pricing": pricing,
        "top_provider": {"context_length": 32768, "max_completion_tokens": 8192,
                         "is_moderated": False},
        "per_request_limits": None,
        "supported_parameters": _parameters(spec),
        "default_parameters": {"temperature": None, "top_p": None, "frequency_penalty": None},
        "supported_voices": None,
        "expiration_date": None,
        "links": {"details": f"/api/v1/models/{author}/{slug}/endpoints"},
    }


def _wanted(value: str | None) -> set[str] | None:
    if value is None or value.strip() == "all":
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def filter_models(
    specs: Iterable[ModelSpec], query: Mapping[str, str]
) -> list[ModelSpec]:
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
        if params is not None and not params <= set(_parameters(spec)):
            continue
        found.append(spec)
    return found
