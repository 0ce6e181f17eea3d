"""The Image API catalogue (``GET /images/models`` and its endpoints records), from package data.

Real entries are the recorded listing entries (typed ``supported_parameters``:
``enum``/``range``/``boolean``; an absent key means unsupported) with their recorded endpoints
records and price lines; each is drawn by an offline renderer, and says so in its description.
``supports_streaming`` is as recorded: true only for OpenAI models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._chat_catalog import _CREATED, _STAND_IN
from ._data import catalogue_data, image_endpoints_record

__all__ = ["ALL_RATIOS", "PROVIDER_SLUG", "ImageApiModel", "build_image_catalogue"]

PROVIDER_NAME = "jupyter-imagegen offline"
PROVIDER_SLUG = "jupyter-imagegen"
#: Every ratio the Image API documents (``ImageGenerationRequest.aspect_ratio``).
ALL_RATIOS = ("1:1", "1:2", "1:4", "1:8", "2:1", "2:3", "3:2", "3:4", "4:1", "4:3", "4:5", "5:4",
              "8:1", "9:16", "16:9", "9:19.5", "19.5:9", "9:20", "20:9", "9:21", "21:9", "auto")


#: The price line of real models with no recorded endpoints record and no sibling (Krea):
#: simulated, served under the offline provider's name.
_SIMULATED = ({"billable": "output_image", "cost_usd": 0.04, "unit": "image"},)


def _values(params: Mapping[str, Any], name: str) -> tuple[str, ...]:
    return tuple(params.get(name, {}).get("values", ()))


def _max(params: Mapping[str, Any], name: str, default: int) -> int:
    return int(params[name]["max"]) if name in params else default


@dataclass(frozen=True)
class ImageApiModel:
    """What ``POST /images`` accepts for one model, and how it is billed (simulated).

    ``params`` is the listing's ``supported_parameters``; the properties read it, so the listing
    and the validator cannot disagree.
    """

    id: str
    name: str
    description: str
    params: dict[str, Any] = field(compare=False)
    inputs: tuple[str, ...] = ("text",)
    outputs: tuple[str, ...] = ("image",)
    streaming: bool = False
    default_format: str = "png"
    style: str = "photo"
    partials: int = 2
    created: int = _CREATED
    price_lines: tuple[dict[str, Any], ...] = field(default=(), compare=False)
    endpoints: tuple[dict[str, Any], ...] = field(default=(), compare=False)
    served: bool = True  # False: its recorded endpoints record lists no endpoint (meta/muse-image)

    @property
    def aspect_ratios(self) -> tuple[str, ...]:
        """Advertised ratios (empty: the model takes no ``aspect_ratio``)."""
        return _values(self.params, "aspect_ratio")

    @property
    def resolutions(self) -> tuple[str, ...]:
        """Advertised tiers (empty: not a parameter; the model draws ~1K)."""
        return _values(self.params, "resolution")

    @property
    def output_formats(self) -> tuple[str, ...]:
        """Selectable formats (empty: only the provider's default)."""
        return _values(self.params, "output_format")

    @property
    def qualities(self) -> tuple[str, ...]:
        """Advertised ``quality`` values."""
        return _values(self.params, "quality")

    @property
    def backgrounds(self) -> tuple[str, ...]:
        """Advertised ``background`` values."""
        return _values(self.params, "background")

    @property
    def max_n(self) -> int:
        """Upper bound of ``n`` (1 when ``n`` is not listed)."""
        return _max(self.params, "n", 1)

    @property
    def max_references(self) -> int:
        """Upper bound of ``input_references`` (0 when not listed)."""
        return _max(self.params, "input_references", 0)

    @property
    def min_references(self) -> int:
        """Lower bound of ``input_references`` (a style model needs one; 0 when not listed)."""
        refs = self.params.get("input_references")
        return int(refs.get("min") or 0) if isinstance(refs, dict) else 0

    @property
    def seed(self) -> bool:
        """Whether ``seed`` is honoured."""
        return "seed" in self.params

    @property
    def default_resolution(self) -> str:
        """``1K`` when offered (or not a parameter), else the first tier."""
        tiers = self.resolutions
        return "1K" if not tiers or "1K" in tiers else tiers[0]

    def supported_parameters(self) -> dict[str, Any]:
        """The capability descriptors, as listed."""
        return dict(self.params)

    def listing_json(self) -> dict[str, Any]:
        """One entry of ``GET /images/models``."""
        return {
            "architecture": {"input_modalities": list(self.inputs),
                             "output_modalities": list(self.outputs)},
            "created": self.created, "description": self.description,
            "endpoints": f"/api/v1/images/models/{self.id}/endpoints", "id": self.id,
            "name": self.name, "supported_parameters": self.supported_parameters(),
            "supports_streaming": self.streaming,
        }

    def endpoint_json(self) -> dict[str, Any]:
        """The ``GET /images/models/{id}/endpoints`` body: ``{endpoints: [...], id}``."""
        if not self.served:
            return {"endpoints": [], "id": self.id}
        endpoints = list(self.endpoints) or [{
            "allowed_passthrough_parameters": [], "pricing": list(self.price_lines),
            "provider_name": PROVIDER_NAME, "provider_slug": PROVIDER_SLUG,
            "provider_tag": PROVIDER_SLUG, "supported_parameters": self.supported_parameters(),
            "supports_streaming": self.streaming}]
        return {"endpoints": endpoints, "id": self.id}


def _offline(item: Mapping[str, Any]) -> ImageApiModel:
    api = item["image_api"]
    return ImageApiModel(
        id=item["id"], name=item["name"], description=item["description"],
        params=api["supported_parameters"], inputs=tuple(item["input_modalities"]),
        streaming=api["supports_streaming"], default_format=api["default_format"],
        style=item["style"], partials=api["partials"], price_lines=tuple(item["price_lines"]))


def _default_format(model_id: str, params: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    formats = _values(params, "output_format")
    if len(formats) == 1:
        return formats[0]
    return str(data["default_formats"].get(model_id.split("/", 1)[0], "png"))


def _real(entry: Mapping[str, Any], data: Mapping[str, Any]) -> ImageApiModel:
    model_id = entry["id"]
    record = image_endpoints_record(model_id)
    endpoints = tuple(record["endpoints"]) if record else ()
    served = record is None or bool(endpoints)
    params = entry["supported_parameters"]
    return ImageApiModel(
        id=model_id, name=entry["name"], description=entry["description"] + _STAND_IN,
        params=params, inputs=tuple(entry["architecture"]["input_modalities"]),
        outputs=tuple(entry["architecture"]["output_modalities"]),
        streaming=entry["supports_streaming"], default_format=_default_format(model_id, params, data),
        style=data["stand_in_styles"].get(model_id.split("/", 1)[0], "photo"),
        created=entry["created"] if entry["created"] is not None else _CREATED,
        endpoints=endpoints, served=served,
        price_lines=tuple(endpoints[0]["pricing"]) if endpoints else (_SIMULATED if served else ()))


def build_image_catalogue(aliases: bool = True, offline: bool = True) -> dict[str, ImageApiModel]:
    """The Image API models by id: the offline ones and the recorded real ones (each optional)."""
    data = catalogue_data()
    specs = [_offline(item) for item in data["offline"] if item.get("image_api") and offline]
    if aliases:
        specs += [_real(entry, data) for entry in data["image_models"]]
        # listing entries built from recorded endpoints records (data/README.md says which fields)
        specs += [_real(entry, data) for entry in data["image_models_from_records"]]
    return {spec.id: spec for spec in specs}
