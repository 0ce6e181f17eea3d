"""The offline models of the dedicated Image API and their ``GET /images/models`` JSON.

Each entry says what ``POST /images`` accepts for it (aspect ratios, resolution tiers, ``n``,
input references, formats, streaming). All are drawn by the same procedural Pillow renderer as
the chat path; the real-id entries are stand-ins so notebooks written for the service run offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._catalog import _CREATED, _HONEST, _STAND_IN

__all__ = ["PROVIDER_SLUG", "ImageApiModel", "build_image_catalogue"]

PROVIDER_NAME = "jupyter-imagegen offline"
PROVIDER_SLUG = "jupyter-imagegen"
#: The ten ratios of the documented Gemini table, plus ``auto``.
COMMON_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9", "auto")
#: Every ratio the Image API documents.
ALL_RATIOS = ("1:1", "1:2", "1:4", "1:8", "2:1", "2:3", "3:2", "3:4", "4:1", "4:3", "4:5", "5:4",
              "8:1", "9:16", "16:9", "9:19.5", "19.5:9", "9:20", "20:9", "9:21", "21:9", "auto")


@dataclass(frozen=True)
class ImageApiModel:
    """What ``POST /images`` accepts for one model, and its simulated price per image (USD).

    ``output_formats[0]`` is the default format; ``sizes`` (when set) is the ``size`` allowlist;
    ``pixel_sizes`` overrides the 1K pixel size of some ratios (GPT Image's 1536x1024);
    ``partials`` is the number of partial images streamed before each completed one.
    """

    id: str
    name: str
    description: str
    inputs: tuple[str, ...] = ("text",)
    aspect_ratios: tuple[str, ...] = COMMON_RATIOS
    resolutions: tuple[str, ...] = ("512", "1K", "2K")
    output_formats: tuple[str, ...] = ("png",)
    max_n: int = 1
    max_references: int = 0
    seed: bool = True
    streaming: bool = False
    sizes: tuple[str, ...] = ()
    qualities: tuple[str, ...] = ()
    backgrounds: tuple[str, ...] = ()
    pixel_sizes: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False)
    partials: int = 2
    price: str = "0.04"

    @property
    def default_resolution(self) -> str:
        """``1K`` when offered, else the first tier."""
        return "1K" if "1K" in self.resolutions else self.resolutions[0]

    def supported_parameters(self) -> dict[str, Any]:
        """The capability descriptors of ``supported_parameters`` (absent key: unsupported)."""
        params: dict[str, Any] = {
            "aspect_ratio": {"type": "enum", "values": list(self.aspect_ratios)},
            "resolution": {"type": "enum", "values": list(self.resolutions)},
            "n": {"type": "range", "min": 1, "max": self.max_n},
            "output_format": {"type": "enum", "values": list(self.output_formats)},
        }
        if self.seed:
            params["seed"] = {"type": "boolean"}
        if self.max_references:
            params["input_references"] = {"type": "range", "min": 0, "max": self.max_references}
        if self.sizes:
            params["size"] = {"type": "enum", "values": list(self.sizes)}
        if self.qualities:
            params["quality"] = {"type": "enum", "values": list(self.qualities)}
        if self.backgrounds:
            params["background"] = {"type": "enum", "values": list(self.backgrounds)}
        if any(f in self.output_formats for f in ("jpeg", "webp")):
            params["output_compression"] = {"type": "range", "min": 0, "max": 100}
        return params

    def listing_json(self) -> dict[str, Any]:
        """One entry of ``GET /images/models``."""
        return {
            "id": self.id, "name": self.name, "description": self.description,
            "created": _CREATED,
            "architecture": {"input_modalities": list(self.inputs),
                             "output_modalities": ["image"]},
            "supported_parameters": self.supported_parameters(),
            "supports_streaming": self.streaming,
            "endpoints": f"/api/v1/images/models/{self.id}/endpoints",
        }

    def endpoint_json(self) -> dict[str, Any]:
        """The one (offline) endpoint record of ``GET /images/models/{id}/endpoints``."""
        return {
            "provider_name": PROVIDER_NAME, "provider_slug": PROVIDER_SLUG,
            "provider_tag": PROVIDER_SLUG,
            "supported_parameters": self.supported_parameters(),
            "allowed_passthrough_parameters": [], "supports_streaming": self.streaming,
            "pricing": [{"billable": "output_image", "unit": "image",
                         "cost_usd": float(self.price)}],
        }


def _offline() -> list[ImageApiModel]:
    return [
        ImageApiModel("offline/poster", "Offline: Poster",
                      "One PNG per request, every documented aspect ratio (extended ratios get "
                      "derived sizes) and all four resolution tiers." + _HONEST,
                      aspect_ratios=ALL_RATIOS, resolutions=("512", "1K", "2K", "4K"),
                      output_formats=("png", "webp")),
        ImageApiModel("offline/quartet", "Offline: Quartet",
                      "Up to eight variations per request (n), with streamed partial images."
                      + _HONEST, max_n=8, streaming=True, partials=1, price="0.01"),
        ImageApiModel("offline/editor", "Offline: Editor",
                      "Image-to-image: up to four input references; the first is resized to the "
                      "target size, tinted by the prompt's colour words and drawn over. With "
                      "aspect_ratio 'auto' the output follows the first reference." + _HONEST,
                      inputs=("text", "image"), max_references=4,
                      output_formats=("png", "jpeg", "webp")),
        ImageApiModel("offline/photo", "Offline: Photo (JPEG)",
                      "JPEG by default (output_format png or webp on request)." + _HONEST,
                      resolutions=("512", "1K", "2K", "4K"),
                      output_formats=("jpeg", "png", "webp")),
    ]


def _stand_ins() -> list[ImageApiModel]:
    return [
        ImageApiModel("black-forest-labs/flux.2-pro", "Black Forest Labs: FLUX.2 [pro] (offline)",
                      "FLUX.2 [pro]: seeded, up to eight input references." + _STAND_IN + _HONEST,
                      inputs=("text", "image"), resolutions=("1K", "2K"), max_references=8,
                      output_formats=("png", "jpeg"), price="0.03"),
        ImageApiModel("openai/gpt-image-1", "OpenAI: GPT Image 1 (offline)",
                      "GPT Image 1: n up to 10, quality and background (transparent PNG/WebP), "
                      "up to 16 input references, streamed partial images; no seed."
                      + _STAND_IN + _HONEST,
                      inputs=("text", "image"), aspect_ratios=("1:1", "3:2", "2:3", "auto"),
                      resolutions=("1K",), output_formats=("png", "jpeg", "webp"), max_n=10,
                      max_references=16, seed=False, streaming=True,
                      sizes=("1024x1024", "1536x1024", "1024x1536", "auto"),
                      qualities=("auto", "low", "medium", "high"),
                      backgrounds=("auto", "transparent", "opaque"),
                      pixel_sizes={"1:1": (1024, 1024), "3:2": (1536, 1024),
                                   "2:3": (1024, 1536)},
                      price="0.042"),
        ImageApiModel("bytedance-seed/seedream-4.5", "ByteDance Seed: Seedream 4.5 (offline)",
                      "Seedream 4.5: 1K/2K/4K, n up to 10, seeded, up to ten input references."
                      + _STAND_IN + _HONEST,
                      inputs=("text", "image"), resolutions=("1K", "2K", "4K"), max_n=10,
                      max_references=10, output_formats=("png", "jpeg"), price="0.04"),
    ]


def build_image_catalogue(aliases: bool = True) -> dict[str, ImageApiModel]:
    """The Image API models by id: the offline ones and (optionally) real-id stand-ins."""
    return {spec.id: spec for spec in _offline() + (_stand_ins() if aliases else [])}
