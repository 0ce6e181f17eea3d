"""Redirects the transport follows: to the same origin only, and for reads only.

Why: ``requests`` follows redirects anywhere by default, so a listing answered with a 302 led
the kernel to connect to whatever the ``Location`` named (in the attack, a link-local metadata
address), with the rest of the request's headers. The service never redirects an API call, so
the transport turns redirects off and follows them itself, here: a ``GET`` redirected to the same
scheme, host and port is followed (a few hops at most); anything else is an error that names
where the answer pointed, and nothing is sent there.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

import requests

from .._exceptions import APIConnectionError

__all__ = ["MAX_HOPS", "follow_redirects", "origin", "same_origin"]

#: Redirects followed for one request, at most.
MAX_HOPS = 5
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of ``url``, the port filled in for the scheme (web origins)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: no origin anything shares
        return scheme, "", -1
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def same_origin(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` have the same scheme, host and port."""
    return origin(a) == origin(b)


def follow_redirects(response: requests.Response, base_url: str, method: str,
                     get: Callable[[str], requests.Response]) -> requests.Response:
    """``response``, or where its same-origin redirects lead (``get(url)`` fetches one hop).

    A redirect elsewhere, of a request that is not a ``GET``, or past :data:`MAX_HOPS` raises
    :class:`APIConnectionError` with the redirect's status (so it is not retried).
    """
    for _hop in range(MAX_HOPS + 1):
        if not response.is_redirect:
            return response
        status = response.status_code
        target = urljoin(response.url, response.headers.get("Location", ""))
        response.close()
        scheme, host, port = origin(target)
        where = f"{scheme}://{host}:{port}"  # the origin only: a query may carry anything
        if not same_origin(target, base_url):
            raise APIConnectionError(
                f"{base_url} answered {method} with a redirect to another origin, {where}; not "
                "followed: set the base URL to the service itself", status=status)
        if method != "GET":
            raise APIConnectionError(
                f"{base_url} answered {method} with a redirect; only reads are followed, so "
                "nothing was sent again: set the base URL to where the API is",
                status=status)
        response = get(target)
    raise APIConnectionError(f"{base_url} redirected more than {MAX_HOPS} times; not followed",
                             status=response.status_code)
