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

from ._aclient import AsyncClient
from ._batch import BatchItem, BatchResult
from ._cache import CacheEntry, ReplayCache
from ._client import Client, StreamEvent
from ._compare import Comparison, compare
from ._default import (
    agenerate,
    default_client,
    generate,
    generate_many,
    is_offline,
    models,
    offline,
    online,
    set_default_client,
)
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
    ModelCapabilityError,
    ModerationError,
    NoImageError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
    ResponseError,
    SpendLimitError,
)
from ._imagesapi import ImageModelInfo
from ._model import Model, Price
from ._models import ModelInfo
from ._preview import display_options
from ._protocol import ASPECT_RATIOS, IMAGE_SIZES, Usage
from ._request import Request
from ._results import GeneratedImage, ImageResult
from ._store import ImageStore, StoreEntry
from ._version import __version__

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
    "GeneratedImage",
    "ImageDecodeError",
    "ImageGenError",
    "ImageGenWidget",
    "ImageModelInfo",
    "ImageResult",
    "ImageStore",
    "IncompleteStreamError",
    "InsufficientCreditsError",
    "InvalidInputError",
    "Model",
    "ModelCapabilityError",
    "ModelInfo",
    "ModerationError",
    "NoImageError",
    "NotFoundError",
    "PermissionDeniedError",
    "Price",
    "ProviderError",
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
    "models",
    "offline",
    "online",
    "set_default_client",
    "unload_ipython_extension",
]


def __getattr__(name: str) -> Any:
    # The widget pulls in ipywidgets/anywidget: import it only when asked for.
    if name == "ImageGenWidget":
        from ._widget import ImageGenWidget

        return ImageGenWidget
    raise AttributeError(f"module 'jupyter_imagegen' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_imagegen``: register the ``%%imagegen`` magics (imported lazily)."""
    from ._magic import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext jupyter_imagegen``."""
    from ._magic import unload_ipython_extension as unload

    unload(ipython)
