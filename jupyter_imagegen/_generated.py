"""One generated image: its original bytes, their type, and a lazily decoded PIL image.

The original bytes are what ``save()`` writes and the store keeps; decoding happens on first use,
pixel-capped (:mod:`._safeimage`), and what a page is handed is raster by magic bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from ._dataurl import EXTENSIONS, encode_data_url
from ._safeimage import open_image, page_image

__all__ = ["GeneratedImage"]


@dataclass(eq=False)
class GeneratedImage:
    """One generated image: the original encoded bytes, their mime, and a lazily decoded PIL image."""

    data: bytes
    mime: str
    index: int = 0
    _pil: Image.Image | None = field(default=None, repr=False)

    @property
    def image(self) -> Image.Image:
        """The decoded PIL image (decoded once, on first use)."""
        if self._pil is None:
            self._pil = open_image(self.data, index=self.index)  # pixel-capped
        return self._pil

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return self.image.size

    @property
    def extension(self) -> str:
        """File extension for the mime, with the dot (``.png``)."""
        return EXTENSIONS.get(self.mime, ".bin")

    @property
    def data_url(self) -> str:
        """The image as a base64 data URL (to send it back as an input image)."""
        return encode_data_url(self.data, self.mime)

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        width, height = self.size
        shown, mime = page_image(self.data, self.mime, index=self.index)  # raster only
        data = {mime: shown, "text/plain": f"<GeneratedImage {self.mime} {width}x{height}>"}
        return data, {mime: {"width": width, "height": height}}

    def __repr__(self) -> str:
        return f"<GeneratedImage {self.mime} {len(self.data)} bytes index={self.index}>"
