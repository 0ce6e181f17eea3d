"""What one gateway process is told: its upstream, its limits, the class's rules.

The limits are the local server's (``LocalServer``: 32 MiB bodies, a request must arrive within
30 s, 256 connections) plus the kit client's whole-call deadline (600 s), so a class behind the
gateway meets the same walls as a notebook talking to the offline server.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .._wire.common import DEFAULT_BASE_URL

__all__ = ["GatewayConfig", "HubSettings"]


@dataclass(frozen=True)
class HubSettings:
    """JupyterHub mode: where the Hub's API is and what it lets the gateway ask.

    ``api_url`` is the Hub's ``/hub/api`` (``JUPYTERHUB_API_URL`` in a Hub service's
    environment). A presented token is identified by asking ``GET /user`` *with that token*, as
    ``jupyterhub.services.auth.HubAuth`` does, so the service's own token (``api_token``) is
    not needed for it. New users get ``default_budget`` USD. With
    ``service_name`` set (``JUPYTERHUB_SERVICE_NAME``), a token must carry the scope
    ``access:services!service=<name>`` (``c.Spawner.server_token_scopes``), as ``HubAuth`` checks.
    """

    api_url: str
    api_token: str | None = field(default=None, repr=False)
    service_name: str | None = None
    default_budget: float = 1.0
    cache_seconds: float = 60.0


@dataclass(frozen=True)
class GatewayConfig:
    """One gateway's settings; the upstream key never appears in its ``repr``."""

    upstream: str = DEFAULT_BASE_URL
    upstream_key: str | None = field(default=None, repr=False)
    models: frozenset[str] | None = None
    class_budget: float | None = None
    admin_token: str | None = field(default=None, repr=False)
    blocked_words: tuple[str, ...] = ()
    hub: HubSettings | None = None
    max_body_bytes: int = 32 * 1024 * 1024
    read_timeout: float = 30.0
    deadline: float = 600.0
    max_connections: int = 256
    listing_ttl: float = 600.0
    heartbeat: float = 2.0
    stale_after: float = 15.0
    check_host: bool = True
    thumbnails: bool = True
    #: Also serve under this path (a Hub service's ``JUPYTERHUB_SERVICE_PREFIX``).
    path_prefix: str = ""

    @property
    def upstream_url(self) -> str:
        """The upstream base URL without a trailing slash."""
        return self.upstream.rstrip("/")
