"""The Image API's model discovery, parsed: ``GET /images/models`` and per-model endpoints.

``/images/models`` gives typed descriptors per parameter (``{"type": "enum", "values"}``,
``{"type": "range", "min", "max"}``, ``{"type": "boolean"}``) and ``supports_streaming``;
``/images/models/{author}/{slug}/endpoints`` gives, per provider, the billable pricing lines
(``{"billable": "output_image", "unit": "image" | "megapixel" | "token", "cost_usd", "variant"?}``).
Sources: OpenRouterTeam/docs ``openapi/openapi.yaml`` at c26125a5 (``ImageModelListItem``,
``ImageModelEndpointsResponse``, ``ImageEndpoint``, ``ImagePricingEntry``, as generated into the
``openrouter`` 1.3.84 Python SDK's components) and the real listings summarised in
openrouter-changes-2026.md. Pure, stdlib only.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._exceptions import ResponseError
from .common import as_float, as_str, created_of

__all__ = [
    "EndpointsRecord", "ImageModelInfo", "ImageParameter", "ModelInfo", "PriceLine", "closest_ids",
    "parse_endpoint_record", "parse_endpoints", "parse_image_models", "parse_models",
]


# -- GET /models entries ---------------------------------------------------------------------------

# Model discovery records: ``GET /models`` entries as typed values (pure, stdlib only).

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
    """The ids closest to ``wanted`` (for 'did you mean'), matching with or without the author.

    First the ids that contain what was typed (``gemini``, ``flux``), then near spellings of the
    whole id (``offline/skech``), then of the name alone, which must be much closer: two short
    names share letters by chance (``nothing`` and ``thinker``), and an unrelated suggestion is
    worse than none.
    """
    ids = [i for i in ids if i not in EXCLUDED_IDS]
    typed = wanted.strip().lower()
    slug = typed.rsplit("/", 1)[-1]
    found = [i for i in ids if len(slug) >= 3 and slug in i.lower()] if typed else []
    found += difflib.get_close_matches(wanted, ids, n=n, cutoff=0.6)
    by_slug = {i.rsplit("/", 1)[-1].lower(): i for i in ids}
    found += [by_slug[s] for s in difflib.get_close_matches(slug, list(by_slug), n=n, cutoff=0.75)]
    return list(dict.fromkeys(found))[:n]


# -- GET /images/models descriptors and endpoints price lines --------------------------------------

@dataclass(frozen=True)
class ImageParameter:
    """One capability descriptor: ``enum`` (``values``), ``range`` (``min``/``max``) or ``boolean``."""

    name: str
    type: str
    values: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None

    @classmethod
    def from_json(cls, name: str, obj: Any) -> ImageParameter:
        """Read a descriptor leniently (a bare list is an enum, ``true`` a boolean)."""
        if isinstance(obj, list):
            return cls(name, "enum", tuple(str(v) for v in obj))
        if not isinstance(obj, Mapping):
            return cls(name, "boolean")
        kind = str(obj.get("type") or ("enum" if "values" in obj else
                                       "range" if "min" in obj or "max" in obj else "boolean"))
        values = obj.get("values")
        low, high = obj.get("min"), obj.get("max")
        return cls(
            name, kind,
            tuple(str(v) for v in values) if isinstance(values, list) else (),
            _bound(low),
            _bound(high),
        )

    def allows(self, value: Any) -> bool:
        """Whether ``value`` is acceptable for this parameter.

        ``enum`` values are strings on the wire (``"512"`` is a resolution), so a number is held
        to its spelling; ``boolean`` is "a supported-or-not flag: present means accepted" (the
        spec's ``BooleanCapability``), so any value passes, as does a type the kit does not know
        (the service decides what it never described).
        """
        if self.type == "enum":
            return not isinstance(value, bool) and str(value) in self.values
        if self.type == "range":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return False
            return (self.min is None or value >= self.min) and (
                self.max is None or value <= self.max)
        return True

    def describe(self) -> str:
        """The accepted values, for error messages (``1:1, 16:9`` or ``1-4``)."""
        if self.type == "enum":
            return ", ".join(self.values)
        if self.type == "range":
            return f"{'' if self.min is None else self.min}-{'' if self.max is None else self.max}"
        return "supported"


def _bound(value: Any) -> int | None:
    number = as_float(value)
    return int(number) if number is not None and number < 10**6 else None


def _tuple(value: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else default


def _parameters(obj: Any) -> dict[str, ImageParameter]:
    if not isinstance(obj, Mapping):
        return {}
    return {str(k): ImageParameter.from_json(str(k), v) for k, v in obj.items()}


@dataclass(frozen=True)
class ImageModelInfo:
    """One model of ``GET /images/models``, with accessors for what a request may ask."""

    id: str
    name: str
    description: str = ""
    created: int | None = None
    input_modalities: tuple[str, ...] = ("text",)
    output_modalities: tuple[str, ...] = ("image",)
    supported_parameters: Mapping[str, ImageParameter] = field(default_factory=dict)
    supports_streaming: bool = False
    endpoints: str | tuple[Mapping[str, Any], ...] | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def parameter(self, name: str) -> ImageParameter | None:
        """The descriptor of ``name``, or ``None`` when the model does not support it."""
        return self.supported_parameters.get(name)

    def supports(self, name: str) -> bool:
        """Whether the request field ``name`` is supported (an absent key means no)."""
        return name in self.supported_parameters

    def _enum(self, name: str) -> tuple[str, ...]:
        param = self.supported_parameters.get(name)
        return param.values if param is not None and param.type == "enum" else ()

    def _range_max(self, name: str, absent: int) -> int:
        param = self.supported_parameters.get(name)
        return param.max if param is not None and param.max is not None else absent

    @property
    def aspect_ratios(self) -> tuple[str, ...]:
        """Accepted ``aspect_ratio`` values (empty: not selectable)."""
        return self._enum("aspect_ratio")

    @property
    def resolutions(self) -> tuple[str, ...]:
        """Accepted ``resolution`` tiers."""
        return self._enum("resolution")

    @property
    def output_formats(self) -> tuple[str, ...]:
        """Accepted ``output_format`` values."""
        return self._enum("output_format")

    @property
    def sizes(self) -> tuple[str, ...]:
        """Accepted ``size`` values when the model lists them."""
        return self._enum("size")

    @property
    def qualities(self) -> tuple[str, ...]:
        """Accepted ``quality`` values."""
        return self._enum("quality")

    @property
    def backgrounds(self) -> tuple[str, ...]:
        """Accepted ``background`` values."""
        return self._enum("background")

    @property
    def max_n(self) -> int:
        """The most images one request may ask for (1 when ``n`` is not listed)."""
        return self._range_max("n", 1)

    @property
    def max_input_references(self) -> int:
        """The most ``input_references`` accepted (0 when not listed)."""
        return self._range_max("input_references", 0)

    @property
    def min_input_references(self) -> int:
        """The fewest ``input_references`` a request must carry (a style model needs one)."""
        param = self.supported_parameters.get("input_references")
        return max(0, param.min) if param is not None and param.min is not None else 0

    @property
    def available(self) -> bool | None:
        """``False`` when the entry embeds ``endpoints: []`` (no provider serves it); else unknown.

        The listing normally holds the endpoints *URL*; an embedded empty list, like an endpoints
        record with no endpoints (recorded for meta/muse-image, rbb-dev/Open-WebUI-OpenRouter-pipe
        @25465782: tests/fixtures/openrouter_image_endpoints_meta_muse-image.json), means no
        endpoint would take a request.
        """
        return False if self.endpoints == () else None

    @property
    def supports_seed(self) -> bool:
        """Whether ``seed`` is honoured."""
        return "seed" in self.supported_parameters

    @property
    def accepts_images(self) -> bool:
        """Whether reference images can be sent."""
        return self.max_input_references > 0 or "image" in self.input_modalities

    def check(self, params: Mapping[str, Any]) -> list[str]:
        """Problems with request fields ``params`` (``None`` values skipped); empty when fine.

        The descriptors are read whole: ``input_references`` against both its ``min`` and
        ``max``, every other field against its own descriptor, and a field the model does not
        declare is a problem (an absent key means unsupported), except ``n=1``, the default.
        """
        problems: list[str] = []
        for name, value in params.items():
            if value is None or name in ("model", "prompt", "provider", "stream"):
                continue
            if name == "input_references":
                count = len(value) if isinstance(value, (list, tuple)) else 1
                problems += self._references_problem(count)
                continue
            param = self.supported_parameters.get(name)
            if param is None:
                if not (name == "n" and value == 1):
                    problems.append(f"{self.id} does not support {name!r} (its parameters: "
                                    f"{', '.join(sorted(self.supported_parameters)) or 'none'})")
            elif not param.allows(value):
                problems.append(f"{self.id} does not accept {name}={value!r}; valid: "
                                f"{param.describe()}")
        if params.get("input_references") is None:
            problems += self._references_problem(0)
        if params.get("stream") and not self.supports_streaming:
            problems.append(f"{self.id} does not support streaming")
        return problems

    def _references_problem(self, count: int) -> list[str]:
        low, high = self.min_input_references, self.max_input_references
        if count < low:
            return [f"{self.id} needs at least {low} input reference(s), got {count}"]
        if count > high:
            return [f"{self.id} accepts at most {high} input reference(s), got {count}"]
        return []

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ImageModelInfo:
        """Read one listing entry (or an endpoints record) leniently."""
        arch = obj.get("architecture")
        arch = arch if isinstance(arch, Mapping) else {}
        raw_endpoints = obj.get("endpoints")
        endpoints: str | tuple[Mapping[str, Any], ...] | None = None
        params = _parameters(obj.get("supported_parameters"))
        streaming = obj.get("supports_streaming")
        if isinstance(raw_endpoints, str):
            endpoints = raw_endpoints
        elif isinstance(raw_endpoints, list):
            endpoints = tuple(e for e in raw_endpoints if isinstance(e, Mapping))
            for endpoint in endpoints if not params else ():  # union when the model omits it
                for name, param in _parameters(endpoint.get("supported_parameters")).items():
                    params.setdefault(name, param)
            if not isinstance(streaming, bool):
                streaming = any(e.get("supports_streaming") is True for e in endpoints)
        created = obj.get("created")
        return cls(
            id=str(obj.get("id", "")),
            name=str(obj.get("name") or obj.get("id", "")),
            description=str(obj.get("description") or ""),
            created=created_of(created),
            input_modalities=_tuple(arch.get("input_modalities"), ("text",)),
            output_modalities=_tuple(arch.get("output_modalities"), ("image",)),
            supported_parameters=params,
            supports_streaming=streaming is True,
            endpoints=endpoints,
            raw=dict(obj),
        )


def parse_image_models(obj: Any) -> list[ImageModelInfo]:
    """Parse ``GET /images/models`` (``{"data": [...]}``, or a bare list) into model records."""
    data = obj.get("data") if isinstance(obj, Mapping) else obj
    if not isinstance(data, list):
        raise ResponseError("the image model listing has no 'data' list")
    return [ImageModelInfo.from_json(m) for m in data if isinstance(m, Mapping) and m.get("id")]


@dataclass(frozen=True)
class PriceLine:
    """One billable pricing line of an Image API endpoint, as ``ImagePricingEntry`` spells it.

    Recorded example (qwen/qwen-image-3): ``output_image`` 0.03 per ``image``, variants ``1k`` and
    ``2k``; google/gemini-3-pro-image: ``output_image`` per ``token`` at 0.00012.
    """

    billable: str
    unit: str
    cost_usd: float
    variant: str | None = None
    provider: str | None = None

    @classmethod
    def from_json(cls, obj: Any, provider: str | None = None) -> PriceLine | None:
        """Read one line, or ``None`` when it lacks a usable cost."""
        if not isinstance(obj, Mapping):
            return None
        cost = as_float(obj.get("cost_usd"))
        billable, unit = as_str(obj.get("billable")), as_str(obj.get("unit"))
        if cost is None or not billable or not unit:
            return None
        return cls(billable[:40], unit[:40], cost, (as_str(obj.get("variant")) or None), provider)


@dataclass(frozen=True)
class EndpointsRecord:
    """``GET /images/models/{author}/{slug}/endpoints`` read whole.

    ``endpoints`` counts the provider endpoints listed: ``0`` is a model no provider serves (as
    recorded for meta/muse-image, ``{"endpoints": [], "id": "meta/muse-image"}``), which the
    catalogue marks unavailable. ``info`` holds the union of the endpoints' descriptors.
    """

    info: ImageModelInfo | None
    lines: tuple[PriceLine, ...]
    endpoints: int


def parse_endpoint_record(obj: Any) -> EndpointsRecord:
    """Parse an endpoints record (the spec's ``{"id", "endpoints": [...]}``, or wrapped in ``data``).

    The descriptors are the union over endpoints (the first endpoint's wins on conflicts).
    """
    data = obj.get("data", obj) if isinstance(obj, Mapping) else None
    if not isinstance(data, Mapping) or not isinstance(data.get("endpoints"), list):
        raise ResponseError("the endpoints record has no 'endpoints' list")
    endpoints = [e for e in data["endpoints"] if isinstance(e, Mapping)]
    lines: list[PriceLine] = []
    for endpoint in endpoints:
        if not isinstance(endpoint.get("pricing"), list):
            continue
        provider = as_str(endpoint.get("provider_slug")) or as_str(endpoint.get("provider_name"))
        lines += [line for line in (PriceLine.from_json(p, provider) for p in endpoint["pricing"])
                  if line is not None]
    info = ImageModelInfo.from_json(data) if data.get("id") else None
    return EndpointsRecord(info, tuple(lines), len(endpoints))


def parse_endpoints(obj: Any) -> tuple[ImageModelInfo | None, list[PriceLine]]:
    """Descriptors and price lines of an endpoints record (see :func:`parse_endpoint_record`)."""
    record = parse_endpoint_record(obj)
    return record.info, list(record.lines)
