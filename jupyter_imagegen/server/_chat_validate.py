"""Validate a ``POST /chat/completions`` body the way the service does, or say why not.

Each rejection carries the HTTP status and message a client would meet online, so error handling
written against this server holds up against the real one. A model this endpoint does not serve
is refused in the order the real service refuses it (each wording cited where it is built):
modalities the model cannot output first (404 "No endpoints found that support the requested
output modalities"), then, for models only the Image API serves, the 500 recorded for some of them
with ``["image"]``, else the 404 "... Use the /api/v1/images endpoint instead.".
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image

from jupyter_imagegen._exceptions import ImageDecodeError
from jupyter_imagegen._wire.dataurl import decode_data_url
from jupyter_imagegen._wire.images import images_pixel_size
from jupyter_imagegen._wire.sizes import ASPECT_RATIOS, IMAGE_SIZES, pixel_size

from ._chat_catalog import ModelSpec
from ._data import catalogue_data
from ._images_catalog import ImageApiModel
from ._render import fresh_seed

__all__ = ["ChatRequest", "Rejected", "parse_chat_request"]

_MODALITIES = ("text", "image", "audio")


class Rejected(Exception):
    """A request the service would refuse: ``status``, ``message`` and optional ``metadata``.

    ``availability`` is the additive ``error.availability`` object of model-availability errors.
    """

    def __init__(self, status: int, message: str, metadata: Mapping[str, Any] | None = None,
                 availability: Mapping[str, Any] | None = None,
                 envelope: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.metadata = dict(metadata or {})
        self.availability = dict(availability) if availability else None
        self.envelope = dict(envelope) if envelope else None  # a whole body, as the docs shape it

    def body(self) -> dict[str, Any]:
        """The JSON error envelope (``{"error": {code, message, metadata?, availability?}}``)."""
        if self.envelope is not None:
            return dict(self.envelope)
        err: dict[str, Any] = {"code": self.status, "message": self.message}
        if self.metadata:
            err["metadata"] = self.metadata
        if self.availability:
            err["availability"] = self.availability
        return {"error": err}


def model_not_found(model: str) -> Rejected:
    """An unknown model id: the docs' ``model_not_found`` message and availability object."""
    return Rejected(400, f"{model} is not a valid model ID", availability={
        "code": "model_not_found", "retryable": False, "requested_models": [model],
        "docs_url": "https://openrouter.ai/docs/errors#model_not_found"})


def image_api_only(model: str) -> Rejected:
    """A model only the Image API serves, asked on chat/completions (wording as recorded).

    ``{"error": {"message": ..., "code": 404}}`` as quoted for qwen/qwen-image-3 and
    openai/gpt-image-2 (openrouter-changes-2026.md, "Not in the docs but in real traffic"), and
    for meta/muse-image with ``modalities: ["image"]``.
    """
    return Rejected(404, f"{model} is an image generation model and cannot be used with the "
                    "chat/completions endpoint. Use the /api/v1/images endpoint instead.")


def wrong_modalities(asked: tuple[str, ...], endpoints: int) -> Rejected:
    """Modalities no endpoint of the model outputs: the real 404 and its routing metadata.

    As recorded for bytedance-seed/seedream-5-0-lite with ``["image", "text"]``
    (HKUDS/DeepTutor#1348): ``{"error": {"message": "No endpoints found that support the
    requested output modalities: image, text", "code": 404, "metadata": {"routing_funnel":
    [{"step": "Initial Endpoints", "endpoint_count": 1}], "failed_routing_step": "Filter by Model
    Output Modalities"}}}``; the same message for openai/gpt-image-2 in BerriAI/litellm#34908.
    """
    return Rejected(404, "No endpoints found that support the requested output modalities: "
                    f"{', '.join(asked)}", {
                        "routing_funnel": [{"step": "Initial Endpoints",
                                            "endpoint_count": max(1, endpoints)}],
                        "failed_routing_step": "Filter by Model Output Modalities"})


def _image_api_refusal(model: str, outputs: tuple[str, ...], endpoints: int,
                       modalities: tuple[str, ...] | None) -> Rejected:
    """Why chat/completions refuses a model only the Image API serves, in the real order.

    Modalities it cannot output come first (a public image-gen plugin saw the modalities 404 for
    meta/muse-image with ``["image", "text"]``, then the "/api/v1/images" 404 with ``["image"]``).
    Models in the data's ``chat_server_error`` answer ``["image"]`` with a bare 500
    (SillyTavern/SillyTavern#5962: bytedance-seed/seedream-5-0-pro; no body was published, so
    the generic envelope is sent).
    """
    if modalities is not None and not set(modalities) <= set(outputs):
        return wrong_modalities(modalities, endpoints)
    if modalities == ("image",) and model in catalogue_data()["chat_server_error"]:
        return Rejected(500, "Internal Server Error")
    return image_api_only(model)


@dataclass(frozen=True)
class ChatRequest:
    """A valid request, reduced to what the renderer and the response builder need."""

    requested_model: str
    spec: ModelSpec
    prompt: str
    inputs: tuple[Image.Image, ...]
    inputs_digest: str
    modalities: tuple[str, ...] | None
    aspect_ratio: str
    image_size: str
    seed: int | None
    stream: bool

    @property
    def size(self) -> tuple[int, int]:
        """Output size in pixels, from the documented aspect ratio and size tables.

        Ratios beyond the chat table (a model's listed extended ratios, such as 1:4 for Gemini
        3.1 Flash Image) keep the 1K area, as the Image API sizes them.
        """
        if self.aspect_ratio in ASPECT_RATIOS:
            return pixel_size(self.aspect_ratio, self.image_size)
        tier = "512" if self.image_size == "0.5K" else self.image_size
        return images_pixel_size(self.aspect_ratio, tier)

    @property
    def wants_images(self) -> bool:
        """True when the request asked for images (``"image"`` in ``modalities``)."""
        return self.modalities is not None and "image" in self.modalities


def _user_content(messages: list[Any]) -> tuple[str, list[str]]:
    """Text and image URLs of the last user message (earlier turns are context only)."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content, []
        texts, urls = [], []
        for part in content if isinstance(content, list) else ():
            if not isinstance(part, Mapping):
                raise Rejected(400, "Each content part must be an object")
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif part.get("type") == "image_url":
                image_url = part.get("image_url")
                url = image_url.get("url") if isinstance(image_url, Mapping) else image_url
                if not isinstance(url, str) or not url:
                    raise Rejected(400, "image_url parts need an image_url.url string")
                urls.append(url)
        return " ".join(texts), urls
    raise Rejected(400, "messages must contain a user message")


def _decode_inputs(urls: list[str]) -> tuple[tuple[Image.Image, ...], str]:
    digest = hashlib.sha256()
    images = []
    for i, url in enumerate(urls):
        if not url.startswith("data:"):
            raise Rejected(400, f"Input image {i}: the offline server cannot download {url[:60]!r};"
                           " send the image as a data URL",
                           {"error_type": "image_download_failed"})
        try:
            _, raw = decode_data_url(url, index=i)
            image = Image.open(io.BytesIO(raw))
            image.load()
        except (ImageDecodeError, OSError, ValueError) as exc:
            raise Rejected(400, f"Input image {i} is not a valid image: {exc}",
                           {"error_type": "invalid_image"}) from None
        digest.update(raw)
        images.append(image)
    return tuple(images), digest.hexdigest()


def _closest_ratio(image: Image.Image) -> str:
    aspect = image.width / max(1, image.height)
    return min(ASPECT_RATIOS, key=lambda r: abs(ASPECT_RATIOS[r][0] / ASPECT_RATIOS[r][1] - aspect))


def _no_endpoints(what: str) -> Rejected:
    return Rejected(404, f"No endpoints found that support {what}")


def _modalities(body: Mapping[str, Any]) -> tuple[str, ...] | None:
    modalities = body.get("modalities")
    if modalities is None:
        return None
    if not isinstance(modalities, list) or not modalities or not all(
            m in _MODALITIES for m in modalities):
        raise Rejected(400, "modalities must be a non-empty array of "
                       f"{', '.join(map(repr, _MODALITIES))}; got {modalities!r}")
    return tuple(modalities)


def _endpoint_count(image: ImageApiModel | None) -> int:
    return len(image.endpoints) if image is not None and image.endpoints else 1


def parse_chat_request(body: Any, catalogue: Mapping[str, ModelSpec],
                       images: Mapping[str, ImageApiModel] | None = None) -> ChatRequest:
    """Check ``body`` against the catalogue; raise :class:`Rejected` like the service would.

    ``images`` is the Image API catalogue: a model only it serves is refused here as the real
    service refuses it (see :func:`_image_api_refusal`).
    """
    images = images or {}
    if not isinstance(body, Mapping):
        raise Rejected(400, "Request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise Rejected(400, "No model specified: 'model' must be a model id string")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Rejected(400, "'messages' is required and must be a non-empty array")
    if not all(isinstance(m, Mapping) and isinstance(m.get("role"), str) for m in messages):
        raise Rejected(400, "Each message must be an object with a 'role'")
    modalities = _modalities(body)
    spec = catalogue.get(model)
    image = images.get(model)
    if spec is None or not spec.chat:
        if image is not None:
            raise _image_api_refusal(model, image.outputs, _endpoint_count(image), modalities)
        if spec is None:
            raise model_not_found(model)
        raise _image_api_refusal(model, spec.outputs, 1, modalities)
    if spec.route_to:
        spec = catalogue[spec.route_to]
    asked = modalities or ("text",)
    if not set(asked) <= set(spec.outputs):
        raise wrong_modalities(asked, _endpoint_count(image))

    config = body.get("image_config")
    if config is not None and not isinstance(config, Mapping):
        raise Rejected(400, "image_config must be an object")
    config = config or {}
    ratio = config.get("aspect_ratio")
    ratios = [*ASPECT_RATIOS, *(r for r in spec.ratios if r not in ASPECT_RATIOS and r != "auto")]
    if ratio is not None and ratio not in ratios:
        raise Rejected(400, f"Invalid image_config.aspect_ratio {ratio!r}; valid values: "
                       f"{', '.join(ratios)}")
    image_size = config.get("image_size")
    if image_size is not None and image_size not in IMAGE_SIZES:
        raise Rejected(400, f"Invalid image_config.image_size {image_size!r}; valid values: "
                       f"{', '.join(IMAGE_SIZES)}")
    if image_size is not None and image_size not in spec.image_sizes:
        raise Rejected(400, f"{spec.id} does not support image_size {image_size!r}; valid values:"
                       f" {', '.join(spec.image_sizes)}")

    seed = body.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise Rejected(400, f"seed must be an integer, got {seed!r}")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise Rejected(400, f"stream must be a boolean, got {stream!r}")

    prompt, urls = _user_content(list(messages))
    if urls and not spec.accepts_images:
        raise _no_endpoints("image input")
    inputs, digest = _decode_inputs(urls)
    if ratio is None:
        ratio = _closest_ratio(inputs[0]) if inputs else "1:1"
    return ChatRequest(
        requested_model=model, spec=spec, prompt=prompt, inputs=inputs, inputs_digest=digest,
        modalities=modalities, aspect_ratio=ratio, image_size=image_size or "1K",
        # No seed, or a model whose listing does not take one: a new picture each time, as online.
        seed=seed if seed is not None and "seed" in spec.parameters else fresh_seed(),
        stream=stream,
    )
