"""Turn what users hold (PIL images, bytes, paths, URLs, earlier results) into image URLs to send."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Union

from PIL import Image

from .._exceptions import ImageDecodeError, InvalidInputError
from .._results.result import GeneratedImage, ImageResult
from .._wire.dataurl import decode_data_url, encode_data_url, sniff_mime

__all__ = ["ImageInput", "ImageURLs", "to_image_urls"]

#: Anything accepted as one input image; a list (or tuple) of these is accepted too.
ImageInput = Union[Image.Image, bytes, bytearray, str, "os.PathLike[str]", GeneratedImage, ImageResult]


def _flatten(images: object) -> Iterable[object]:
    if images is None:
        return []
    if isinstance(images, (str, bytes, bytearray, os.PathLike, Image.Image, GeneratedImage)):
        return [images]
    if isinstance(images, ImageResult):  # a result: all of its images
        return list(images.generated)
    if not isinstance(images, Iterable):
        raise InvalidInputError(
            f"cannot use {type(images).__name__} as input images: pass a PIL image, bytes, "
            "a file path, a data/https URL, a result, or a list of those")
    flat: list[object] = []
    for item in images:  # a list may mix results (all their images) with single images
        flat.extend(item.generated if isinstance(item, ImageResult) else [item])
    return flat


def _one(item: object, index: int) -> str:
    if isinstance(item, Image.Image):
        buffer = io.BytesIO()
        mode_ok = item.mode in ("RGB", "RGBA", "L", "LA", "P", "1")
        (item if mode_ok else item.convert("RGBA")).save(buffer, format="PNG", compress_level=1)
        return encode_data_url(buffer.getvalue(), "image/png")
    if isinstance(item, GeneratedImage):
        return encode_data_url(item.data, item.mime)
    if isinstance(item, (bytes, bytearray)):
        data = bytes(item)
        if sniff_mime(data) is None:
            raise InvalidInputError(f"input image {index}: bytes are not a PNG, JPEG, WebP or GIF image")
        return encode_data_url(data)
    if isinstance(item, str) and item.startswith("data:"):
        try:
            decode_data_url(item, index=index)
        except ImageDecodeError as exc:
            raise InvalidInputError(f"input {exc}") from None
        return item
    if isinstance(item, str) and item.startswith(("https://", "http://")):
        return item
    if isinstance(item, (str, os.PathLike)):
        path = Path(os.fspath(item)).expanduser()
        if not path.is_file():
            raise InvalidInputError(f"input image {index}: no such file: {str(path)!r}")
        data = path.read_bytes()
        if sniff_mime(data) is None:
            raise InvalidInputError(f"input image {index}: {path.name!r} is not a PNG, JPEG, WebP or GIF")
        return encode_data_url(data)
    raise InvalidInputError(
        f"input image {index}: cannot use {type(item).__name__}; pass a PIL image, bytes, a path, "
        "a data/https URL or a generated image")


class ImageURLs(tuple[str, ...]):
    """Input images already normalised (and their data URLs checked) by :func:`to_image_urls`."""

    __slots__ = ()


def to_image_urls(images: object) -> ImageURLs:
    """Normalise any accepted input-image value (or list of them) to URLs for ``image_url`` parts.

    Normalising is idempotent and free the second time: encoding PIL images and checking data
    URLs costs milliseconds for large inputs, and a call may need the URLs in two places.
    """
    if isinstance(images, ImageURLs):
        return images
    return ImageURLs(_one(item, i) for i, item in enumerate(_flatten(images)))
