"""What the widget's page may ask of the kernel (custom messages), kept apart from the widget.

Every handler turns failures into the ``error`` trait: a comm callback that raises would only
reach the kernel log, and the page would wait forever.
"""

from __future__ import annotations

from typing import Any

from ._safeimage import page_image
from ._widget_data import download, error_text

__all__ = ["MessagesMixin"]

_RASTER = ("image/png", "image/jpeg", "image/webp", "image/gif")


class MessagesMixin:
    """``generate``, ``cancel``, ``clear``, ``refresh-models``, ``full`` and ``download``."""

    def _handle_message(self: Any, _widget: Any, content: Any, _buffers: Any) -> None:
        """Custom messages from the page; errors go to the ``error`` trait, never raised."""
        try:
            kind = content.get("type") if isinstance(content, dict) else None
            if kind == "generate":
                # The page sends its inputs along: ipywidgets holds back state updates while one
                # is in flight, so a custom message can overtake the prompt's own sync.
                for name in ("prompt", "model", "aspect_ratio", "image_size"):
                    if isinstance(content.get(name), str):
                        setattr(self, name, content[name])
                if isinstance(content.get("n"), int):
                    self.n = max(1, content["n"])
                if "seed" in content:
                    seed = content["seed"]
                    self.seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else None
                self.generate()
            elif kind == "cancel":
                self.cancel()
            elif kind == "clear":
                self.clear_history()
            elif kind == "refresh-models":
                self.refresh_models()
            elif kind in ("full", "download"):
                self._send_image(kind, str(content.get("key")), int(content.get("index", 0)))
        except Exception as exc:
            self.error = error_text(exc)

    def _send_image(self: Any, kind: str, key: str, index: int) -> None:
        """One full-size image (``full``) or its download file (``download``) as a buffer."""
        result = self._by_key.get(key)
        reply: dict[str, Any] = {"type": kind, "key": key, "index": index}
        if result is None or not 0 <= index < len(result.generated) \
                or result.generated[index].mime not in _RASTER:  # only rasters reach the page
            self.send({**reply, "missing": True})
            return
        image = result.generated[index]
        if kind == "download":
            data, mime, name = download(result, index)
            self.send({**reply, "mime": mime, "name": name}, buffers=[data])
        else:
            width, height = image.size
            data, mime = page_image(image.data, image.mime, index=image.index)  # by magic bytes
            self.send({**reply, "mime": mime, "width": width, "height": height}, buffers=[data])
