"""Content Credentials (C2PA): is an image signed, by whom, and does it still validate?

Checked with the official C2PA library (``c2pa-python``, the ``[provenance]`` extra). Without it
the kit still sees that a manifest is there (by the containers' markers) but says it could not
check it, never "valid". The reader runs offline: remote manifests and OCSP are not fetched.

What a check reads (the library's own output, c2pa-python 0.38's ``Reader``, as its examples and
tests print it): ``validation_state`` (``Valid``, ``Trusted``, ``Invalid``), the active manifest's
``signature_info`` (``issuer``, ``common_name``, ``time``) and ``claim_generator_info``, and the
failure codes of ``validation_results`` (``assertion.dataHash.mismatch`` when the file changed
after signing; ``signingCredential.untrusted`` when the signer is on no trust list the library
knows, which says nothing against the signature itself).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from .._wire.containers import carries_c2pa

__all__ = ["ContentCredentials", "check_credentials", "library_available"]

#: Reading settings: never reach the network to read an image (remote manifests, OCSP).
_OFFLINE = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
_INSTALL = "pip install 'jupyter-imagegen[provenance]'"
_UNTRUSTED = "signingCredential.untrusted"


@dataclass(frozen=True)
class ContentCredentials:
    """What the kit knows of one image's C2PA manifest.

    ``state`` is ``"none"`` (no manifest in the file), ``"unchecked"`` (a manifest, but
    ``c2pa-python`` is not installed), ``"valid"`` (the signature and the file's hash check out),
    ``"trusted"`` (valid, and the signer chains to a trust list the library has), ``"invalid"``
    (the file or the manifest does not match what was signed) or ``"unknown"`` (the library could
    not read it).
    """

    state: str
    signer: str | None = None
    issuer: str | None = None
    signed_at: str | None = None
    generator: str | None = None
    #: Failure codes the check reported (``assertion.dataHash.mismatch``...).
    problems: tuple[str, ...] = ()

    @property
    def present(self) -> bool:
        """True when the file carries a manifest (whatever its state)."""
        return self.state != "none"

    @property
    def on_trust_list(self) -> bool | None:
        """Whether the signer is on a trust list the library knows (``None``: not known)."""
        if self.state == "trusted":
            return True
        return False if _UNTRUSTED in self.problems else None

    def label(self, *, short: bool = False) -> str:
        """One line for galleries and the command line (``""`` when there is no manifest).

        ``short`` (captions) names the signer without its issuer and says "C2PA" for "Content
        Credentials"; both say whether the signature validates and whether it is trusted.
        """
        if self.state == "none":
            return ""
        title = "C2PA" if short else "Content Credentials"
        who = self.signer or self.issuer or "an unnamed signer"
        if not short and self.issuer and self.signer and self.issuer != self.signer:
            who = f"{self.signer} ({self.issuer})"
        if self.state == "unchecked":
            return f"{title}: not checked ({_INSTALL})"
        if self.state == "unknown":
            return f"{title}: present, unreadable"
        if self.state == "invalid":
            why = next((p for p in self.problems if p != _UNTRUSTED), "")
            return f"{title}: INVALID{f' ({why})' if why else ''}, signed by {who}"
        trust = "trusted signer" if self.state == "trusted" else "signer not on a trust list"
        return f"{title}: valid, signed by {who}; {trust}"

    def as_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready values (for sidecars and the store's index)."""
        out = asdict(self)
        out["problems"] = list(self.problems)
        return {k: v for k, v in out.items() if v not in (None, [])}


@lru_cache(maxsize=1)
def library_available() -> bool:
    """True when ``c2pa-python`` can be imported (its native library loads)."""
    try:
        import c2pa  # noqa: F401
    except Exception:  # ImportError, or OSError when the native library does not load
        return False
    return True


NONE = ContentCredentials("none")


def check_credentials(data: bytes, mime: str) -> ContentCredentials:
    """Check ``data``'s manifest (if any) with ``c2pa-python``; never raises, never fetches."""
    if not carries_c2pa(data, mime):
        return NONE
    if not library_available():
        return ContentCredentials("unchecked")
    try:
        return _read(data, mime)
    except Exception:  # the library raises its own errors for manifests it cannot read
        return ContentCredentials("unknown")


def _read(data: bytes, mime: str) -> ContentCredentials:
    import c2pa

    with c2pa.Context.from_dict(_OFFLINE) as context, \
            c2pa.Reader(mime, io.BytesIO(data), context=context) as reader:
        store = json.loads(reader.json())
        state = str(reader.get_validation_state() or "")
        results = reader.get_validation_results() or {}
    active = store.get("manifests", {}).get(store.get("active_manifest") or "", {})
    info: Mapping[str, Any] = active.get("signature_info") or {}
    failures = (results.get("activeManifest") or {}).get("failure") or []
    problems = tuple(str(f.get("code")) for f in failures if isinstance(f, Mapping))
    generators = active.get("claim_generator_info") or []
    generator = next((str(g.get("name")) for g in generators if isinstance(g, Mapping)
                      and g.get("name")), None) or active.get("claim_generator")
    verdict = {"trusted": "trusted", "valid": "valid", "invalid": "invalid"}.get(
        state.lower(), "unknown")
    return ContentCredentials(
        verdict, signer=_text(info.get("common_name")), issuer=_text(info.get("issuer")),
        signed_at=_text(info.get("time")), generator=_text(generator), problems=problems)


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None
