"""The one place the gateway prices a request: its worst case, or ``None`` when no listing tells.

Every reservation goes through :func:`worst_case_usd`. It reads only what the upstream itself
publishes (``GET /models`` per-token prices and ``top_provider.max_completion_tokens``,
``GET /images/models`` descriptors, the per-model Image API endpoints records' price lines,
parsed by :mod:`jupyter_imagegen._wire.listings`), and it errs high: the most expensive provider,
the most images the model may return, every text token the answer may hold. A budget is only
as good as this bound, so whatever cannot be bounded is ``None`` ("unknown") and the gateway
refuses it under a budget instead of guessing low.

(The lead engineer's pure price model, ``_wire/prices.py``, will take this function's place once
it lands: the gateway calls nothing else for prices.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._wire.listings import EndpointsRecord, ImageModelInfo, ModelInfo, PriceLine
from .._wire.sizes import IMAGE_SIZES, IMAGES_RESOLUTIONS, images_pixel_size, parse_size

__all__ = ["Listings", "models_of", "worst_case_usd"]

#: Image tokens of one 1K output image (Gemini's documented 1290), scaled by area for larger tiers.
TOKENS_PER_1K_IMAGE = 1290
#: A bound on the prompt tokens one input image may cost. Gemini counts 258 tokens per 768 px
#: tile (docs "image understanding"); a 4096x4096 input is 36 tiles (9288 tokens): 10,000 covers it.
INPUT_IMAGE_TOKENS = 10_000
#: Tokens a chat message adds beyond its text (role and separators; a few per message).
MESSAGE_OVERHEAD_TOKENS = 16


@dataclass
class Listings:
    """What the upstream lists, as parsed records (the gateway's cache fills it)."""

    chat: Mapping[str, ModelInfo] = field(default_factory=dict)
    images: Mapping[str, ImageModelInfo] = field(default_factory=dict)
    endpoints: Mapping[str, EndpointsRecord] = field(default_factory=dict)


def models_of(body: Mapping[str, Any]) -> list[str]:
    """The model ids a request may be served by (``model`` and a ``models`` fallback list)."""
    found: list[str] = []
    if isinstance(body.get("model"), str):
        found.append(body["model"])
    extra = body.get("models")
    if isinstance(extra, list):
        found += [m for m in extra if isinstance(m, str) and m not in found]
    return found


def worst_case_usd(model_id: str, body: Mapping[str, Any], api: str,
                   listings: Listings) -> float | None:
    """The most one request to ``model_id`` on ``api`` (``"chat"`` or ``"images"``) can bill.

    ``None`` when some part of the bill has no price the listings give (the caller refuses).
    """
    model_id = model_id.split(":", 1)[0]
    chat = listings.chat.get(model_id)
    image = listings.images.get(model_id)
    record = listings.endpoints.get(model_id)
    lines = record.lines if record is not None else ()
    if api == "images":
        return _images_worst(body, image, chat, lines)
    if chat is None:
        return None
    return _chat_worst(body, chat, image, lines)


# -- the Image API ---------------------------------------------------------------------------------

def _images_worst(body: Mapping[str, Any], image: ImageModelInfo | None, chat: ModelInfo | None,
                  lines: Sequence[PriceLine]) -> float | None:
    count = _count(body.get("n"))
    tier = _tier(body.get("resolution") or body.get("size"))
    pixels = _pixels(body.get("size"), body.get("aspect_ratio"), tier)
    per_image = _per_image(lines, tier, pixels)
    if per_image is None and chat is not None:
        per_image = chat.pricing.get("image_output") or None
    if per_image is None:
        return None
    refs = body.get("input_references")
    inputs = len(refs) if isinstance(refs, list) else 0
    input_cost = _inputs_cost(lines, inputs, chat)
    if input_cost is None:
        return None
    prompt = body.get("prompt")
    text_line = _max_line(lines, "input_text", "token")
    text = (len(prompt.encode()) if isinstance(prompt, str) else 0) * (text_line or 0.0)
    return count * per_image + input_cost + text


def _inputs_cost(lines: Sequence[PriceLine], inputs: int, chat: ModelInfo | None) -> float | None:
    if not inputs:
        return 0.0
    best: float | None = None
    for billable in ("input_reference", "input_image"):
        for line in (x for x in lines if x.billable == billable):
            amount = line.cost_usd * (INPUT_IMAGE_TOKENS if line.unit == "token" else
                                      16.8 if line.unit == "megapixel" else 1)
            best = amount if best is None else max(best, amount)
    if best is None and chat is not None:
        per_token = max(chat.pricing.get("image") or 0.0, chat.pricing.get("prompt") or 0.0)
        best = per_token * INPUT_IMAGE_TOKENS
    return None if best is None else best * inputs


# -- chat completions ------------------------------------------------------------------------------

def _chat_worst(body: Mapping[str, Any], chat: ModelInfo, image: ImageModelInfo | None,
                lines: Sequence[PriceLine]) -> float | None:
    prices = chat.pricing
    prompt_price = prices.get("prompt")
    completion_price = prices.get("completion")
    if prompt_price is None or completion_price is None:
        return None  # "-1" (a router) or no price at all: unknown
    raw_config = body.get("image_config")
    config: Mapping[str, Any] = raw_config if isinstance(raw_config, Mapping) else {}
    tier = _tier(config.get("image_size"))
    per_image = 0.0
    if chat.outputs_images and _wants_images(body, chat):
        found = _per_image(lines, tier, _pixels(None, config.get("aspect_ratio"), tier))
        found = found if found is not None else (prices.get("image_output") or None)
        if found is None:
            return None
        per_image = found * (image.max_n if image is not None else 1)
    text_tokens, inputs = _prompt_size(body.get("messages"))
    input_price = max(prices.get("image") or 0.0, prompt_price)
    prompt_cost = text_tokens * prompt_price + inputs * INPUT_IMAGE_TOKENS * input_price
    out_tokens = _completion_bound(body, chat)
    out_price = max(completion_price, prices.get("internal_reasoning") or 0.0)
    if out_tokens is None:
        if out_price > 0:
            return None
        out_tokens = 0
    fixed = (prices.get("request") or 0.0) + (prices.get("web_search") or 0.0 if body.get("plugins")
                                              else 0.0)
    return prompt_cost + out_tokens * out_price + per_image + fixed


def _wants_images(body: Mapping[str, Any], chat: ModelInfo) -> bool:
    modalities = body.get("modalities")
    if isinstance(modalities, list):
        return "image" in modalities
    return chat.image_only  # an image-only model draws whatever it is asked


def _completion_bound(body: Mapping[str, Any], chat: ModelInfo) -> int | None:
    """The most completion tokens the answer may hold: the request's cap, else the listing's."""
    caps = [body.get(k) for k in ("max_tokens", "max_completion_tokens")]
    asked = [c for c in caps if isinstance(c, int) and not isinstance(c, bool) and c > 0]
    top = chat.raw.get("top_provider")
    listed = top.get("max_completion_tokens") if isinstance(top, Mapping) else None
    bounds = [*asked, *([listed] if isinstance(listed, int) and listed > 0 else [])]
    if not bounds and isinstance(chat.context_length, int) and chat.context_length > 0:
        bounds.append(chat.context_length)
    return min(bounds) if bounds else None


def _prompt_size(messages: Any) -> tuple[int, int]:
    """``(text tokens bound, input images)``: a token is at least one UTF-8 byte."""
    tokens, images = 0, 0
    for message in messages if isinstance(messages, list) else ():
        if not isinstance(message, Mapping):
            continue
        tokens += MESSAGE_OVERHEAD_TOKENS
        content = message.get("content")
        parts = content if isinstance(content, list) else [content]
        for part in parts:
            if isinstance(part, str):
                tokens += len(part.encode())
            elif isinstance(part, Mapping):
                if part.get("type") in ("image_url", "input_image", "file"):
                    images += 1
                elif isinstance(part.get("text"), str):
                    tokens += len(part["text"].encode())
    return tokens, images


# -- price lines -----------------------------------------------------------------------------------

def _count(value: Any) -> int:
    """Images asked for: ``n`` as sent (the service's default is 1).

    A larger ``n`` than the listing allows is priced as asked: the listing may be older than the
    service.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    return 1


def _tier(value: Any) -> str:
    text = str(value).strip().upper() if value is not None else "1K"
    if text in ("512", "0.5K"):
        return "0.5K"
    if text in IMAGE_SIZES:
        return text
    size = parse_size(text) if isinstance(value, str) else None
    if size is not None:  # WxH: the tier whose area covers it
        side = math.sqrt(size[0] * size[1]) / 1024
        return next((t for t, s in IMAGE_SIZES.items() if s >= side), "4K")
    return "4K" if text not in ("AUTO", "1K") else "1K"  # an unknown tier is priced as the largest


def _pixels(size: Any, aspect_ratio: Any, tier: str) -> int:
    exact = parse_size(size) if isinstance(size, str) else None
    if exact is not None:
        return exact[0] * exact[1]
    resolution = "512" if tier == "0.5K" else tier
    try:
        width, height = images_pixel_size(aspect_ratio if isinstance(aspect_ratio, str) else None,
                                          resolution)
    except ValueError:
        width, height = images_pixel_size(None, resolution)
    scale = IMAGES_RESOLUTIONS.get(resolution, 4.0)
    return max(width * height, round(1024 * 1024 * scale * scale))


def _per_image(lines: Sequence[PriceLine], tier: str, pixels: int) -> float | None:
    """The dearest provider's price of one output image at ``tier``, from its price lines."""
    out = [line for line in lines if line.billable == "output_image"]
    wanted = {tier.lower(), ("512" if tier == "0.5K" else tier).lower()}
    matching = [line for line in out if line.variant and line.variant.lower() in wanted]
    if not matching:  # no line for this tier: the plain ones, and then every variant (the dearest)
        matching = [line for line in out if not line.variant] + [line for line in out if line.variant]
    scale = IMAGE_SIZES.get(tier, 4.0)
    costs = []
    for line in matching:
        if line.unit in ("image", "request"):
            costs.append(line.cost_usd)
        elif line.unit == "megapixel":
            costs.append(line.cost_usd * pixels / 1e6)
        elif line.unit == "token":
            costs.append(line.cost_usd * TOKENS_PER_1K_IMAGE * max(1.0, scale * scale))
        else:
            return None  # a unit nobody documented: unknown, not free
    return max(costs) if costs else None


def _max_line(lines: Sequence[PriceLine], billable: str, unit: str) -> float | None:
    costs = [line.cost_usd for line in lines if line.billable == billable and line.unit == unit]
    return max(costs) if costs else None
