"""The record of one image model: which APIs serve it, what each accepts, what an image costs.

Built by :class:`~jupyter_imagegen._core.catalogue.Catalogue` from the service's listings; read by the
request validation, the router, the spend guard and every front end, so none of them keeps a
table of its own. Pure: no I/O.

What the chat path accepts is not in any listing. Its documented values are used (OpenRouterTeam/docs
``image-generation.mdx`` at 1c9b4627): the ten Gemini ratios, ``1K``/``2K``/``4K``, and for
``google/gemini-3.1-flash-image-preview`` also ``1:4``, ``4:1``, ``1:8``, ``8:1`` and ``0.5K``.
The Image API's values come from its typed descriptors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .._wire.listings import ImageModelInfo, ModelInfo, PriceLine
from .._wire.sizes import (
    ASPECT_RATIOS,
    CHAT_SIZES,
    IMAGES_RESOLUTIONS,
    chat_size,
    images_pixel_size,
    images_resolution,
)

if TYPE_CHECKING:  # the request is checked against these records: a type-only back-reference
    from .request import Request

__all__ = ["API_ONLY", "ApiCaps", "Model", "Price", "chat_caps", "images_caps"]

#: Options only one API has; the other would silently drop them.
API_ONLY = {"chat": ("modalities", "image_config", "messages"),
            "images": ("pixels", "quality", "output_format", "background")}
_EXTENDED_CHAT = {"google/gemini-3.1-flash-image-preview"}
#: Image tokens of one 1K image: the recorded gemini-2.5-flash-image answer billed 1290 image
#: tokens for one 1024x1024 image (openrouter-protocol.md §2). Larger tiers scale by area.
TOKENS_PER_1K_IMAGE = 1290


@dataclass(frozen=True)
class ApiCaps:
    """What one API accepts for one model. Empty ``aspect_ratios``/``sizes``: not selectable."""

    aspect_ratios: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()  # tiers in the kit's spelling: 0.5K, 1K, 2K, 4K
    max_n: int = 1
    max_inputs: int | None = None  # None: no documented limit; 0: no input images
    streaming: bool = False
    seed: bool = False
    pixels: bool = False  # an explicit ``size`` of WxH is accepted
    qualities: tuple[str, ...] = ()
    output_formats: tuple[str, ...] = ()
    backgrounds: tuple[str, ...] = ()

    def problems(self, request: Request, api: str) -> list[str]:
        """What ``request`` asks that this API cannot do for the model, in words; ``[]`` if it fits.

        The one capability check: routing asks "does it fit" (``not problems``) and validation
        "why not" (the words go into the error), so the two can never disagree.
        """
        other = "images" if api == "chat" else "chat"
        found = [f"{name} (an option of the {other} API only)"
                 for name in API_ONLY[other] if getattr(request, name)]
        ratio, size = request.aspect_ratio, request.size
        if ratio and ratio not in self.aspect_ratios:
            found.append(f"aspect ratio {ratio} (it takes "
                         f"{', '.join(self.aspect_ratios) or 'no aspect_ratio option'})")
        if size and size not in self.sizes:
            found.append(f"size {size} (it takes {', '.join(self.sizes) or 'no size tier'})")
        if request.pixels and not self.pixels:
            found.append(f"an explicit size {request.pixels} (use a size tier and an aspect ratio)")
        if request.n is not None and request.n > self.max_n:
            found.append(f"n={request.n} (at most {self.max_n} per request)")
        inputs = len(request.images)
        if inputs and self.max_inputs is not None and inputs > self.max_inputs:
            found.append(f"{inputs} input image(s) (at most {self.max_inputs})"
                         if self.max_inputs else "input images (it takes none)")
        for name, allowed in (("quality", self.qualities), ("output_format", self.output_formats),
                              ("background", self.backgrounds)):
            value = getattr(request, name)
            if value and api == "images" and allowed and value not in allowed:
                found.append(f"{name}={value} (it takes {', '.join(allowed)})")
        return found


def chat_caps(info: ModelInfo, images: ImageModelInfo | None = None) -> ApiCaps:
    """The chat path's capabilities: documented ratios and sizes, inputs from the modalities."""
    extended = info.id in _EXTENDED_CHAT
    ratios = tuple(ASPECT_RATIOS) + (("1:4", "4:1", "1:8", "8:1") if extended else ())
    sizes = (("0.5K",) if extended else ()) + ("1K", "2K", "4K")
    return ApiCaps(
        aspect_ratios=ratios, sizes=sizes, max_n=1,
        max_inputs=None if "image" in info.input_modalities else 0, streaming=True,
        seed="seed" in info.supported_parameters,
    )


def images_caps(info: ImageModelInfo) -> ApiCaps:
    """The Image API's capabilities, from the model's typed descriptors."""
    sizes = tuple(chat_size(r) or r for r in info.resolutions if r in IMAGES_RESOLUTIONS)
    size_param = info.parameter("size")
    return ApiCaps(
        aspect_ratios=info.aspect_ratios, sizes=sizes, max_n=max(1, info.max_n),
        max_inputs=info.max_input_references if "input_references" in info.supported_parameters
        else (None if "image" in info.input_modalities else 0),
        streaming=info.supports_streaming, seed=info.supports_seed,
        pixels=size_param is not None and size_param.type != "enum",
        qualities=info.qualities, output_formats=info.output_formats,
        backgrounds=info.backgrounds,
    )


@dataclass(frozen=True)
class Price:
    """An estimated price per output image and what it rests on.

    ``basis`` is ``"price line"`` (the Image API endpoints record), ``"listing"``
    (``pricing.image_output``), ``"token estimate"`` (a per-token price times image tokens),
    ``"last billed"`` (this session's last answer from the model) or ``"unknown"``.
    """

    usd: float | None
    basis: str
    detail: str = ""

    def __str__(self) -> str:
        if self.usd is None:
            return "price unknown"
        return f"${self.usd:.4f}/image ({self.basis})"


@dataclass(frozen=True)
class Model:
    """One image model as the catalogue knows it."""

    id: str
    name: str
    description: str = ""
    input_modalities: tuple[str, ...] = ("text",)
    output_modalities: tuple[str, ...] = ("image",)
    apis: Mapping[str, ApiCaps] = field(default_factory=dict)
    token_prices: Mapping[str, float | None] = field(default_factory=dict)
    price_lines: tuple[PriceLine, ...] = ()
    last_billed: float | None = None
    image_tokens: int | None = None
    listed_in_images: bool = False
    has_endpoints: bool = False

    @property
    def outputs_images(self) -> bool:
        """True when ``image`` is among the model's outputs."""
        return "image" in self.output_modalities

    @property
    def outputs_text(self) -> bool:
        """True for text+image models (Gemini, GPT-5 Image); False for image-only ones."""
        return "text" in self.output_modalities

    @property
    def accepts_images(self) -> bool:
        """True when some API takes input images for this model."""
        return any(c.max_inputs is None or c.max_inputs > 0 for c in self.apis.values())

    @property
    def image_only(self) -> bool:
        """True for models that output images but no text."""
        return self.outputs_images and not self.outputs_text

    @property
    def pricing(self) -> Mapping[str, float | None]:
        """The ``GET /models`` per-token prices (USD per token; image models rarely price images here)."""
        return self.token_prices

    @property
    def price_per_image(self) -> float | None:
        """The estimated USD per 1K image (see :meth:`price` for the basis), ``None`` if unknown."""
        return self.price().usd

    def caps(self, api: str) -> ApiCaps | None:
        """What ``api`` accepts for this model, ``None`` when that API does not serve it."""
        return self.apis.get(api)

    @property
    def default_api(self) -> str:
        """The documented path: chat for text+image models, the Image API for image-only ones."""
        if "chat" in self.apis and (self.outputs_text or "images" not in self.apis):
            return "chat"
        return "images" if "images" in self.apis else "chat"

    def _union(self, attr: str) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for api in (self.default_api, "chat", "images"):
            caps = self.apis.get(api)
            for value in getattr(caps, attr, ()) if caps else ():
                seen.setdefault(value, None)
        return tuple(seen)

    @property
    def aspect_ratios(self) -> tuple[str, ...]:
        """Every aspect ratio some API takes for this model (the default API's first)."""
        return self._union("aspect_ratios")

    @property
    def sizes(self) -> tuple[str, ...]:
        """Every size tier some API takes for this model, smallest first."""
        return tuple(sorted(self._union("sizes"), key=CHAT_SIZES.index))

    @property
    def max_n(self) -> int:
        """The most images one request may ask for."""
        return max((c.max_n for c in self.apis.values()), default=1)

    @property
    def max_images(self) -> int:
        """The most images one answer may hold: the spend guard's worst case for any request.

        Chat has no ``n``, yet "some models can generate multiple images in a single response"
        (docs 1c9b4627); the Image API's ``n`` range is the best bound the listings give.
        """
        return self.max_n

    @property
    def supports_streaming(self) -> bool:
        """True when some API streams this model's answer."""
        return any(c.streaming for c in self.apis.values())

    @property
    def supports_seed(self) -> bool:
        """True when some API honours ``seed`` for this model."""
        return any(c.seed for c in self.apis.values())

    def price(self, tier: str | None = None, aspect_ratio: str | None = None) -> Price:
        """The estimated price of one output image at ``tier`` (worst case over providers)."""
        estimate = self._listed_price(tier or "1K", aspect_ratio)
        if self.last_billed is not None and (estimate.usd is None or self.last_billed > estimate.usd):
            return Price(self.last_billed, "last billed", "this session's last answer")
        return estimate

    def _tokens(self, tier: str) -> int:
        if self.image_tokens:
            return self.image_tokens
        scale = IMAGES_RESOLUTIONS.get(images_resolution(tier) or tier, 1.0)
        return round(TOKENS_PER_1K_IMAGE * max(1.0, scale * scale))

    def _listed_price(self, tier: str, aspect_ratio: str | None) -> Price:
        lines = [line for line in self.price_lines if line.billable == "output_image"]
        wanted = {tier.lower(), (images_resolution(tier) or tier).lower()}
        matching = [line for line in lines if line.variant and line.variant.lower() in wanted]
        matching = matching or [line for line in lines if not line.variant] or lines
        costs: list[float] = []
        for line in matching:
            if line.unit in ("image", "request"):
                costs.append(line.cost_usd)
            elif line.unit == "megapixel":
                try:
                    width, height = images_pixel_size(aspect_ratio, tier)
                except ValueError:
                    width, height = images_pixel_size(None, tier)
                costs.append(line.cost_usd * width * height / 1e6)
            elif line.unit == "token":
                costs.append(line.cost_usd * self._tokens(tier))
        if costs:
            return Price(max(costs), "price line", f"{len(matching)} endpoint price line(s)")
        listed = self.token_prices.get("image_output")
        if listed:
            return Price(listed, "listing", "pricing.image_output")
        per_token = self.token_prices.get("image_token")
        if per_token:
            return Price(per_token * self._tokens(tier), "token estimate",
                         f"pricing.image_token x {self._tokens(tier)} image tokens")
        return Price(None, "unknown")
