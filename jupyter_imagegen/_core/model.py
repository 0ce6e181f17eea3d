"""The record of one image model: which APIs serve it, what each accepts, what an image costs.

Built by :class:`~jupyter_imagegen._core.catalogue.Catalogue` from the service's listings; read by the
request validation, the router, the spend guard and every front end, so none of them keeps a
table of its own. Pure: no I/O.

What the chat path accepts is not in any listing. Its documented values are used (OpenRouterTeam/docs
``image-generation.mdx`` at 1c9b4627): the ten Gemini ratios, ``1K``/``2K``/``4K``, and for
``google/gemini-3.1-flash-image-preview`` also ``1:4``, ``4:1``, ``1:8``, ``8:1`` and ``0.5K``.
The Image API's values come from its typed descriptors, read whole: every parameter a model
declares is accepted within its own enum or range (``output_compression`` 0-100 on GPT image
models, any parameter a future listing adds), ``input_references`` between its ``min`` and
``max``, and a parameter the model does not declare is refused before sending, naming the ones it
does (``extra_body`` sends a field unchecked). An absent key means unsupported (docs c9878752).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._wire.image_tokens import image_tokens, shape_key
from .._wire.listings import ImageModelInfo, ImageParameter, ModelInfo, PriceLine
from .._wire.prices import Order, Quote, chat_text_part, listing_quote, quote
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

__all__ = ["API_ONLY", "UNDECLARED", "ApiCaps", "Model", "Price", "chat_caps", "images_caps",
           "largest_area", "single_order"]

#: Options only one API has; the other would silently drop them.
API_ONLY = {"chat": ("modalities", "image_config", "messages"),
            "images": ("pixels", "quality", "output_format", "background", "parameters")}
#: The words that mark a problem as "not declared" (validation then names the ``extra_body`` way out).
UNDECLARED = "not among its parameters"
_EXTENDED_CHAT = {"google/gemini-3.1-flash-image-preview"}


@dataclass(frozen=True)
class ApiCaps:
    """What one API accepts for one model. Empty ``aspect_ratios``/``sizes``: not selectable.

    ``descriptors`` is the Image API's typed ``supported_parameters`` (empty for chat, whose
    values are the documented ones). ``known=False`` marks an API that served the model although
    no listing described it (learnt from an answer): the service decides, nothing is refused.
    ``available`` is ``False`` when the model is listed but no endpoint serves it.
    """

    aspect_ratios: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()  # tiers in the kit's spelling: 0.5K, 1K, 2K, 4K
    max_n: int = 1
    max_inputs: int | None = None  # None: no documented limit; 0: no input images
    min_inputs: int = 0
    streaming: bool = False
    seed: bool = False
    pixels: bool = False  # an explicit ``size`` of WxH is accepted
    qualities: tuple[str, ...] = ()
    output_formats: tuple[str, ...] = ()
    backgrounds: tuple[str, ...] = ()
    descriptors: Mapping[str, ImageParameter] = field(default_factory=dict, hash=False)
    known: bool = True
    available: bool | None = None

    @classmethod
    def unknown(cls) -> ApiCaps:
        """An API that answered for the model with nothing listed about it (the service decides)."""
        return cls(max_inputs=None, known=False)

    def problems(self, request: Request, api: str) -> list[str]:
        """What ``request`` asks that this API cannot do for the model, in words; ``[]`` if it fits.

        The one capability check: routing asks "does it fit" (``not problems``) and validation
        "why not" (the words go into the error), so the two can never disagree.
        """
        other = "images" if api == "chat" else "chat"
        found = [f"{name} (an option of the {other} API only)"
                 for name in _foreign(request, other)]
        if not self.known:
            return found
        if api == "images":
            return found + self._descriptor_problems(request)
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
        return found

    def _descriptor_problems(self, request: Request) -> list[str]:
        """The Image API's check: each field the request sends against the model's descriptor."""
        declared = ", ".join(sorted(self.descriptors)) or "none"
        found: list[str] = []
        for name, value in _image_fields(request):
            param = self.descriptors.get(name)
            if param is None:
                found.append(f"{_shown(name, value, request)} ({name} is {UNDECLARED}: "
                             f"{declared})")
            elif not param.allows(value):
                found.append(f"{_shown(name, value, request)} (it takes {param.describe()})")
        found += self._reference_problems(len(request.images))
        return found

    def _reference_problems(self, inputs: int) -> list[str]:
        if inputs < self.min_inputs:
            return [f"{inputs} input image(s): it needs at least {self.min_inputs} "
                    f"(it takes {self.min_inputs}-{self.max_inputs if self.max_inputs is not None else ''})"]
        if inputs and self.max_inputs is not None and inputs > self.max_inputs:
            return [f"{inputs} input image(s) (at most {self.max_inputs})" if self.max_inputs
                    else "input images (input_references is not among its parameters)"]
        return []


def _shown(name: str, value: Any, request: Request) -> str:
    """A field as the caller wrote it: ``aspect ratio 9:19.5``, ``size 4K``, ``n=5``."""
    if name == "aspect_ratio":
        return f"aspect ratio {value}"
    if name == "resolution":
        return f"size {request.size}"
    return f"{name}={value}"


def _foreign(request: Request, api: str) -> list[str]:
    """The request's options that only ``api`` has, by the names the caller used."""
    names: list[str] = []
    for name in API_ONLY[api]:
        value = getattr(request, name)
        if not value:
            continue
        names += sorted(value) if name == "parameters" else [name]
    return names


def _image_fields(request: Request) -> list[tuple[str, Any]]:
    """The Image API fields ``request`` sends (wire names), ``n=1`` (the default) aside."""
    fields: list[tuple[str, Any]] = [
        ("aspect_ratio", request.aspect_ratio),
        ("resolution", images_resolution(request.size) if request.size else None),
        ("size", request.pixels), ("n", request.n if request.n != 1 else None),
        ("seed", request.seed), ("quality", request.quality),
        ("output_format", request.output_format), ("background", request.background)]
    fields += sorted((request.parameters or {}).items())
    return [(name, value) for name, value in fields if value is not None]


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


def images_caps(info: ImageModelInfo, available: bool | None = None) -> ApiCaps:
    """The Image API's capabilities, from the model's typed descriptors read whole.

    ``input_references`` not declared means no input images (an absent key means unsupported);
    declared without a ``max``, no limit is known. ``available`` comes from the endpoints record
    when it was read (``False``: it lists no endpoint), else from the listing entry.
    """
    sizes = tuple(chat_size(r) or r for r in info.resolutions if r in IMAGES_RESOLUTIONS)
    size_param = info.parameter("size")
    refs = info.parameter("input_references")
    return ApiCaps(
        aspect_ratios=info.aspect_ratios, sizes=sizes, max_n=max(1, info.max_n),
        max_inputs=(refs.max if refs.type == "range" else None) if refs is not None else 0,
        min_inputs=info.min_input_references,
        streaming=info.supports_streaming, seed=info.supports_seed,
        pixels=size_param is not None and size_param.type != "enum",
        qualities=info.qualities, output_formats=info.output_formats,
        backgrounds=info.backgrounds, descriptors=dict(info.supported_parameters),
        available=info.available if available is None else available,
    )


@dataclass(frozen=True)
class Price:
    """The estimated price of one output image, the most it may bill, and what both rest on.

    ``usd`` is the expected price (what labels show), ``worst`` the most one image of this request
    may bill (what the spend guard reserves; ``None`` when unknown). ``basis`` is
    ``"price line"`` (the Image API endpoints record), ``"listing"`` (``pricing.image_output``),
    ``"token estimate"`` (a per-token price times documented or billed image tokens),
    ``"last billed"`` (this session's answers for the same model and size), ``"your price"`` or
    ``"unknown"``; ``detail`` says which lines and counts were used.
    """

    usd: float | None
    basis: str
    detail: str = ""
    worst: float | None = None

    def __str__(self) -> str:
        if self.usd is None:
            return "price unknown"
        return f"${self.usd:.4f}/image ({self.basis})"

    @classmethod
    def of(cls, quote: Quote) -> Price:
        """A request's quote read per image."""
        return cls(quote.per_image, quote.basis, quote.detail, quote.worst_per_image)


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
    #: What billed answers taught, by :func:`~jupyter_imagegen._wire.image_tokens.shape_key`:
    #: USD per image, and image tokens per image.
    billed: Mapping[str, float] = field(default_factory=dict)
    learned_tokens: Mapping[str, int] = field(default_factory=dict)
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
    def available(self) -> bool | None:
        """``False`` when the model is listed but no provider serves it on any API; else unknown.

        Set from an endpoints record listing no endpoint (or a listing entry embedding
        ``endpoints: []``), or from the service's ``no_endpoints`` answer; such a model is refused
        before sending.
        """
        states = [caps.available for caps in self.apis.values()]
        if states and all(state is False for state in states):
            return False
        return True if any(states) else None

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

    @property
    def last_billed(self) -> float | None:
        """The highest USD per image this session's answers from the model billed (any size)."""
        return max(self.billed.values(), default=None)

    def price(self, tier: str | None = None, aspect_ratio: str | None = None,
              quality: str | None = None) -> Price:
        """The expected (and worst) price of one output image at ``tier`` over every provider."""
        return Price.of(self.quote(single_order(tier, aspect_ratio, quality)))

    def quote(self, order: Order, api: str | None = None) -> Quote:
        """Price ``order`` from this model's price lines (else its listing), on ``api``.

        With an ``api`` the prompt and reply text are added at the listing's per-token prices
        (chat bills them, and so does the Image API for text+image models; an image-only
        model's Image API lines price everything); ``None`` prices the images alone (a label). What
        billed answers taught for the same size and quality raises the worst case to at least
        what was billed, and is expected; where nothing else tells a price, it is the price.
        """
        tokens = image_tokens(self.id, order, self.learned_tokens, self._union("qualities"))
        if self.price_lines:
            found = quote(self.price_lines, order, tokens)
        else:
            found = listing_quote(self.token_prices, order, tokens)
        if api is not None and self.token_prices and (api == "chat" or self.outputs_text):
            # Text+image models bill the prompt and any reply text or reasoning besides the images
            # on either API (gemini-3-pro-image's Image API answers billed 87-101 completion
            # tokens beyond image_tokens; holiday-card@0cd1cfc7)
            found = found.plus(chat_text_part(self.token_prices, order,
                                              text_output=self.outputs_text))
        billed = self.billed.get(shape_key(order))
        if billed is None:
            return found
        total, likely = billed * max(1, order.images), billed * order.expected_images
        if found.worst is None and found.expected is None:
            return Quote(total, likely, "last billed", "this session's answers for this size",
                         order.images, expected_images=order.expected_images)
        worst = None if found.worst is None else max(found.worst, total)
        return dataclasses.replace(found, worst=worst, expected=likely, basis="last billed",
                                   detail=f"this session's answers for this size; {found.detail}")


def single_order(tier: str | None = None, aspect_ratio: str | None = None,
                 quality: str | None = None, *, images: int = 1) -> Order:
    """The order of ``images`` output images at ``tier`` and ``aspect_ratio`` (a label's price)."""
    width, height = largest_area(aspect_ratio, tier)
    return Order(images=images, tier=tier, width=width, height=height, quality=quality)


def largest_area(aspect_ratio: str | None, tier: str | None) -> tuple[int, int]:
    """The pixel size of ``aspect_ratio`` at ``tier`` (1K when unset); no ratio: the largest."""
    ratios = [aspect_ratio] if aspect_ratio not in (None, "", "auto") else list(ASPECT_RATIOS)
    sizes = []
    for ratio in ratios:
        try:
            sizes.append(images_pixel_size(ratio, tier))
        except ValueError:
            sizes.append(images_pixel_size(None, tier))
    return max(sizes, key=lambda wh: wh[0] * wh[1])
