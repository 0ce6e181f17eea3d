"""The one place the gateway prices a request: its worst case, or ``None`` when no listing tells.

Every reservation goes through :func:`worst_case_usd`. The images are priced by the kit's price
model (:mod:`jupyter_imagegen._wire.prices`, the one the client's spend guard and the local
server use): the request's body is read into an :class:`~jupyter_imagegen._wire.prices.Order`
(the images it may get, their tier, area and quality, its inputs and prompt) and priced from the
model's endpoints price lines, else its ``GET /models`` listing, with the providers' documented
image-token counts (:mod:`jupyter_imagegen._wire.image_tokens`).

One thing the gateway bounds harder than the kit: the reply text. The kit's guard allows 4,096
reply tokens (an allowance for a notebook user's own limit); a classroom budget must hold against
any reply, so the gateway reserves the request's ``max_tokens`` or the listing's
``top_provider.max_completion_tokens`` (else its ``context_length``) at the completion price, and
a text-writing model with none of them is unknown. Unknown means refused under a budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._wire.dataurl import image_size
from .._wire.image_tokens import image_tokens
from .._wire.listings import EndpointsRecord, ImageModelInfo, ModelInfo
from .._wire.prices import Order, Part, listing_quote, quote
from .._wire.sizes import ASPECT_RATIOS, images_pixel_size, parse_size

__all__ = ["Listings", "models_of", "order_of", "worst_case_usd"]

#: Tokens a chat message adds beyond its text (role and separators; a few per message).
MESSAGE_OVERHEAD_TOKENS = 16
_TIERS = {"512": "0.5K", "0.5K": "0.5K", "1K": "1K", "2K": "2K", "4K": "4K"}


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
    base_id = model_id.split(":", 1)[0]
    chat = listings.chat.get(base_id)
    image = listings.images.get(base_id)
    record = listings.endpoints.get(base_id)
    if chat is None and image is None:
        return None
    order = order_of(body, api, image)
    qualities = image.qualities if image is not None else ()
    tokens = image_tokens(model_id, order, None, qualities)
    if api == "chat" and not _wants_images(body, chat):
        found = None  # a text-only answer: no image to price
    elif record is not None and record.lines:
        found = quote(record.lines, order, tokens)
    elif chat is not None:
        found = listing_quote(chat.pricing, order, tokens)
    else:
        return None
    text = _text_part(body, chat, order) if chat is not None else None
    if text is not None and text.worst is None:
        return None
    if found is None:
        return text.worst if text is not None else None
    if text is not None:
        found = found.plus(text)
    return found.worst


def order_of(body: Mapping[str, Any], api: str, image: ImageModelInfo | None) -> Order:
    """What a request body asks for, in price terms (as the kit's ``order_for`` reads a Request).

    The image count is ``n``, else one on the Image API (its documented default) and the model's
    ``n`` maximum on chat, whose answers may hold several; the size is explicit pixels, else the
    tier at the ratio (the largest ratio when none is given); input sizes come from the data
    URLs' headers (a URL's size is unknown).
    """
    config = body.get("image_config") if isinstance(body.get("image_config"), Mapping) else None
    knobs: Mapping[str, Any] = body if api == "images" else (config or {})
    asked_n = body.get("n")
    n = asked_n if isinstance(asked_n, int) and not isinstance(asked_n, bool) and asked_n > 0 else None
    most = image.max_n if image is not None and api == "chat" else 1
    tier = _tier(knobs.get("resolution") or knobs.get("image_size") or _size_tier(knobs.get("size")))
    pixels = parse_size(knobs["size"]) if isinstance(knobs.get("size"), str) else None
    width, height = pixels or _largest_area(knobs.get("aspect_ratio"), tier)
    quality = knobs.get("quality") if isinstance(knobs.get("quality"), str) else None
    text, urls = _prompt(body, api)
    return Order(images=n or max(1, most), tier=tier, width=width, height=height,
                 quality=quality, inputs=tuple(image_size(u) for u in urls),
                 prompt_chars=len(text), prompt_bytes=len(text.encode("utf-8", "replace")),
                 sized=pixels is not None, likely=n or 1)


def _tier(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip().upper()
    return _TIERS.get(text, "4K")  # a tier the kit cannot read is priced as the largest


def _size_tier(size: Any) -> str | None:
    """A size tier given as ``size`` (``"2K"``), not pixels."""
    return size if isinstance(size, str) and parse_size(size) is None and size != "auto" else None


def _largest_area(aspect_ratio: Any, tier: str | None) -> tuple[int, int]:
    """The pixel size of ``aspect_ratio`` at ``tier`` (1K when unset); no ratio: the largest."""
    resolution = "512" if tier == "0.5K" else tier
    ratio = aspect_ratio if isinstance(aspect_ratio, str) and aspect_ratio != "auto" else None
    sizes = []
    for each in [ratio] if ratio else list(ASPECT_RATIOS):
        try:
            sizes.append(images_pixel_size(each, resolution))
        except ValueError:
            sizes.append(images_pixel_size(None, resolution))
    return max(sizes, key=lambda wh: wh[0] * wh[1])


def _prompt(body: Mapping[str, Any], api: str) -> tuple[str, list[str]]:
    """The request's text and its input images' URLs."""
    urls: list[str] = []
    if api == "images":
        refs = body.get("input_references")
        urls = [u for u in map(_url_of, refs) if u is not None] if isinstance(refs, list) else []
        prompt = body.get("prompt")
        return (prompt if isinstance(prompt, str) else ""), urls
    texts: list[str] = []
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else ():
        content = message.get("content") if isinstance(message, Mapping) else None
        texts.append(" " * MESSAGE_OVERHEAD_TOKENS)
        for part in content if isinstance(content, list) else [content]:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif isinstance(part, Mapping) and (url := _url_of(part)) is not None:
                urls.append(url)
    return "".join(texts), urls


def _url_of(part: Any) -> str | None:
    """The image URL of a content part (``{"image_url": {"url"}}``, ``{"image_url": "..."}``)."""
    if not isinstance(part, Mapping):
        return None
    inner = part.get("image_url", part.get("url"))
    url = inner.get("url") if isinstance(inner, Mapping) else inner
    return url if isinstance(url, str) else ""  # an image part without a readable URL: unknown


def _wants_images(body: Mapping[str, Any], chat: ModelInfo | None) -> bool:
    modalities = body.get("modalities")
    if isinstance(modalities, list):
        return "image" in modalities
    return chat is None or chat.image_only  # an image-only model draws whatever it is asked


def _text_part(body: Mapping[str, Any], chat: ModelInfo, order: Order) -> Part | None:
    """The prompt and every reply token the answer may hold, at the listing's per-token prices."""
    prices = chat.pricing
    prompt, completion = prices.get("prompt"), prices.get("completion")
    if prompt is None or completion is None or prompt < 0 or completion < 0:
        return Part("text tokens", None, None, "no per-token price (or a router's)")
    reply = max(completion, prices.get("internal_reasoning") or 0.0)
    cost = prompt * max(1, order.prompt_bytes)
    if "text" in chat.output_modalities and reply > 0:
        bound = _reply_bound(body, chat)
        if bound is None:
            return Part("text tokens", None, None, "no bound on the reply's length")
        cost += reply * bound
    if body.get("plugins"):
        cost += prices.get("web_search") or 0.0
    cost += prices.get("request") or 0.0
    return Part("text tokens", cost, None, "prompt bytes and the reply's token cap")


def _reply_bound(body: Mapping[str, Any], chat: ModelInfo) -> int | None:
    """The most completion tokens the answer may hold: the request's cap, else the listing's."""
    asked = [c for c in (body.get("max_tokens"), body.get("max_completion_tokens"))
             if isinstance(c, int) and not isinstance(c, bool) and c > 0]
    top = chat.raw.get("top_provider")
    listed = top.get("max_completion_tokens") if isinstance(top, Mapping) else None
    bounds = [*asked, *([listed] if isinstance(listed, int) and listed > 0 else [])]
    if not bounds and isinstance(chat.context_length, int) and chat.context_length > 0:
        bounds.append(chat.context_length)
    return min(bounds) if bounds else None

