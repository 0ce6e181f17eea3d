"""The price model: a model's price lines read into dimensions, and one request priced from them.

One implementation, shared by the three parts that handle money: the client's spend guard
(which reserves the **worst** case a request may bill), its labels (the **expected** case, with
the basis it rests on), the local server's simulated billing and the classroom gateway's
reservations. Pure: no I/O, no state; the catalogue hands in what it learnt from billed answers.

What the service writes (``GET /images/models/{author}/{slug}/endpoints``, each endpoint's
``pricing[]`` of ``{billable, unit, cost_usd, variant?}``; OpenRouter's OpenAPI
``ImagePricingEntry``, openrouter-changes-2026.md c9878752): ``billable`` is what is charged
(``output_image``, ``input_image``, ``input_reference``, ``input_text``, ``input_font``), ``unit``
how it is counted (``image``, ``megapixel``, ``token``, ``request``), ``variant`` which kind of
output a line prices. Recorded variants (the records cited in ``server/data/README.md``): size
tiers ``1k``/``2k``/``4k`` (qwen-image-3, riverflow-v2-pro, grok-imagine-image-quality),
``high_resolution`` (seedream-5-0-pro, a size class whose threshold no document gives); the
``quality_tier`` spelling (``low_1k``, ``medium_2k``) prices quality and size together.

How a request is priced, dimension by dimension, per provider endpoint:

- **Output images**: the lines whose variant fits the request (a tier that is the request's, a
  quality that is the request's; a dimension the request leaves open fits every value). The worst
  case is the dearest line that could apply, including any size class or variant the kit cannot
  read (it may be the one billed); the expected case is the line for the request's own values (the
  first listed where it leaves one open), a size class only where the request is above its threshold.
  Per ``image`` times the images the answer may hold, per ``megapixel`` times their area, per
  ``token`` times the image tokens (:func:`image_tokens`), per ``request`` once.
- **Input images** (``input_image``, ``input_reference``): only when the request carries some; per
  image, per request, per megapixel of the inputs, per token. Where a provider lists both, the worst
  case counts both and the expected case the dearer.
- **Prompt text** (``input_text`` per token): at most one token per UTF-8 byte (worst), about four
  characters per token (expected).
- ``input_font`` is never sent by the kit (no option carries fonts), so it costs nothing here.

A charge the model cannot read (an unknown ``billable`` or ``unit``, a megapixel price for an
image of unknown size, a token price without a token count) makes the worst case **unknown**: the
spend guard then refuses under a limit (``Client(prices=...)`` is the way out), never guesses.
Across providers the worst case is the dearest (the router may pick any), the expected case the
cheapest: OpenRouter's default routing "prioritize[s] price" (its provider-routing docs).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .listings import PriceLine
from .sizes import IMAGE_SIZES

__all__ = ["INPUT_BILLABLES", "KNOWN_BILLABLES", "KNOWN_UNITS", "Order", "Part", "Quote",
           "TokenGuess", "Variant", "bill", "chat_text_part", "listing_quote", "quote", "read_variant"]

OUTPUT = "output_image"
INPUT_BILLABLES = ("input_image", "input_reference")
TEXT = "input_text"
#: Charged only for inputs the kit never sends (fonts for Recraft-style models).
NEVER_SENT = frozenset({"input_font"})
KNOWN_BILLABLES = frozenset({OUTPUT, TEXT, *INPUT_BILLABLES, *NEVER_SENT})
KNOWN_UNITS = frozenset({"image", "megapixel", "token", "request"})
_TIERS = {"512": "0.5K", "0.5k": "0.5K", "1k": "1K", "2k": "2K", "4k": "4K"}
_QUALITIES = frozenset({"low", "medium", "high", "standard", "hd", "auto"})
#: Named size classes. ``high_resolution`` is recorded (seedream-5-0-pro, 0.09 beside 0.045) and no
#: OpenRouter or BytePlus document gives its threshold: the worst case always includes it; the
#: expected case applies it above 2.36 MP (1536x1536), the split resellers quote for that model.
_SIZE_CLASSES = {"high_resolution": "high", "hd_resolution": "high", "standard_resolution": "standard"}
HIGH_RESOLUTION_MP = 1536 * 1536 / 1e6
_EPS = 1e-12


@dataclass(frozen=True)
class Variant:
    """A price line's ``variant`` read into the dimensions it names."""

    tier: str | None = None  # the kit's spelling: 0.5K, 1K, 2K, 4K
    quality: str | None = None
    size_class: str | None = None
    unread: bool = False  # words the kit has no meaning for: the line may be the one billed

    @property
    def plain(self) -> bool:
        """True for a line with no variant: the price when no other line is more specific."""
        return self == Variant()


def read_variant(text: str | None) -> Variant:
    """``"medium_2k"`` is quality medium at 2K; ``"high_resolution"`` a size class; ``None`` plain."""
    if not text or not text.strip():
        return Variant()
    word = text.strip().lower()
    if word in _SIZE_CLASSES:
        return Variant(size_class=_SIZE_CLASSES[word])
    tier = quality = None
    for part in re.split(r"[_\-\s]+", word):
        if part in _TIERS and tier is None:
            tier = _TIERS[part]
        elif part in _QUALITIES and quality is None:
            quality = part
        else:
            return Variant(unread=True)
    return Variant(tier, quality)


@dataclass(frozen=True)
class Order:
    """What one request asks for, in the terms price lines use.

    ``images`` is the most the answer may hold (the guard's count; ``likely`` the count expected);
    ``width``/``height`` the
    largest output the request may get (``None``: unknown); ``inputs`` the pixel size of each
    input image (``None`` where unknown, such as a URL).
    """

    images: int = 1
    tier: str | None = None
    width: int | None = None
    height: int | None = None
    quality: str | None = None
    inputs: tuple[tuple[int, int] | None, ...] = ()
    prompt_chars: int = 0
    prompt_bytes: int = 0
    #: True when ``width``/``height`` were asked for explicitly (the Image API's ``size``).
    sized: bool = False
    #: The images the answer is expected to hold (``n``, else one); ``images`` is the most.
    likely: int | None = None

    @property
    def expected_images(self) -> int:
        """The images expected (``likely``), never more than the most the answer may hold."""
        return min(self.images, self.likely) if self.likely is not None else self.images

    @property
    def megapixels(self) -> float | None:
        """The area of one output image in megapixels (10^6 pixels), ``None`` when unknown."""
        if self.width is None or self.height is None:
            return None
        return self.width * self.height / 1e6

    @property
    def high_resolution(self) -> bool:
        """True for an output above 2.36 MP (the 2K and 4K tiers; see ``_SIZE_CLASSES``)."""
        if self.tier is not None and not self.sized:
            return IMAGE_SIZES.get(self.tier, 1.0) > 1.0
        area = self.megapixels
        return area is not None and area > HIGH_RESOLUTION_MP


@dataclass(frozen=True)
class TokenGuess:
    """Image tokens of one output (and one input) image for a model, size and quality.

    ``source`` says where the counts come from (the provider's documentation, or this session's
    billed answers); ``None`` counts are unknown.
    """

    worst: int | None
    expected: int | None
    source: str
    input_worst: int | None = None
    input_expected: int | None = None


@dataclass(frozen=True)
class Part:
    """One charge of a quote: what it is for, worst and expected USD, and how it was read."""

    billable: str
    worst: float | None
    expected: float | None
    how: str


@dataclass(frozen=True)
class Quote:
    """A request priced: the most it may bill, what it is expected to bill, and the basis.

    ``basis`` is ``"price line"`` (per-image or per-megapixel lines), ``"token estimate"`` (a
    per-token line times an image-token count), ``"listing"`` or ``"unknown"``; ``detail`` says
    which lines and counts were used. ``worst is None`` means the price is unknown.
    """

    worst: float | None
    expected: float | None
    basis: str
    detail: str = ""
    images: int = 1
    parts: tuple[Part, ...] = ()
    expected_images: int | None = None

    @property
    def known(self) -> bool:
        """True when the worst case is known (the spend guard can enforce a limit)."""
        return self.worst is not None

    @property
    def per_image(self) -> float | None:
        """The expected USD per output image (what labels show)."""
        count = self.expected_images or self.images
        return None if self.expected is None else self.expected / max(1, count)

    @property
    def worst_per_image(self) -> float | None:
        """The worst-case USD per output image."""
        return None if self.worst is None else self.worst / max(1, self.images)

    @classmethod
    def unknown(cls, detail: str, images: int = 1) -> Quote:
        """A price no line or listing tells."""
        return cls(None, None, "unknown", detail, images)

    def plus(self, part: Part) -> Quote:
        """The quote with one more charge (the chat path's text tokens)."""
        if part.worst == 0 and part.expected == 0:
            return self
        worst = None if self.worst is None or part.worst is None else self.worst + part.worst
        expected = None if self.expected is None else self.expected + (part.expected or 0.0)
        detail = "; ".join(x for x in (self.detail, part.how) if x)
        return Quote(worst, expected, self.basis, detail, self.images, (*self.parts, part),
                     self.expected_images)


# -- one dimension at a time -------------------------------------------------------------------


def _amount(line: PriceLine, count: int, area: float | None, tokens: int | None) -> float | None:
    """USD of ``line`` for ``count`` images of ``area`` megapixels with ``tokens`` tokens each."""
    if line.unit == "image":
        return line.cost_usd * count
    if line.unit == "request":
        return line.cost_usd if count else 0.0
    if line.unit == "megapixel":
        return None if area is None else line.cost_usd * area * count
    if line.unit == "token":
        return None if tokens is None else line.cost_usd * tokens * count
    return None


def _fits(variant: Variant, order: Order) -> bool:
    """Could a line of this variant be the one billed for ``order``?"""
    if variant.tier and order.tier and variant.tier != order.tier:
        return False
    asked = order.quality if order.quality not in (None, "auto") else None
    return not (variant.quality and asked and variant.quality != asked)


def _exact(specific: list[tuple[PriceLine, Variant]], order: Order) -> list[PriceLine]:
    """The specific lines for the request's own tier (1K when it leaves the size open)."""
    tier = order.tier or "1K"
    return [line for line, v in specific if v.tier in (None, tier)]


def _output_part(lines: Sequence[PriceLine], order: Order, tokens: TokenGuess | None) -> Part:
    read = [(line, read_variant(line.variant)) for line in lines]
    specific = [(line, v) for line, v in read
                if not v.plain and not v.unread and v.size_class is None and _fits(v, order)]
    plain = [line for line, v in read if v.plain]
    classes = [line for line, v in read if v.size_class == "high"]
    unread = [line for line, v in read if v.unread or v.size_class not in (None, "high")]
    exact = _exact(specific, order)
    # A plain line is the price of whatever no variant names (riverflow: 1K beside "2k", "4k")
    base = [line for line, _ in specific] + (plain if not exact else [])
    if not base and not classes and not unread:
        wanted = " ".join(x for x in (order.quality, order.tier) if x) or "this request"
        return Part(OUTPUT, None, None, f"no output_image line prices {wanted}")
    area, count = order.megapixels, order.images
    worst_lines = base + classes + unread
    amounts = [_amount(line, count, area, tokens.worst if tokens else None) for line in worst_lines]
    worst = None if any(a is None for a in amounts) else max(a for a in amounts if a is not None)
    chosen = (exact or plain or [line for line, _ in specific] or worst_lines)[0]
    if classes and (order.high_resolution or not (exact or plain or specific)):
        chosen = classes[0]
    likely = order.expected_images
    expected = _amount(chosen, likely, area, tokens.expected if tokens else None)
    return Part(OUTPUT, worst, expected, _how(chosen, likely, area, tokens, len(worst_lines)))


def _how(line: PriceLine, count: int, area: float | None, tokens: TokenGuess | None,
         candidates: int) -> str:
    unit = {"image": "per image", "request": "per request", "megapixel": "per megapixel",
            "token": "per image token"}.get(line.unit, f"per {line.unit!r}")
    words = f"output_image ${line.cost_usd:g} {unit}"
    if line.variant:
        words += f" ({line.variant})"
    if line.unit == "megapixel" and area is not None:
        words += f" x {area:.2f} MP"
    if line.unit == "token":
        counted = "unknown" if tokens is None or tokens.expected is None else f"{tokens.expected:,}"
        words += f" x {counted} image tokens ({tokens.source if tokens else 'no token count'})"
    if count > 1:
        words += f" x {count} images"
    if candidates > 1:
        words += f"; worst of {candidates} lines that may apply"
    return words


def _input_part(lines: Sequence[PriceLine], order: Order, tokens: TokenGuess | None) -> Part:
    count = len(order.inputs)
    found = [line for line in lines if line.billable in INPUT_BILLABLES]
    if not count or not found:
        return Part("input images", 0.0, 0.0, "no input images" if not count else "no input charge")
    sizes = [size for size in order.inputs if size is not None]
    area = sum(w * h for w, h in sizes) / 1e6 if len(sizes) == count else None
    worst_total, expected_best, words = 0.0, 0.0, []
    for billable in INPUT_BILLABLES:
        group = [line for line in found if line.billable == billable]
        if not group:
            continue
        worst_each = [_input_amount(line, count, area, tokens.input_worst if tokens else None)
                      for line in group]
        if any(a is None for a in worst_each):
            return Part(billable, None, None, f"{billable} per {group[0].unit}: cannot be counted "
                        f"for {count} input image(s)")
        plain = next((line for line in group if not line.variant), group[0])
        expected = _input_amount(plain, count, area, tokens.input_expected if tokens else None)
        worst_total += max(a for a in worst_each if a is not None)
        expected_best = max(expected_best, expected or 0.0)
        words.append(f"{billable} ${plain.cost_usd:g} per {plain.unit} x {count}")
    return Part("input images", worst_total, expected_best, "; ".join(words))


def _input_amount(line: PriceLine, count: int, area: float | None, tokens: int | None) -> float | None:
    if line.unit == "megapixel":
        return None if area is None else line.cost_usd * area
    return _amount(line, count, None, tokens)


def _text_part(lines: Sequence[PriceLine], order: Order) -> Part:
    found = [line for line in lines if line.billable == TEXT]
    if not found:
        return Part(TEXT, 0.0, 0.0, "")
    if any(line.unit != "token" for line in found):
        return Part(TEXT, None, None, f"input_text per {found[0].unit!r}")
    cost = max(line.cost_usd for line in found)
    return Part(TEXT, cost * max(1, order.prompt_bytes), cost * max(1, math.ceil(order.prompt_chars / 4)),
                f"input_text ${cost:g} per token")


def _provider_quote(lines: Sequence[PriceLine], order: Order, tokens: TokenGuess | None) -> Quote:
    strange = [line for line in lines if line.billable not in KNOWN_BILLABLES
               or line.unit not in KNOWN_UNITS]
    outputs = [line for line in lines if line.billable == OUTPUT and line.unit in KNOWN_UNITS]
    parts = [_output_part(outputs, order, tokens), _input_part(lines, order, tokens),
             _text_part(lines, order)]
    parts += [Part(line.billable, None, None, f"an unknown charge: {line.billable} per {line.unit}")
              for line in strange]
    worst = None if any(p.worst is None for p in parts) else sum(p.worst or 0.0 for p in parts)
    expected = None if parts[0].expected is None else sum(p.expected or 0.0 for p in parts)
    by_token = any(line.unit == "token" for line in outputs)
    detail = "; ".join(p.how for p in parts if p.how and (p.worst is None or p.worst > 0))
    basis = "unknown" if worst is None and expected is None else (
        "token estimate" if by_token else "price line")
    return Quote(worst, expected, basis, detail, order.images, tuple(parts), order.expected_images)


def quote(lines: Sequence[PriceLine], order: Order, tokens: TokenGuess | None = None) -> Quote:
    """Price ``order`` from a model's price lines, over every provider endpoint that lists some.

    The worst case is the dearest provider's (``None`` when any provider's is unknown), the
    expected case the cheapest provider's. No lines at all: unknown.
    """
    providers: dict[str | None, list[PriceLine]] = {}
    for line in lines:
        providers.setdefault(line.provider, []).append(line)
    if not providers:
        return Quote.unknown("no price lines", order.images)
    quotes = [_provider_quote(group, order, tokens) for group in providers.values()]
    dearest = max(quotes, key=lambda q: -1.0 if q.worst is None else q.worst)
    worst = None if any(q.worst is None for q in quotes) else dearest.worst
    known = [q for q in quotes if q.expected is not None]
    cheapest = min(known, key=lambda q: q.expected or 0.0) if known else dearest
    unknown_worst = next((q for q in quotes if q.worst is None), None)
    detail = cheapest.detail
    if unknown_worst is not None:
        reason = "; ".join(p.how for p in unknown_worst.parts if p.worst is None)
        detail = f"{detail}; worst case unknown: {reason}" if detail else f"unknown: {reason}"
    elif len(quotes) > 1 and dearest.worst is not None and cheapest.expected is not None \
            and dearest.worst > cheapest.expected + _EPS:
        detail += f"; {len(quotes)} providers, the dearest reserved"
    basis = cheapest.basis if cheapest.expected is not None else "unknown"
    return Quote(worst, cheapest.expected, basis, detail, order.images, cheapest.parts,
                 order.expected_images)


def bill(lines: Sequence[PriceLine], order: Order, tokens: int) -> float:
    """What one provider (the first listed) bills for ``order`` done with ``tokens`` per image.

    The local server's simulated ``usage.cost``: the same arithmetic the client's expected case
    uses, with the counts known exactly. A charge it cannot count bills nothing.
    """
    if not lines:
        return 0.0
    first = lines[0].provider
    exact = TokenGuess(tokens, tokens, "as produced", 258, 258)
    priced = _provider_quote([line for line in lines if line.provider == first], order, exact)
    return round(sum(p.expected or 0.0 for p in priced.parts), 10)


#: Text and reasoning tokens a text+image answer may add beside its images, in the worst case (a
#: recorded gpt-5-image answer carried 2,200 besides its image tokens, 1,792 of them reasoning);
#: the expected case counts a short caption. An allowance, stated on every such quote.
CHAT_TEXT_ALLOWANCE = 4096
CHAT_TEXT_EXPECTED = 256


def chat_text_part(pricing: Mapping[str, float | None], order: Order, *, text_output: bool) -> Part:
    """The chat path's prompt and reply tokens at the ``GET /models`` per-token prices.

    Chat answers bill the prompt at ``pricing.prompt`` and any text or reasoning at
    ``pricing.completion`` (the recorded gemini-2.5-flash-image listing prices both), besides the
    image tokens the endpoints record prices; an image-only model writes no text.
    """
    prompt, completion = pricing.get("prompt") or 0.0, pricing.get("completion") or 0.0
    if prompt < 0 or completion < 0:  # "-1": a router, priced by the model it picks
        return Part("text tokens", None, None, "a router's price: set by the model it picks")
    reply_worst = completion * CHAT_TEXT_ALLOWANCE if text_output else 0.0
    reply_expected = completion * CHAT_TEXT_EXPECTED if text_output else 0.0
    worst = prompt * max(1, order.prompt_bytes) + reply_worst
    expected = prompt * max(1, math.ceil(order.prompt_chars / 4)) + reply_expected
    how = f"prompt and reply text up to {CHAT_TEXT_ALLOWANCE:,} tokens" if text_output else \
        "prompt text"
    return Part("text tokens", worst, expected, how if worst > 0 else "")


def listing_quote(pricing: Mapping[str, float | None], order: Order,
                  tokens: TokenGuess | None) -> Quote:
    """A price from a ``GET /models`` entry alone (no endpoints record): per image or per token."""
    per_image, likely = pricing.get("image_output"), order.expected_images
    if per_image:
        return Quote(per_image * order.images, per_image * likely, "listing",
                     f"pricing.image_output ${per_image:g} per image", order.images,
                     expected_images=likely)
    per_token = pricing.get("image_token")
    if per_token and tokens is not None:
        worst = None if tokens.worst is None else per_token * tokens.worst * order.images
        expected = None if tokens.expected is None else per_token * tokens.expected * likely
        return Quote(worst, expected, "token estimate" if expected is not None else "unknown",
                     f"pricing.image_token ${per_token:g} x {tokens.expected} image tokens "
                     f"({tokens.source})", order.images, expected_images=likely)
    return Quote.unknown("no price line, no listed image price", order.images)
