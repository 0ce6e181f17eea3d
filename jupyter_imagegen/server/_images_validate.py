"""Validate a ``POST /images`` body the way the service does, or say why not.

A model the Image API does not serve is refused with the docs' availability errors
(errors-and-debugging at 4e27fe52): a model only chat/completions serves gets ``wrong_endpoint``
(400, ``constraint.detail`` naming the endpoint to retry on; no real answer to this case is
recorded, and this is the documented one), a listed model whose endpoints record lists no endpoint
(meta/muse-image) gets ``no_endpoints`` (404).

The model's listed ``supported_parameters`` decide (an absent key means unsupported, as the
docs say). A value outside the documented vocabulary is a 400. A documented ``aspect_ratio`` the
model does not list is clamped to its closest listed ratio ("Providers clamp to their supported
subset"); parameters a model does not list at all (``quality``, ``seed``, ``background``,
``resolution``, ``output_format``) are ignored, as the docs say providers do, and ``stream`` is
ignored by models that cannot stream (they answer in one piece). Listed parameters are checked
against their listed values, whatever they are (an ``enum``'s values, a ``range``'s bounds, so a
parameter a future listing adds is held to its descriptor too), ``n`` above the listed maximum is
refused (single-image providers reject ``n > 1``), and fewer ``input_references`` than the listed
minimum is a 400 (a style model needs a reference; the wording is this server's own).
"""

from __future__ import annotations

import math
from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image

from jupyter_imagegen._wire.images import (
    IMAGES_OUTPUT_FORMATS,
    IMAGES_RESOLUTIONS,
    images_pixel_size,
    parse_size,
)

from ._availability import availability_body
from ._chat_validate import Rejected, _decode_inputs, model_not_found
from ._images_catalog import ALL_RATIOS, ImageApiModel
from ._render import fresh_seed

__all__ = ["ImagesRequest", "parse_images_request"]

_DRAWN = ("png", "jpeg", "webp")  # svg (vectorising models) is not drawn offline: default format
_MAX_SIDE = 4096
_MIN_SIDE = 64


@dataclass(frozen=True)
class ImagesRequest:
    """A valid Image API request, reduced to what the renderer and the responses need."""

    spec: ImageApiModel
    prompt: str
    n: int
    size: tuple[int, int]
    resolution: str
    aspect_ratio: str
    output_format: str
    quality: str | None
    background: str | None
    compression: int | None
    seed: int | None
    stream: bool
    partials: int
    inputs: tuple[Image.Image, ...]
    inputs_digest: str

    @property
    def mime(self) -> str:
        """The media type of the output images."""
        return IMAGES_OUTPUT_FORMATS[self.output_format]


def _bad(message: str) -> Rejected:
    return Rejected(400, message, {"error_type": "invalid_request"})


def _enum(spec: ImageApiModel, name: str, value: Any, allowed: tuple[str, ...],
          vocabulary: tuple[str, ...] = ()) -> str | None:
    """A listed value; ``None`` when absent or when the model does not list the parameter."""
    if value is None:
        return None
    if vocabulary and (not isinstance(value, str) or value not in vocabulary):
        raise _bad(f"Invalid {name} {value!r}; valid values: {', '.join(vocabulary)}")
    if not allowed:
        return None
    if not isinstance(value, str) or value not in allowed:
        raise _bad(f"Invalid {name} {value!r} for {spec.id}; valid values: {', '.join(allowed)}")
    return value


def _int(name: str, value: Any, low: int, high: int | None = None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        raise _bad(f"{name} must be between {low} and {high}, got {value}")
    return value


def _reference_urls(spec: ImageApiModel, refs: Any) -> list[str]:
    if refs is None:
        refs = []
    if not isinstance(refs, list):
        raise _bad("input_references must be an array of {type: 'image_url', image_url: {url}}")
    urls = []
    for i, ref in enumerate(refs):
        image_url = ref.get("image_url") if isinstance(ref, Mapping) else ref
        url = image_url.get("url") if isinstance(image_url, Mapping) else image_url
        if not isinstance(url, str) or not url:
            raise _bad(f"input_references[{i}] needs an image_url.url string")
        urls.append(url)
    if len(urls) > spec.max_references:
        raise _bad(f"Too many input_references for {spec.id}: got {len(urls)}, the maximum is "
                   f"{spec.max_references}")
    if len(urls) < spec.min_references:
        raise _bad(f"Too few input_references for {spec.id}: got {len(urls)}, the minimum is "
                   f"{spec.min_references}")
    return urls


#: Fields checked on their own above (or not descriptor-shaped); the rest meet their descriptor.
_OWN_CHECKS = frozenset({"model", "prompt", "n", "resolution", "aspect_ratio", "output_format",
                         "quality", "background", "output_compression", "seed", "stream",
                         "partial_images", "provider", "input_references", "size"})


def _declared(spec: ImageApiModel, body: Mapping[str, Any]) -> None:
    """Every other listed parameter the body carries, against its own enum or range."""
    for name, descriptor in spec.params.items():
        value = body.get(name)
        if name in _OWN_CHECKS or value is None or not isinstance(descriptor, Mapping):
            continue
        kind = descriptor.get("type")
        if kind == "enum" and str(value) not in descriptor.get("values", ()):
            raise _bad(f"Invalid {name} {value!r} for {spec.id}; valid values: "
                       f"{', '.join(map(str, descriptor.get('values', ())))}")
        if kind == "range" and (isinstance(value, bool) or not isinstance(value, (int, float))
                                or not descriptor.get("min", value) <= value
                                <= descriptor.get("max", value)):
            raise _bad(f"{name} must be between {descriptor.get('min')} and "
                       f"{descriptor.get('max')}, got {value!r}")


def _not_served(model: str, spec: ImageApiModel | None, chat: Container[str]) -> Rejected | None:
    """The availability error for a model this API does not serve, or ``None`` when it does."""
    if spec is None and model in chat:
        body = availability_body("wrong_endpoint", model, endpoint="/api/v1/chat/completions")
        return Rejected(400, body["error"]["message"], envelope=body)
    if spec is None:
        return model_not_found(model)
    if not spec.served:
        body = availability_body("no_endpoints", model)
        return Rejected(404, body["error"]["message"], envelope=body)
    return None


def _tier_of(size: tuple[int, int]) -> str:
    edge = math.sqrt(size[0] * size[1])
    return min(IMAGES_RESOLUTIONS, key=lambda t: abs(math.log2(edge / (1024 * IMAGES_RESOLUTIONS[t]))))


def _ratio_of(ratio: str) -> float:
    left, _, right = ratio.partition(":")
    return float(left) / float(right)


def _closest(spec: ImageApiModel, aspect: float) -> str:
    choices = [r for r in spec.aspect_ratios if r != "auto"] or ["1:1"]
    return min(choices, key=lambda r: abs(math.log(_ratio_of(r) / aspect)))


def _closest_ratio(spec: ImageApiModel, image: Image.Image) -> str:
    return _closest(spec, image.width / max(1, image.height))


def _ratio(spec: ImageApiModel, value: Any) -> str | None:
    """The documented ratio asked for, clamped to the model's listed subset."""
    if value is None:
        return None
    if not isinstance(value, str) or value not in ALL_RATIOS:
        raise _bad(f"Invalid aspect_ratio {value!r}; valid values: {', '.join(ALL_RATIOS)}")
    if not spec.aspect_ratios or value == "auto" or value in spec.aspect_ratios:
        return value if spec.aspect_ratios or value == "auto" else None
    return _closest(spec, _ratio_of(value))


def _explicit_size(spec: ImageApiModel, size: str, ratio: str | None,
                   resolution: str | None) -> tuple[int, int]:
    pixels = parse_size(size)
    if pixels is None:
        tiers = ", ".join(spec.resolutions or ("1K",))
        raise _bad(f"Invalid size {size!r} for {spec.id}; valid values: a tier ({tiers}), "
                   "'auto' or WIDTHxHEIGHT")
    if not all(_MIN_SIDE <= side <= _MAX_SIDE for side in pixels):
        raise _bad(f"size {size!r} is out of range: each side must be {_MIN_SIDE}-{_MAX_SIDE}")
    if ratio not in (None, "auto") and abs(math.log(pixels[0] / pixels[1] / _ratio_of(ratio))) > 0.03:
        raise _bad(f"size {size!r} conflicts with aspect_ratio {ratio!r}; send one of them")
    if resolution is not None and _tier_of(pixels) != resolution:
        raise _bad(f"size {size!r} conflicts with resolution {resolution!r}; send one of them")
    return pixels


def parse_images_request(body: Any, catalogue: Mapping[str, ImageApiModel],
                         chat: Container[str] = ()) -> ImagesRequest:
    """Check ``body`` against the image catalogue; raise :class:`Rejected` like the service.

    ``chat`` names the image models only chat/completions serves (``wrong_endpoint`` here).
    """
    if not isinstance(body, Mapping):
        raise _bad("Request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("No model specified: 'model' must be a model id string")
    spec = catalogue.get(model)
    refusal = _not_served(model, spec, chat)
    if refusal is not None or spec is None:
        raise refusal or model_not_found(model)
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise _bad("'prompt' is required and must be a non-empty string")

    n = _int("n", body.get("n"), 1, 10) or 1
    if n > spec.max_n:
        raise _bad(f"{spec.id} generates at most {spec.max_n} image(s) per request; got n={n}")
    resolution = _enum(spec, "resolution", body.get("resolution"), spec.resolutions,
                       tuple(IMAGES_RESOLUTIONS))
    ratio = _ratio(spec, body.get("aspect_ratio"))
    fmt = _enum(spec, "output_format", body.get("output_format"), spec.output_formats,
                tuple(IMAGES_OUTPUT_FORMATS))
    fmt = fmt if fmt in _DRAWN else spec.default_format
    quality = _enum(spec, "quality", body.get("quality"), spec.qualities,
                    ("auto", "low", "medium", "high"))
    background = _enum(spec, "background", body.get("background"), spec.backgrounds,
                       ("auto", "transparent", "opaque"))
    if background == "transparent" and fmt not in ("png", "webp"):
        raise _bad(f"background 'transparent' needs an alpha-capable output_format (png or "
                   f"webp), not {fmt!r}")
    compression = _int("output_compression", body.get("output_compression"), 0, 100)
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise _bad(f"seed must be an integer, got {seed!r}")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _bad(f"stream must be a boolean, got {stream!r}")
    stream = stream and spec.streaming  # the others "ignore this flag and return a buffered response"
    partials = _int("partial_images", body.get("partial_images"), 0, 3)
    provider = body.get("provider")
    if provider is not None and not isinstance(provider, Mapping):
        raise _bad("provider must be an object")

    _declared(spec, body)
    urls = _reference_urls(spec, body.get("input_references"))
    inputs, digest = _decode_inputs(urls)

    size_value = body.get("size")
    pixels: tuple[int, int] | None = None
    if size_value is not None:
        if not isinstance(size_value, str):
            raise _bad(f"size must be a string, got {size_value!r}")
        tier = next((t for t in IMAGES_RESOLUTIONS if t.lower() == size_value.lower()), None)
        if tier is not None:
            if resolution is not None and resolution != tier:
                raise _bad(f"size {size_value!r} conflicts with resolution {resolution!r}")
            resolution = _enum(spec, "resolution", tier, spec.resolutions) or resolution
        elif size_value != "auto":
            pixels = _explicit_size(spec, size_value, ratio, resolution)
    resolution = resolution or spec.default_resolution
    ratio = ratio or "auto"
    if pixels is None:
        shaped = ratio if ratio != "auto" else (
            _closest_ratio(spec, inputs[0]) if inputs else "1:1")
        pixels = images_pixel_size(shaped, resolution)
    return ImagesRequest(
        spec=spec, prompt=prompt, n=n, size=pixels, resolution=resolution, aspect_ratio=ratio,
        output_format=fmt, quality=quality, background=background, compression=compression,
        seed=seed if spec.seed and seed is not None else fresh_seed(), stream=stream,
        partials=spec.partials if partials is None else partials, inputs=inputs,
        inputs_digest=digest,
    )
