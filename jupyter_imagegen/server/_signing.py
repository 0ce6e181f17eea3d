"""Signed output: the offline server's images carry C2PA Content Credentials, as providers' do.

Why: OpenAI's API images carry a C2PA manifest (help.openai.com, "C2PA in DALL·E 3": "our API
serving the DALL·E 3 model will now include C2PA metadata"), and a kit that changes such a file by
one byte breaks its signature. To test every writer against that offline, the server can sign
what it renders with the official C2PA library (``c2pa-python``, the ``[provenance]`` extra), with
a certificate chain and key of your choosing (the test suite uses the library's own test
certificates, ``tests/data/c2pa/``).

The manifest is the smallest one a generator writes: ``claim_generator_info`` naming this server,
and one ``c2pa.actions`` assertion with a ``c2pa.created`` action whose ``digitalSourceType`` is
IPTC's ``trainedAlgorithmicMedia`` (the shape of c2pa-python's ``examples/sign.py``, and the
source type the C2PA specification gives for generative AI output). No timestamp authority is
asked (no network); thumbnails are left out to keep answers small.

Without the library installed, asking for signed output fails at once with the command to run.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from .._exceptions import InvalidInputError
from .._version import __version__
from .._wire.xmp import AI_SOURCE_TYPE

__all__ = ["SIGNABLE", "Signing"]

#: What the server signs (what it renders): the formats the C2PA library embeds manifests in.
SIGNABLE = frozenset({"image/png", "image/jpeg", "image/webp"})
_ALGORITHMS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")
_INSTALL = "pip install 'jupyter-imagegen[provenance]'"


def _pem(value: bytes | str | os.PathLike[str], what: str) -> bytes:
    """PEM bytes: given as bytes or text, or read from a file path."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str) and value.lstrip().startswith("-----BEGIN"):
        return value.encode()
    try:
        return Path(os.fspath(value)).read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read the signing {what} {str(value)!r}: "
                                f"{exc.strerror or exc}") from None


class Signing:
    """Sign every image the server renders with C2PA Content Credentials.

    ``certificates`` is the PEM chain (signer first), ``private_key`` its PEM key; each is bytes,
    PEM text or a file path. ``alg`` is the key's algorithm (``es256`` for an ECDSA P-256 key).
    Raises :class:`InvalidInputError` when ``c2pa-python`` is missing or the key does not sign.
    """

    def __init__(self, certificates: bytes | str | os.PathLike[str],
                 private_key: bytes | str | os.PathLike[str], *, alg: str = "es256",
                 generator: str = "jupyter-imagegen local server") -> None:
        try:
            import c2pa  # noqa: F401
        except Exception:  # ImportError, or OSError when its native library does not load
            raise InvalidInputError(
                "signed output needs the C2PA library, which is not installed here: "
                f"{_INSTALL}") from None
        if alg.lower() not in _ALGORITHMS:
            raise InvalidInputError(f"alg must be one of {', '.join(_ALGORITHMS)}, not {alg!r}")
        self.alg = alg.lower()
        self.generator = generator
        self._certificates = _pem(certificates, "certificates")
        self._key = _pem(private_key, "key")
        self.sign(_probe(), "image/png")  # a bad key or chain fails here, not on the first request

    def __repr__(self) -> str:  # never the key
        return f"Signing(alg={self.alg!r}, generator={self.generator!r})"

    def sign(self, data: bytes, mime: str) -> bytes:
        """``data`` with an embedded, signed C2PA manifest (other formats come back unchanged)."""
        if mime not in SIGNABLE:
            return data
        import c2pa

        manifest = {
            "claim_generator_info": [{"name": self.generator, "version": __version__}],
            "title": "offline image", "format": mime,
            "assertions": [{"label": "c2pa.actions", "data": {"actions": [
                {"action": "c2pa.created", "digitalSourceType": AI_SOURCE_TYPE}]}}],
        }
        settings = {"builder": {"thumbnail": {"enabled": False}}}
        info = c2pa.C2paSignerInfo(self.alg.encode(), self._certificates, self._key, None)
        out = io.BytesIO()
        try:
            with c2pa.Context.from_dict(settings) as context, \
                    c2pa.Signer.from_info(info) as signer, \
                    c2pa.Builder(manifest, context) as builder:
                builder.sign(signer, mime, io.BytesIO(data), out)
        except c2pa.C2paError as exc:
            raise InvalidInputError(f"C2PA signing failed: {exc}") from None
        return out.getvalue()


def _probe() -> bytes:
    """A 1x1 PNG to check the key and chain with."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, "PNG")
    return buffer.getvalue()
