"""What the page may ask of the kernel: one handler per custom message ``type``.

The page never talks to the API: it sets traits and sends these messages (see js/messages.js
for the replies). A handler may raise a typed error; the widget turns it into the ``error``
trait, since a comm callback that raises only reaches the kernel log and the page would wait.
Everything read from a message is checked here, as input from outside the kernel.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .._core.matrix import expand
from . import data as wd
from . import explore

if TYPE_CHECKING:
    from .widget import ImageGenWidget

__all__ = ["HANDLERS", "set_traits"]

Handler = Callable[["ImageGenWidget", dict[str, Any], Sequence[bytes]], None]


def set_traits(widget: ImageGenWidget, values: dict[str, Any]) -> None:
    """Set traits in the order given, as one sync (the page draws an input image by its name)."""
    with widget.hold_sync():
        for name, value in values.items():
            setattr(widget, name, value)


def _generate(widget: ImageGenWidget, content: dict[str, Any], _buffers: Sequence[bytes]) -> None:
    set_traits(widget, wd.page_inputs(content))
    if expand(widget.prompt) is not None:  # the prompt box marks a matrix: it runs as the grid
        widget.matrix()
    else:
        widget.generate()


def _variations(widget: ImageGenWidget, content: dict[str, Any], _buffers: Sequence[bytes]) -> None:
    count = content.get("count", 4)
    widget.variations(str(content.get("key")), count if isinstance(count, int) else 4)


def _edit(widget: ImageGenWidget, content: dict[str, Any], buffers: Sequence[bytes]) -> None:
    index = content.get("index", 0)
    widget.edit_region(str(content.get("prompt", "")), explore.mask_from_page(content, buffers),
                       str(content.get("key")), index=index if isinstance(index, int) else 0)


def _star(widget: ImageGenWidget, content: dict[str, Any], _buffers: Sequence[bytes]) -> None:
    widget.star(str(content.get("key")), content.get("starred") is not False)


def _prices(widget: ImageGenWidget, content: dict[str, Any], _buffers: Sequence[bytes]) -> None:
    # The picker's page of matches: priced there, not all at once, and off the comm's thread.
    threading.Thread(target=widget.load_prices, args=(content.get("ids"),), daemon=True,
                     name="imagegen-widget-prices").start()


def _image(widget: ImageGenWidget, content: dict[str, Any], _buffers: Sequence[bytes]) -> None:
    key, index = str(content.get("key")), content.get("index", 0)
    reply, buffers = wd.image_reply(widget.kept.get(key), str(content.get("type")), key,
                                    index if isinstance(index, int) else 0)
    widget.send(reply, buffers=buffers)


HANDLERS: dict[str, Handler] = {
    "generate": _generate,
    "variations": _variations,
    "edit": _edit,
    "star": _star,
    "cancel": lambda widget, _content, _buffers: widget.cancel(),
    "clear": lambda widget, _content, _buffers: widget.clear_history(),
    "refresh-models": lambda widget, _content, _buffers: widget.refresh_models(),
    "prices": _prices,
    "drop": lambda widget, content, buffers: set_traits(widget, wd.dropped(content, buffers)),
    "full": _image,
    "download": _image,
}
