"""marimo's display protocol for results, batches and comparisons (without importing marimo).

marimo does not run IPython's display machinery: ``_ipython_display_`` is never called there, and
a ``_repr_mimebundle_`` holding several forms (an HTML grid *and* a PNG contact sheet) is sent to
the page whole, so every image travels twice. marimo looks first for ``_display_``, then its own
formatters, then ``_mime_`` (https://docs.marimo.io/guides/integrating_with_marimo/displaying_objects/).
``_mime_`` is the one that needs no marimo import (``_display_`` must return an object marimo
knows how to show, which for HTML means ``mo.Html``), so that is the one implemented here: it
returns exactly one form, the escaped HTML figure the object already builds for Jupyter (images
embedded as their original bytes), so marimo and Jupyter show the same thing.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MarimoDisplay", "marimo_mime"]

_TEXT = "text/plain"


def marimo_mime(obj: Any) -> tuple[str, Any]:
    """One ``(mime, data)`` pair for marimo, taken from the object's own mime bundle.

    Preference: ``text/html`` (the grid with its caption), then an image form (bytes, which
    marimo turns into a data URL itself), then plain text.
    """
    bundle = obj._repr_mimebundle_(include=None, exclude=None)
    data: dict[str, Any] = bundle[0] if isinstance(bundle, tuple) else bundle
    html = data.get("text/html")
    if html:
        return "text/html", html
    for mime, value in data.items():
        if mime.startswith("image/") and isinstance(value, bytes | str) and value:
            return mime, value
    return _TEXT, str(data.get(_TEXT, repr(obj)))


class MarimoDisplay:
    """Mixin for classes with a ``_repr_mimebundle_``: adds marimo's ``_mime_`` protocol."""

    __slots__ = ()

    def _mime_(self) -> tuple[str, Any]:
        """What marimo shows for this object: one HTML figure (see the module docstring)."""
        return marimo_mime(self)
