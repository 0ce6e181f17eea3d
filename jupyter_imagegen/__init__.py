"""jupyter_imagegen: image generation as a first-class citizen of Jupyter notebooks.

```python
import jupyter_imagegen as ig
result = ig.generate("a watercolour lighthouse at dusk", aspect_ratio="16:9")
result            # shows the image inline; result.image is a PIL image
```

With no ``OPENROUTER_API_KEY`` set, the kit runs offline against its local server.
``%load_ext jupyter_imagegen`` adds the ``%%imagegen`` cell magic.
"""

from __future__ import annotations

from typing import Any

from ._api import (
    agenerate,
    compare,
    default_client,
    generate,
    generate_many,
    is_offline,
    matrix,
    models,
    offline,
    online,
    open,
    price,
    set_default_client,
)
from ._core.aclient import AsyncClient
from ._core.batch import BatchItem, BatchResult, Comparison
from ._core.client import Client, StreamEvent
from ._core.model import Model, Price
from ._core.request import Request
from ._exceptions import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    CancelledError,
    ImageDecodeError,
    ImageGenError,
    IncompleteStreamError,
    InsufficientCreditsError,
    InvalidInputError,
    MemoryLimitError,
    ModelCapabilityError,
    ModerationError,
    NoImageError,
    NotFoundError,
    PathError,
    PermissionDeniedError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
    ResponseError,
    SpendLimitError,
)
from ._results.cache import CacheEntry, ReplayCache
from ._results.credentials import ContentCredentials
from ._results.preview import display_options
from ._results.provenance import save_options
from ._results.result import GeneratedImage, ImageResult
from ._results.store import ImageStore, StoreEntry
from ._version import __version__
from ._wire.common import Usage
from ._wire.prices import Quote
from ._wire.sizes import ASPECT_RATIOS, IMAGE_SIZES

__all__ = [
    "ASPECT_RATIOS",
    "IMAGE_SIZES",
    "APIConnectionError",
    "APIError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "BatchItem",
    "BatchResult",
    "CacheEntry",
    "CancelledError",
    "Client",
    "Comparison",
    "ContentCredentials",
    "GeneratedImage",
    "ImageDecodeError",
    "ImageGenError",
    "ImageGenWidget",
    "ImageResult",
    "ImageStore",
    "IncompleteStreamError",
    "InsufficientCreditsError",
    "InvalidInputError",
    "MemoryLimitError",
    "Model",
    "ModelCapabilityError",
    "ModerationError",
    "NoImageError",
    "NotFoundError",
    "PathError",
    "PermissionDeniedError",
    "Price",
    "ProviderError",
    "Quote",
    "RateLimitError",
    "ReplayCache",
    "Request",
    "RequestTimeoutError",
    "ResponseError",
    "SpendLimitError",
    "StoreEntry",
    "StreamEvent",
    "Usage",
    "__version__",
    "agenerate",
    "compare",
    "default_client",
    "display_options",
    "generate",
    "generate_many",
    "is_offline",
    "load_ipython_extension",
    "matrix",
    "models",
    "offline",
    "online",
    "open",
    "price",
    "save_options",
    "set_default_client",
    "unload_ipython_extension",
]


def __getattr__(name: str) -> Any:
    # The widget pulls in ipywidgets/anywidget: import it only when asked for.
    if name == "ImageGenWidget":
        from ._widget.widget import ImageGenWidget

        return ImageGenWidget
    raise AttributeError(f"module 'jupyter_imagegen' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_imagegen``: register the ``%%imagegen`` magics (imported lazily)."""
    from ._notebook.magic import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext jupyter_imagegen``."""
    from ._notebook.magic import unload_ipython_extension as unload

    unload(ipython)
