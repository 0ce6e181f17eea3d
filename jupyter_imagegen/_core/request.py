"""One request object, built by every front end, validated once against the model's record.

The Python API, the magic, the widget, the CLI and batches all describe a generation the same
way: a :class:`Request`. It is checked once, against the model's own
:class:`~jupyter_imagegen._core.model.Model` record (not against tables a front end keeps), and
then spelled for the wire by one of two adapters. A result keeps its request, so ``edit()``, the
widget's "reuse", the replay-cache key and saved metadata read the same fields on both APIs.

The Image API's options are not a hand-kept list: a keyword the kit has no name for
(``output_compression=80``, or whatever parameter a listing adds) is kept in ``parameters`` and
checked against the model's own descriptor before sending; a model that does not declare it gets a
refusal naming the parameters it does declare, and ``extra_body`` sends a field unchecked.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._exceptions import InvalidInputError, ModelCapabilityError
from .._wire.dataurl import image_size
from .._wire.prices import Order
from .._wire.sizes import parse_size, spell_ratio, spell_tier
from .inputs import ImageURLs, to_image_urls
from .model import API_ONLY, UNDECLARED, Model, largest_area

__all__ = ["OPTION_NAMES", "Request", "order_for"]

#: Keyword arguments a generate call accepts besides prompt and model (the public vocabulary).
OPTION_NAMES = frozenset({
    "images", "aspect_ratio", "image_size", "resolution", "size", "n", "seed", "quality",
    "output_format", "background", "provider", "modalities", "image_config", "messages",
    "extra_body", "api",
})
_APIS = ("chat", "images", "auto")
_PARAMETER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
#: Wire fields the request carries under its own names (passing the wire name is a mistake).
_WIRE_NAMES = {"input_references": "images", "prompt": "the prompt argument",
               "model": "the model argument", "stream": "stream=True on generate()",
               "partial_images": "extra_body"}


def _tier(value: object) -> str | None:
    return None if value is None else spell_tier(value)


@dataclass(frozen=True)
class Request:
    """Everything one generation asks for. Build it with :meth:`build`; it is immutable."""

    prompt: str
    model: str
    images: ImageURLs = field(default_factory=ImageURLs)
    aspect_ratio: str | None = None
    size: str | None = None  # a tier: 0.5K, 1K, 2K, 4K
    pixels: str | None = None  # an explicit WIDTHxHEIGHT (Image API ``size``)
    n: int | None = None
    seed: int | None = None
    quality: str | None = None
    output_format: str | None = None
    background: str | None = None
    provider: Mapping[str, Any] | None = None
    modalities: tuple[str, ...] | None = None
    image_config: Mapping[str, Any] | None = None
    messages: tuple[Mapping[str, Any], ...] = ()
    extra_body: Mapping[str, Any] | None = None
    api: str | None = None  # "chat", "images", "auto", or None for the client's default
    #: Image API parameters the kit has no name for (``output_compression``...), checked against
    #: the model's descriptors; ``None`` when there are none.
    parameters: Mapping[str, Any] | None = None
    #: True when the kit chose ``seed`` (none was given): it is sent and recorded, but it is not
    #: part of what the caller asked for (:meth:`identity`, the replay-cache key, leaves it out).
    auto_seed: bool = False

    @classmethod
    def build(cls, prompt: str, model: str, **options: Any) -> Request:
        """A request from a generate call's arguments; unknown or malformed ones raise.

        ``image_size`` (chat's name) and ``resolution`` (the Image API's) are one field, ``size``;
        a ``size`` of ``WIDTHxHEIGHT`` is kept apart as ``pixels``. Spelling is normalised here,
        once, for every front end: ``16x9`` is ``16:9`` and ``512`` or ``0.5k`` is ``0.5K``.
        """
        parameters = _parameters({k: v for k, v in options.items() if k not in OPTION_NAMES})
        if not isinstance(prompt, str) or not prompt.strip():
            raise InvalidInputError("the prompt is empty: describe the image you want")
        if not isinstance(model, str) or not model.strip():
            raise InvalidInputError("the model is empty: name one, e.g. google/gemini-2.5-flash-image")
        size, pixels = options.get("size"), None
        if isinstance(size, str) and parse_size(size):
            pixels, size = size.strip().lower(), None
        tiers = {t for t in (_tier(options.get("image_size")), _tier(options.get("resolution")),
                             _tier(size)) if t}
        if len(tiers) > 1:
            raise InvalidInputError(f"two different sizes were given ({', '.join(sorted(tiers))}); "
                                    "give one")
        api = options.get("api")
        if api is not None and api not in _APIS:
            raise InvalidInputError(f"api must be 'chat', 'images' or 'auto', not {api!r}")
        n, seed = options.get("n"), options.get("seed")
        for name, value in (("n", n), ("seed", seed)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise InvalidInputError(f"{name} must be a whole number, not {value!r}")
        if n is not None and not 1 <= n <= 10:
            raise InvalidInputError(f"n must be between 1 and 10 (got {n})")
        modalities = options.get("modalities")
        messages: Sequence[Mapping[str, Any]] = options.get("messages") or ()
        return cls(
            prompt=prompt, model=model.strip(), images=to_image_urls(options.get("images")),
            aspect_ratio=_ratio(options.get("aspect_ratio")), size=tiers.pop() if tiers else None,
            pixels=pixels, n=n, seed=seed, quality=_str(options.get("quality")),
            output_format=_str(options.get("output_format")),
            background=_str(options.get("background")), provider=options.get("provider"),
            modalities=tuple(modalities) if modalities is not None else None,
            image_config=options.get("image_config"), messages=tuple(messages),
            extra_body=options.get("extra_body"), api=api, parameters=parameters,
        )

    def options(self) -> dict[str, Any]:
        """The request as a generate call's keyword arguments (the inverse of :meth:`build`).

        A seed the kit chose is left out: these are the caller's options, and a new request
        built from them (an edit) gets a seed of its own.
        """
        opts: dict[str, Any] = {
            "images": self.images, "aspect_ratio": self.aspect_ratio,
            "size": self.pixels or self.size, "n": self.n,
            "seed": None if self.auto_seed else self.seed,
            "quality": self.quality, "output_format": self.output_format,
            "background": self.background, "provider": self.provider,
            "modalities": self.modalities, "image_config": self.image_config,
            "messages": self.messages, "extra_body": self.extra_body, "api": self.api}
        opts.update(self.parameters or {})
        return {k: v for k, v in opts.items() if v is not None and not (
            isinstance(v, tuple) and not v)}

    def with_options(self, prompt: str | None = None, model: str | None = None,
                     **changes: Any) -> Request:
        """A new, checked request: this one's options with ``changes`` (public names) on top.

        ``image_size`` or ``resolution`` in ``changes`` replace the size, as ``size`` does.
        """
        opts = self.options()
        if {"image_size", "resolution"} & set(changes):
            opts.pop("size", None)
        opts.update(changes)
        return Request.build(prompt if prompt is not None else self.prompt, model or self.model, **opts)

    def replace(self, **changes: Any) -> Request:
        """A copy with ``changes`` (e.g. a new prompt and input images for an edit)."""
        return dataclasses.replace(self, **changes)

    def check_api(self, api: str) -> None:
        """Refuse options ``api`` does not have (the other API's), which it would drop unseen."""
        other = "images" if api == "chat" else "chat"
        foreign = [name for name in API_ONLY[other] if getattr(self, name)]
        if foreign == ["parameters"] and self.parameters:
            names = ", ".join(sorted(self.parameters))
            raise InvalidInputError(
                f"{names}: not an option of generate() (valid: {', '.join(sorted(OPTION_NAMES))}),"
                f" and the {api} API takes no Image API parameters. For a model that declares it,"
                f" use api={other!r}; extra_body={{...}} sends a field unchecked")
        if foreign:
            shown = [n for n in foreign if n != "parameters"] + sorted(self.parameters or ())
            raise InvalidInputError(
                f"the {api} API has no option(s) {', '.join(shown)}; "
                f"use api={other!r} or leave them out")

    def validated(self, model: Model, api: str) -> Request:
        """Return self when ``model`` can do this on ``api``; else a typed error, before sending."""
        if not model.outputs_images:
            raise ModelCapabilityError(
                f"{model.id!r} cannot output images (its outputs: "
                f"{', '.join(model.output_modalities)}); pick an image model from client.models()")
        self.check_api(api)
        caps = model.caps(api)
        if caps is None:
            raise ModelCapabilityError(
                f"{model.id!r} is not served by the {api!r} API here (it is on: "
                f"{', '.join(model.apis) or 'none'}); use api='auto' or "
                f"api={next(iter(model.apis), 'auto')!r}")
        if caps.available is False:
            raise ModelCapabilityError(
                f"{model.id!r} is listed, but no provider serves it right now (its endpoints "
                "record lists no endpoint). Nothing was sent; pick another model from "
                "client.models().")
        problems = caps.problems(self, api)
        if problems:
            escape = (" To send a field the listing does not declare anyway, pass it in "
                      "extra_body={...} (unchecked)." if any(UNDECLARED in p for p in problems)
                      else "")
            raise ModelCapabilityError(f"{model.id} on the {api} API does not take "
                                       f"{'; '.join(problems)}. Nothing was sent.{escape}")
        return self

    def identity(self) -> dict[str, Any]:
        """What makes two requests the same generation (the replay-cache key); no delivery knobs.

        The request as the caller gave it: a seed the kit chose is not part of it, so turning
        automatic seeds on does not make every cached call a miss.
        """
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["images"] = list(self.images)
        fields["messages"] = [dict(m) for m in self.messages]
        del fields["auto_seed"]
        if self.auto_seed:
            del fields["seed"]
        return {k: v for k, v in fields.items() if v not in (None, (), [])}

    def params(self) -> dict[str, Any]:
        """The parameters worth keeping with a result (no prompt text, no image payloads).

        This is the request as sent: a seed the kit chose is here, marked ``auto_seed``, and
        the number of input images and history messages (which are not kept) is recorded.
        """
        keep = {k: v for k, v in self.identity().items()
                if k not in ("prompt", "model", "images", "messages")}
        if self.auto_seed and self.seed is not None:
            keep["seed"], keep["auto_seed"] = self.seed, True
        if self.images:
            keep["input_images"] = len(self.images)
        if self.messages:
            keep["input_messages"] = len(self.messages)
        return keep

    # -- seeds and reruns ---------------------------------------------------------------------

    def seeded(self, model: Model | None, api: str, *, enabled: bool = True) -> Request:
        """A copy with a seed the kit chose, where ``model`` takes one on ``api``.

        Why: a good image can then be made again (``result.rerun()``, ``ig.open(path).rerun()``)
        wherever the model honours seeds. The client does this for every request it sends
        unless ``Client(auto_seed=False)`` (then ``enabled`` is false). A given seed, an unknown
        model or one that does not declare ``seed`` on this API leaves the request as it is
        (nothing is sent unasked that the listing does not declare). 31 bits: what every seeded
        API here accepts.
        """
        caps = model.caps(api) if model is not None and enabled else None
        if self.seed is not None or caps is None or not caps.seed:
            return self
        return dataclasses.replace(self, seed=secrets.randbelow(2**31), auto_seed=True)

    def recorded(self, params: Mapping[str, Any]) -> Request:
        """The request as a result's ``params`` say it was sent (the kit's seed put back)."""
        seed = params.get("seed")
        if self.seed is None and params.get("auto_seed") is True and isinstance(seed, int) \
                and not isinstance(seed, bool):
            return dataclasses.replace(self, seed=seed, auto_seed=True)
        return self

    def again(self, **changes: Any) -> Request:
        """A copy with ``changes`` (generate options), its seed kept, to run once more.

        A seed the kit chose stays the kit's (and out of the cache key) while the model stays
        the same; another model gets a seed of its own, since it may not take one.
        """
        if not changes:
            return self
        request = self.with_options(**changes)
        if self.auto_seed and "seed" not in changes and request.model == self.model:
            request = dataclasses.replace(request, seed=self.seed, auto_seed=True)
        return request

    @classmethod
    def from_params(cls, prompt: str, model: str, params: Mapping[str, Any]) -> Request:
        """The request a result's ``params`` record (the inverse of :meth:`params`).

        Input images and history messages are not in ``params`` (their counts are); the API
        that answered is kept, so the request goes where it went before.
        """
        opts = {k: v for k, v in params.items() if k in OPTION_NAMES or k == "pixels"}
        opts.pop("images", None)
        opts.pop("messages", None)
        pixels = opts.pop("pixels", None)
        if pixels:
            opts["size"] = pixels
        if isinstance(opts.get("modalities"), list):
            opts["modalities"] = tuple(opts["modalities"])
        extra = params.get("parameters")
        if isinstance(extra, Mapping):
            opts.update(extra)
        auto = params.get("auto_seed") is True
        if auto:
            opts.pop("seed", None)
        return cls.build(prompt, model, **opts).recorded(params)


def order_for(request: Request, model: Model | None, api: str | None = None) -> Order:
    """What ``request`` asks for in price terms: the images it may get, their size, its inputs.

    The image count is the most the answer may hold: ``n``, else one on the Image API (its
    documented default) and the model's ``max_images`` on chat, whose answers "can" hold several
    (docs 1c9b4627) and where no ``n`` bounds them; the
    size is the explicit pixels, else the tier at the ratio (the largest ratio when none is given);
    input sizes are read from the images' headers (megapixel and tile prices need them).
    """
    images = request.n or (model.max_images if model is not None and api != "images" else 1)
    pixels = parse_size(request.pixels) if request.pixels else None
    width, height = pixels or largest_area(request.aspect_ratio, request.size)
    inputs = tuple(image_size(url) for url in request.images)  # headers only: cheap
    text = request.prompt + "".join(str(message.get("content", "")) for message in request.messages)
    return Order(images=images, tier=request.size, width=width, height=height,
                 quality=request.quality, inputs=inputs, prompt_chars=len(text),
                 prompt_bytes=len(text.encode("utf-8", "replace")), sized=pixels is not None,
                 likely=request.n or 1)


def _parameters(extra: Mapping[str, Any]) -> dict[str, Any] | None:
    """Keywords the kit has no name for, kept as Image API parameters (checked per model later).

    Values are what a descriptor can describe (strings, numbers, booleans); anything structured
    goes in ``extra_body``. A wire name the request spells otherwise says which one to use.
    """
    kept: dict[str, Any] = {}
    for name, value in extra.items():
        if name in _WIRE_NAMES:
            raise InvalidInputError(f"{name!r} is spelled {_WIRE_NAMES[name]} here")
        if not isinstance(name, str) or not _PARAMETER_NAME.match(name):
            raise InvalidInputError(f"unknown option {name!r}; valid: "
                                    f"{', '.join(sorted(OPTION_NAMES))}")
        if value is None:
            continue
        if not isinstance(value, (str, int, float, bool)):
            raise InvalidInputError(f"{name} must be a string, a number or a boolean (the "
                                    f"values a model's descriptor can declare), not {value!r}; "
                                    "send structured fields in extra_body={...}")
        kept[name] = value
    return kept or None


def _ratio(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"aspect_ratio must be a string like '16:9', not {value!r}")
    return spell_ratio(value)


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"expected a non-empty string, got {value!r}")
    return value.strip()
