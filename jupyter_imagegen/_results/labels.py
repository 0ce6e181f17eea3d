"""Honest labels: which results came from the offline renderer, and how money is written.

The offline server prices generations like the real service so spend limits can be tried, but
nobody pays: captions, reprs and ``%imagegen config`` say "offline" and "simulated" for them.
The registry lives here, below results and front ends, so both can ask without an import cycle.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # results import this module: a type-only back-reference
    from .result import ImageResult

__all__ = ["OFFLINE_PROVIDER", "is_offline_client", "is_offline_result", "mark_offline", "money"]

#: The ``provider`` the local server writes into chat answers (server/_chat.py PROVIDER).
OFFLINE_PROVIDER = "jupyter-imagegen offline"

_offline: weakref.WeakSet[object] = weakref.WeakSet()


def mark_offline(client: object) -> None:
    """Record that ``client`` talks to the in-process offline server."""
    _offline.add(client)


def is_offline_client(client: object) -> bool:
    """True for a client :func:`mark_offline` was called on."""
    try:
        return client in _offline
    except TypeError:
        return False


#: The author of the local server's own renderers (``offline/sketch``, ...): no real model has it.
OFFLINE_AUTHOR = "offline/"


def is_offline_result(result: ImageResult) -> bool:
    """True when ``result`` was made by the offline renderer.

    Chat answers name their provider; Image API answers name none (real ones carry only
    ``created``, ``data`` and ``usage``), so an ``offline/`` model or an offline client tells.
    """
    return result.provider == OFFLINE_PROVIDER or str(result.model).startswith(OFFLINE_AUTHOR) or (
        result._client is not None and is_offline_client(result._client))


def money(amount: float) -> str:
    """``$0.039``, ``$0.04``, ``$1.20``: four decimals at most, two at least."""
    text = f"{amount:.4f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"
