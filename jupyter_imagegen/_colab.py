"""The API key from Google Colab's secrets, when the kit runs in Colab.

Colab users keep keys in the notebook's "Secrets" panel rather than in environment variables;
``google.colab.userdata.get(name)`` returns one (after the user grants the notebook access).
The lookup happens only where Colab's own package is already loaded, so nowhere else does the kit
import it, and every failure (no such secret, access not granted, a timeout) means "no key here":
the kit then runs offline and says so, as it does without a key anywhere else.
"""

from __future__ import annotations

import sys

__all__ = ["colab_secret"]


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
