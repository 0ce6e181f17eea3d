"""Honest labels: which results and prices are simulated (offline), and how money is written.

The offline server prices generations like the real service so spend limits can be tried, but
nobody pays: captions, reprs, the models table, the widget, the command line, ``%imagegen
config`` and saved metadata say "offline" and "simulated" for them, and never "last billed"
(nothing was billed). What counts as offline is decided here and only here, below results and
front ends, so every front end asks the same question without an import cycle:

- a client :func:`mark_offline` was called on (the kit's own in-process offline server);
- a model of the local server's own renderers (``offline/...``: no real model has that author);
- an answer naming the offline provider (chat answers do; Image API answers name none);
- a result already marked simulated where it was made (a replay-cache hit, an unpickled
  worker's answer, a stored entry), since the client that knew is gone by then.

Only labels change: the amounts themselves are left as they are, because the spend guard
enforces limits on the simulated amounts (so a teacher can demo a limit offline).
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

if TYPE_CHECKING:  # results import this module: a type-only back-reference
    from .result import ImageResult

__all__ = ["OFFLINE_AUTHOR", "OFFLINE_PROVIDER", "SIMULATED", "is_offline_client",
           "is_offline_model", "is_offline_result", "mark_offline", "money", "price_label",
           "prices_simulated", "shown_basis", "shown_price"]

#: The ``provider`` the local server writes into chat answers (server/_chat.py PROVIDER).
OFFLINE_PROVIDER = "jupyter-imagegen offline"
#: The author of the local server's own renderers (``offline/sketch``, ...): no real model has it.
OFFLINE_AUTHOR = "offline/"
#: The word every offline price carries, and the key of the flag in saved metadata.
SIMULATED = "simulated"

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


def is_offline_model(model_id: str | None) -> bool:
    """True for the local server's own renderers (``offline/...``), whichever client lists them."""
    return str(model_id or "").startswith(OFFLINE_AUTHOR)


def prices_simulated(client: object, model_id: str | None = None) -> bool:
    """True when a price shown for ``model_id`` through ``client`` is simulated, not billed.

    An offline client's every price is simulated; an ``offline/`` model's price is simulated
    even through a client pointed at a served local server by URL (``jupyter-imagegen serve``).
    """
    return is_offline_client(client) or is_offline_model(model_id)


def is_offline_result(result: ImageResult) -> bool:
    """True when ``result`` was made by the offline renderer (its cost is simulated).

    Chat answers name their provider; Image API answers name none (real ones carry only
    ``created``, ``data`` and ``usage``), so an ``offline/`` model or an offline client tells;
    a result read back from disk or unpickled keeps the mark it was saved with.
    """
    return bool(result._simulated) or result.provider == OFFLINE_PROVIDER \
        or is_offline_model(result.model) \
        or (result._client is not None and is_offline_client(result._client))


def shown_basis(basis: str, *, simulated: bool) -> str:
    """The basis as shown: ``price line``, or offline ``simulated price line``.

    Offline, nothing was billed, so a price learnt from an answer reads ``last answer``, never
    ``last billed``.
    """
    if not simulated:
        return basis
    basis = basis.replace("last billed", "last answer")
    return basis if basis.startswith(SIMULATED) else f"{SIMULATED} {basis}"


class Priced(Protocol):
    """A price as the core writes it (``Price``): a dataclass with an amount and its basis."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    @property
    def usd(self) -> float | None: ...
    @property
    def basis(self) -> str: ...


P = TypeVar("P", bound=Priced)


def shown_price(price: P, *, simulated: bool) -> P:
    """``price`` with its basis as shown (:func:`shown_basis`); the amount is never changed.

    A copy for display only: the spend guard keeps reading the core's own price.
    """
    if not simulated:
        return price
    return dataclasses.replace(price, basis=shown_basis(price.basis, simulated=True))


def price_label(price: Priced, *, simulated: bool) -> str:
    """The one-cell label of a price: ``$0.0390/image (price line)``, offline ``(simulated ...)``.

    Written by the price itself (so the core owns how an amount and its basis read); offline,
    only the basis is replaced, and an unknown price (which shows no basis) still says that what
    the offline server bills is simulated.
    """
    text = str(shown_price(price, simulated=simulated))
    if simulated and SIMULATED not in text:
        text = f"{text} ({SIMULATED} offline)"
    return text


def money(amount: float) -> str:
    """``$0.039``, ``$0.04``, ``$1.20``: four decimals at most, two at least."""
    text = f"{amount:.4f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"
