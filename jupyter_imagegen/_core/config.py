"""Settings resolved from arguments and the environment (pure: the environment is injected)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from .._exceptions import InvalidInputError
from .._wire.common import DEFAULT_BASE_URL
from .secrets import wrap_secret

__all__ = ['DEFAULT_MODEL', 'DEFAULT_OFFLINE_MODEL', 'Settings', 'clean_key', 'colab_secret']


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


# -- settings --------------------------------------------------------------------------------------

#: The model used when none is given. The offline server serves it too, so notebooks written for
#: the real service run unchanged offline.
DEFAULT_MODEL = "google/gemini-2.5-flash-image"
DEFAULT_OFFLINE_MODEL = "offline/sketch"
DEFAULT_REFERER = "https://github.com/jupyter-imagegen/jupyter-imagegen"
DEFAULT_TITLE = "jupyter_imagegen"


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

        ``OPENROUTER_API_KEY``, ``OPENROUTER_BASE_URL`` and ``JUPYTER_IMAGEGEN_MODEL`` are read;
        in Google Colab the key may also come from the notebook's secrets (same name).
        """
        env = os.environ if environ is None else environ
        key = wrap_secret(api_key if api_key is not None else (
            env.get("OPENROUTER_API_KEY") or colab_secret() or None))
        url = (base_url or env.get("OPENROUTER_BASE_URL") or DEFAULT_BASE_URL).strip()
        if not url.lower().startswith(("http://", "https://")):
            raise InvalidInputError(
                f"the base URL must start with http:// or https:// (got {url[:60]!r}), "
                f"for example {DEFAULT_BASE_URL}")
        return cls(
            api_key=clean_key(key),
            base_url=url.rstrip("/"),
            default_model=env.get("JUPYTER_IMAGEGEN_MODEL") or DEFAULT_MODEL,
        )

    @staticmethod
    def is_configured(environ: Mapping[str, str] | None = None) -> bool:
        """True when the environment names a key or a base URL (so no offline fallback)."""
        env = os.environ if environ is None else environ
        return bool(env.get("OPENROUTER_API_KEY") or env.get("OPENROUTER_BASE_URL")
                    or colab_secret())
