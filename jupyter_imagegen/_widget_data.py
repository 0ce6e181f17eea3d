"""What the widget syncs, built from kit objects: plain dicts with ``bytes`` (sent as binary buffers).

Pure helpers, no widget state, so the wire shape of models, thumbnails and history entries is
tested without a kernel. ipywidgets lifts every ``bytes`` value nested in a synced list or dict into
a binary buffer, so images never travel as base64 text in the JSON part of a message.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from ._dataurl import decode_data_url
from ._exceptions import ImageGenError, InvalidInputError, redact
from ._inputs import to_image_urls
from ._models import ModelInfo
from ._protocol import ASPECT_RATIOS, IMAGE_SIZES
from ._results import GeneratedImage, ImageResult
from ._safeimage import page_image

__all__ = ["THUMB_PX", "error_text", "full_image", "history_entry", "input_image", "model_entry",
           "sizes_for"]

#: Longest side of gallery thumbnails: small enough that a long history stays cheap to resend.
THUMB_PX = 160

#: ``image_size`` values per model family. The listing does not say which sizes a model takes,
#: so known families are listed here and anything else is offered every size.
_SIZE_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("google/gemini-2.5-flash-image", ("1K",)),
    ("google/gemini-3", ("1K", "2K", "4K")),
    ("black-forest-labs/flux", ("1K", "2K")),
)


def sizes_for(model_id: str) -> list[str]:
    """The ``image_size`` choices the widget offers for ``model_id``."""
    for prefix, sizes in _SIZE_RULES:
        if model_id.startswith(prefix):
            return list(sizes)
    return list(IMAGE_SIZES)


def model_entry(info: ModelInfo) -> dict[str, Any]:
    """One dropdown entry: id, name, price per image and the controls valid for the model."""
    return {
        "id": info.id,
        "name": info.name,
        "price": info.price_per_image,
        "accepts_images": info.accepts_images,
        "aspect_ratios": list(ASPECT_RATIOS),
        "sizes": sizes_for(info.id),
    }


def full_image(image: GeneratedImage) -> dict[str, Any]:
    """A generated image as sent: the original bytes, unchanged, plus what the page shows."""
    width, height = image.size
    data, mime = page_image(image.data, image.mime, index=image.index)  # raster only, by magic
    return {"data": data, "mime": mime, "width": width, "height": height, "index": image.index}


def _thumbnail(image: GeneratedImage) -> dict[str, Any]:
    pil = image.image.copy()
    pil.thumbnail((THUMB_PX, THUMB_PX))
    buffer = io.BytesIO()
    if pil.mode in ("RGBA", "LA", "P"):
        pil.save(buffer, format="PNG", optimize=False)
        mime = "image/png"
    else:
        pil.convert("RGB").save(buffer, format="JPEG", quality=85)
        mime = "image/jpeg"
    return {"data": buffer.getvalue(), "mime": mime, "width": pil.width, "height": pil.height,
            "index": image.index}


def history_entry(key: str, result: ImageResult) -> dict[str, Any]:
    """A gallery entry: thumbnails and the caption parts (prompt, model, cost) as plain text."""
    return {
        "key": key,
        "prompt": result.prompt,
        "model": result.model,
        "caption": result.caption(),
        "cost": result.cost,
        "text": result.text,
        "thumbs": [_thumbnail(g) for g in result.generated],
        # So "reuse this prompt" brings the shape back too ("" lets the model choose).
        "aspect_ratio": str(_image_config(result).get("aspect_ratio") or ""),
        "image_size": str(_image_config(result).get("image_size") or ""),
    }


def _image_config(result: ImageResult) -> dict[str, Any]:
    config = result.params.get("image_config")
    return dict(config) if isinstance(config, dict) else {}


def input_image(image: Any) -> tuple[bytes, str]:
    """``(bytes, mime)`` for the input slot from anything :meth:`Client.generate` accepts."""
    if isinstance(image, Image.Image):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue(), "image/png"
    urls = to_image_urls(image)
    if len(urls) != 1 or not urls[0].startswith("data:"):
        raise InvalidInputError("the widget's input slot takes one image (PIL image, bytes, path "
                                "or generated image), not a URL or a list")
    mime, data = decode_data_url(urls[0])
    return data, mime


def error_text(exc: BaseException) -> str:
    """A one-line message for the page: the kit's own message, never a traceback or a key."""
    if isinstance(exc, ImageGenError):
        return redact(str(exc))
    return redact(f"{type(exc).__name__}: {exc}")
