"""A classroom gateway: one OpenRouter key, many students, budgets that hold.

``jupyter-imagegen gateway serve`` runs an OpenRouter-compatible proxy that holds the real key
(``OPENROUTER_API_KEY`` in its own environment) and gives every student a token of their own with
a budget. Students set ``OPENROUTER_BASE_URL`` and ``OPENROUTER_API_KEY`` to the gateway's URL and
their token; the kit, the openai SDK or the AI SDK then work unchanged.

Each generation reserves its worst case in the ledger (SQLite, or PostgreSQL for several gateway
processes) before anything is sent upstream and settles to the billed ``usage.cost`` after, so
no concurrency lets a student (or the class) spend past the budget.

Like ``server/``, this part shares only the wire layer (``_wire``), the exception tree and the
version with the kit; it needs the ``[gateway]`` extra (Starlette, uvicorn, httpx, and psycopg for
PostgreSQL), which ``import jupyter_imagegen`` never imports.
"""

from __future__ import annotations

from ._app import create_app, key_info
from ._config import GatewayConfig, HubSettings
from ._ledger import Ledger, hash_token, new_token
from ._pricing import Listings, worst_case_usd
from ._runner import Gateway, bind, serve

__all__ = [
    "Gateway",
    "GatewayConfig",
    "HubSettings",
    "Ledger",
    "Listings",
    "bind",
    "create_app",
    "hash_token",
    "key_info",
    "new_token",
    "serve",
    "worst_case_usd",
]
