"""Helpers shared by the server and CLI tests: raw stream bytes, IPv6 availability."""

from __future__ import annotations

import socket

import requests


def ipv6_loopback() -> bool:
    """True when this machine can bind ``::1`` (some containers cannot)."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def raw_stream(response: requests.Response) -> bytes:
    """All bytes of a (possibly cut) chunked stream, without raising on the cut."""
    pieces = []
    try:
        for piece in response.raw.stream(65536, decode_content=False):
            pieces.append(piece)
    except Exception:
        pass
    return b"".join(pieces)
