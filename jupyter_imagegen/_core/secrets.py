"""The key as the client holds it: a ``str`` that never shows itself and is redacted everywhere.

Why a wrapper, and why first: an exception inside ``Client(...)`` left the plain key in the frame
locals every verbose traceback prints (``%xmode Verbose``, error reporters, ``traceback`` with
``capture_locals``). The constructors wrap the key in their first statement, before any code
that can raise, and everything downstream (settings, transport, the pickled configuration)
keeps the wrapper. Making one also registers its value with :func:`.._exceptions.remember_secret`,
so the value is redacted from any text by value, whatever its shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._exceptions import redact, remember_secret

__all__ = ["SECRET_HEADERS", "Secret", "remember_headers", "wrap_secret"]

#: Header names whose values are credentials (a gateway's token travels in one of them).
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key",
                            "cookie"})


class Secret(str):
    """A string that never shows itself: ``repr`` and ``str`` give ``'[redacted]'``.

    ``http.client`` encodes header values with ``str.encode``, which reads the real characters.
    Its value is remembered for redaction the moment it is made (and again when unpickled).
    """

    __slots__ = ()

    def __new__(cls, value: str) -> Secret:
        # str(value) would read a Secret's own redacted str(): take the characters themselves.
        made = super().__new__(cls, str.__str__(value))
        remember_secret(str.__str__(made))
        return made

    def __repr__(self) -> str:
        return "'[redacted]'"

    def __str__(self) -> str:
        return "[redacted]"

    def __format__(self, spec: str) -> str:
        return format("[redacted]", spec)

    def reveal(self) -> str:
        """The real value, as a plain ``str`` (for a comparison; never store it)."""
        return str.__str__(self)

    def strip(self, chars: str | None = None) -> Secret:
        """Stripped, and still wrapped (settings clean a pasted key)."""
        return Secret(str.strip(self, chars))


def wrap_secret(value: Any) -> Any:
    """``value`` as a :class:`Secret` when it is a non-empty string; anything else unchanged.

    Non-strings pass through, so the constructor's own checks still name what was wrong.
    """
    if isinstance(value, str) and not isinstance(value, Secret) and value:
        return Secret(value)
    return value


def remember_headers(headers: Mapping[str, Any] | None) -> None:
    """Remember the credentials among ``headers`` (an injected session's, or the client's own)."""
    for name, value in (headers or {}).items():
        if str(name).lower() in SECRET_HEADERS and isinstance(value, (str, bytes)):
            remember_secret(value.decode("latin-1") if isinstance(value, bytes) else value)


def client_repr(client: object, kind: str = "Client") -> str:
    """A client's repr from what it has: a half-built one (its ``__init__`` raised) still has one.

    Verbose tracebacks print ``self`` of the failed constructor; a repr that raised there hid the
    real error behind an ``AttributeError``.
    """
    transport = getattr(client, "_transport", None)
    key = "unknown" if transport is None else "set" if transport.has_key else "unset"
    return redact(f"<{kind} base_url={getattr(client, 'base_url', None)!r} "
                  f"model={getattr(client, 'default_model', None)!r} key={key}>")
