"""Model discovery records: ``GET /models`` entries as typed values (pure, stdlib only)."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._exceptions import ResponseError

__all__ = ["ModelInfo", "closest_ids", "parse_models"]

#: Router pseudo-models that list ``image`` as an output but are not image models to pick.
EXCLUDED_IDS = frozenset({"openrouter/auto"})


def _strings(value: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    """A list of strings from the wire (anything else: ``default``)."""
    if not isinstance(value, list):
        return default
    return tuple(v for v in value if isinstance(v, str)) or default


def _price(value: Any) -> float | None:
    """Prices are decimal strings in USD per unit; ``"-1"`` or junk mean unknown."""
    if isinstance(value, str):
        value = value[:40]
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


@dataclass(frozen=True)
class ModelInfo:
    """One model from ``GET /models``, with the fields an image user needs."""

    id: str
    name: str
    description: str = ""
    input_modalities: tuple[str, ...] = ("text",)
    output_modalities: tuple[str, ...] = ("text",)
    pricing: Mapping[str, float | None] = field(default_factory=dict)
    supported_parameters: tuple[str, ...] = ()
    context_length: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def outputs_images(self) -> bool:
        """True when the model lists ``image`` in ``architecture.output_modalities``."""
        return "image" in self.output_modalities

    @property
    def accepts_images(self) -> bool:
        """True when the model takes input images (editing, references)."""
        return "image" in self.input_modalities

    @property
    def image_only(self) -> bool:
        """True for models that output images but no text (they need ``modalities: ["image"]``)."""
        return self.outputs_images and "text" not in self.output_modalities

    @property
    def price_per_image(self) -> float | None:
        """USD per output image when the listing says so (the spec's ``pricing.image_output``).

        Real ``/models`` listings leave that key out for every image model, so this is usually
        ``None``: :meth:`Model.price` (``client.price(model)``) knows where the real prices are.
        """
        return self.pricing.get("image_output")

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ModelInfo:
        """Read one model object leniently (older listings lack newer fields)."""
        arch = obj.get("architecture")
        arch = arch if isinstance(arch, Mapping) else {}
        pricing = obj.get("pricing")
        pricing = pricing if isinstance(pricing, Mapping) else {}
        params = obj.get("supported_parameters")
        context = obj.get("context_length")
        return cls(
            id=str(obj.get("id", ""))[:200],
            name=str(obj.get("name") or obj.get("id", ""))[:200],
            description=str(obj.get("description") or "")[:5000],
            input_modalities=_strings(arch.get("input_modalities"), ("text",)),
            output_modalities=_strings(arch.get("output_modalities"), ("text",)),
            pricing={str(k): _price(v) for k, v in pricing.items() if not isinstance(v, (list, dict))},
            supported_parameters=_strings(params, ()),
            context_length=context if isinstance(context, int) and 0 <= context < 10**12 else None,
            raw=dict(obj),
        )


def parse_models(obj: Any, *, images_only: bool = True) -> list[ModelInfo]:
    """Parse a ``{"data": [...]}`` listing; by default keep image-capable models only."""
    data = obj.get("data") if isinstance(obj, Mapping) else None
    if not isinstance(data, list):
        raise ResponseError("the model listing has no 'data' list")
    models = [ModelInfo.from_json(m) for m in data if isinstance(m, Mapping) and m.get("id")]
    if images_only:
        models = [m for m in models if m.outputs_images and m.id not in EXCLUDED_IDS]
    return models


def closest_ids(wanted: str, ids: Iterable[str], n: int = 3) -> list[str]:
    """The ids closest to ``wanted`` (for 'did you mean'), matching with or without the author."""
    ids = [i for i in ids if i not in EXCLUDED_IDS]
    by_slug = {i.rsplit("/", 1)[-1]: i for i in ids}
    found = difflib.get_close_matches(wanted, ids, n=n, cutoff=0.5)
    for slug in difflib.get_close_matches(wanted.rsplit("/", 1)[-1], list(by_slug), n=n, cutoff=0.5):
        if by_slug[slug] not in found:
            found.append(by_slug[slug])
    return found[:n]
