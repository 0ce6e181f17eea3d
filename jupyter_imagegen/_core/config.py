"""Settings resolved from arguments and the environment (pure: the environment is injected)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .._exceptions import InvalidInputError
from .._wire.common import DEFAULT_BASE_URL
from .secrets import wrap_secret

__all__ = ['DEFAULT_MODEL', 'DEFAULT_OFFLINE_MODEL', 'GATEWAY_ENV', 'Settings', 'clean_key',
           'colab_secret', 'ipython_spend_limit', 'offline_base_url', 'set_offline_provider']


# -- the key from Colab's secrets ------------------------------------------------------------------

# The API key from Google Colab's secrets, when the kit runs in Colab.
#
# Colab users keep keys in the notebook's "Secrets" panel rather than in environment variables;
# ``google.colab.userdata.get(name)`` returns one (after the user grants the notebook access).
# The lookup happens only where Colab's own package is already loaded, so nowhere else does the kit
# import it, and every failure (no such secret, access not granted, a timeout) means "no key here":
# the kit then runs offline and says so, as it does without a key anywhere else.

def colab_secret(name: str = "OPENROUTER_API_KEY") -> str | None:
    """The Colab secret ``name``, or ``None`` outside Colab or when it is not available."""
    if "google.colab" not in sys.modules:
        return None
    try:
        from google.colab import userdata  # type: ignore[import-not-found]

        value = userdata.get(name)
    except Exception:  # SecretNotFoundError, NotebookAccessError, TimeoutException ...
        return None
    return value.strip() if isinstance(value, str) and value.strip() else None


# -- a spend limit from the kernel's IPython configuration ---------------------------------------

# A teacher (or a JupyterHub image) sets ``c.ImageGenMagics.spend_limit = 0.50`` in the kernel's
# IPython config, or runs ``%config ImageGenMagics.spend_limit = 0.50``. That limit must hold for
# every way of generating (``ig.generate``, a new ``ig.Client()``, the magic, the widget) from the
# first call, not only once a ``%%imagegen`` cell has run, so every client reads it where it is
# made. Only a shell that is already running is asked (IPython is never imported here).

def ipython_spend_limit() -> float | None:
    """``ImageGenMagics.spend_limit`` in the running IPython, or ``None``.

    The loaded extension's live value wins (it follows ``%config``); before it is loaded, the
    kernel's config files are read (``c.ImageGenMagics.spend_limit``).
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return None
    for configurable in getattr(shell, "configurables", ()):
        if type(configurable).__name__ == "ImageGenMagics":
            return _limit(getattr(configurable, "spend_limit", None), "ImageGenMagics.spend_limit")
    config = getattr(shell, "config", None)
    try:
        section = config["ImageGenMagics"] if config is not None and \
            "ImageGenMagics" in config else None
        value = section["spend_limit"] if section is not None and "spend_limit" in section else None
    except (KeyError, TypeError):
        return None
    return _limit(value, "ImageGenMagics.spend_limit")


def _limit(value: object, where: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        limit = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInputError(f"{where} must be a number of US dollars, got {value!r}") from None
    if not limit >= 0:
        raise InvalidInputError(f"{where} must be >= 0, got {value!r}")
    return limit


_TRUE = ("1", "true", "yes", "on")


# -- settings --------------------------------------------------------------------------------------

#: The model used when none is given. The offline server serves it too, so notebooks written for
#: the real service run unchanged offline.
DEFAULT_MODEL = "google/gemini-2.5-flash-image"
DEFAULT_OFFLINE_MODEL = "offline/sketch"
DEFAULT_REFERER = "https://github.com/jupyter-imagegen/jupyter-imagegen"
DEFAULT_TITLE = "jupyter_imagegen"
#: Set by a JupyterHub admin in the spawner's environment: the classroom gateway's API URL.
GATEWAY_ENV = "JUPYTER_IMAGEGEN_GATEWAY"


def clean_key(key: str | None) -> str | None:
    """The key without surrounding whitespace; a typed error (never showing it) if it is unusable.

    Keys read from files or pasted from web pages often carry a newline or an invisible
    character, which would otherwise surface as a confusing network error after retries.
    """
    if key is None:
        return None
    key = wrap_secret(key).strip()  # wrapped first: no frame of a failed check shows the key
    if any(c.isspace() for c in key) or not key.isascii() or not key.isprintable():
        raise InvalidInputError(
            "the API key contains spaces, line breaks or non-ASCII characters (often from "
            "copying); copy it again from openrouter.ai/settings/keys, or enter it with "
            "`%imagegen key`")
    return key or None


@dataclass(frozen=True)
class Settings:
    """Where to send requests and how, with the key kept out of ``repr``."""

    api_key: str | None = field(default=None, repr=False)
    base_url: str = DEFAULT_BASE_URL
    default_model: str = DEFAULT_MODEL
    referer: str | None = DEFAULT_REFERER
    title: str | None = DEFAULT_TITLE
    #: The lowest limit the environment (``JUPYTER_IMAGEGEN_SPEND_LIMIT``) or the kernel's IPython
    #: config (``ImageGenMagics.spend_limit``) sets, in USD; every client starts with it.
    spend_limit: float | None = None
    #: ``JUPYTER_IMAGEGEN_CLASS_MODE=1``: the limit is the class's; the notebook cannot raise it.
    class_mode: bool = False

    @property
    def has_key(self) -> bool:
        """True when an API key is configured (its value is never shown)."""
        return bool(self.api_key)

    def headers(self, referer: str | None = None, title: str | None = None) -> dict[str, str]:
        """OpenRouter's attribution headers: the app's page and name (arguments over settings)."""
        headers = {"X-OpenRouter-Categories": "image-gen"}
        if referer or self.referer:
            headers["HTTP-Referer"] = referer or self.referer or ""
        if title or self.title:
            headers["X-OpenRouter-Title"] = headers["X-Title"] = title or self.title or ""
        return headers

    @classmethod
    def from_env(
        cls,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Resolve settings: explicit argument, then the environment, then the defaults.

        ``OPENROUTER_API_KEY``, ``OPENROUTER_BASE_URL``, ``JUPYTER_IMAGEGEN_MODEL``,
        ``JUPYTER_IMAGEGEN_SPEND_LIMIT`` and ``JUPYTER_IMAGEGEN_CLASS_MODE`` are read, and the
        running IPython's ``ImageGenMagics.spend_limit``; in Google Colab the key may also come
        from the notebook's secrets (same name). On a JupyterHub whose admin runs the classroom
        gateway, the spawner sets ``JUPYTER_IMAGEGEN_GATEWAY`` (the gateway's API URL): it is the
        base URL unless ``OPENROUTER_BASE_URL`` says otherwise, and the single-user server's own
        ``JUPYTERHUB_API_TOKEN`` is the key unless ``OPENROUTER_API_KEY`` is set.
        """
        env = os.environ if environ is None else environ
        gateway = (env.get(GATEWAY_ENV) or "").strip()
        key = wrap_secret(api_key if api_key is not None else (
            env.get("OPENROUTER_API_KEY") or colab_secret()
            or (env.get("JUPYTERHUB_API_TOKEN") if gateway else None) or None))
        url = (base_url or env.get("OPENROUTER_BASE_URL") or gateway or DEFAULT_BASE_URL).strip()
        if not url.lower().startswith(("http://", "https://")):
            raise InvalidInputError(
                f"the base URL must start with http:// or https:// (got {url[:60]!r}), "
                f"for example {DEFAULT_BASE_URL}")
        limits = [x for x in (_limit(env.get("JUPYTER_IMAGEGEN_SPEND_LIMIT"),
                                     "JUPYTER_IMAGEGEN_SPEND_LIMIT"), ipython_spend_limit())
                  if x is not None]
        return cls(
            api_key=clean_key(key),
            base_url=url.rstrip("/"),
            default_model=env.get("JUPYTER_IMAGEGEN_MODEL") or DEFAULT_MODEL,
            spend_limit=min(limits) if limits else None,
            class_mode=env.get("JUPYTER_IMAGEGEN_CLASS_MODE", "").strip().lower() in _TRUE,
        )

    @staticmethod
    def is_configured(environ: Mapping[str, str] | None = None) -> bool:
        """True when the environment names a key or a base URL (so no offline fallback)."""
        env = os.environ if environ is None else environ
        return bool(env.get("OPENROUTER_API_KEY") or env.get("OPENROUTER_BASE_URL")
                    or env.get(GATEWAY_ENV) or colab_secret())


# -- the offline fallback --------------------------------------------------------------------------

# Who starts the local server when nothing is configured. Only the front-end layer may start it
# (``_api`` registers itself here on import), so a ``Client()`` made with no key and no base URL
# asks through this hook instead of importing the server: it then behaves as ``ig.generate`` does
# (offline, said once) rather than going to OpenRouter without a key and failing after retries.
_offline_provider: list[Callable[[], str]] = []


def set_offline_provider(provider: Callable[[], str]) -> None:
    """Register the function that starts (once) the local server and returns its base URL."""
    _offline_provider[:] = [provider]


def offline_base_url(api_key: str | None, base_url: str | None) -> str | None:
    """The local server's base URL when neither the arguments nor the environment configure one."""
    if api_key or base_url or Settings.is_configured() or not _offline_provider:
        return None
    return _offline_provider[0]()
