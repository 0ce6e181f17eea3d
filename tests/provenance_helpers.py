"""Shared by the provenance tests: the C2PA library's test credentials, a signing server, checks.

The signing is done by the real library (``c2pa-python``) with its own test certificates
(``tests/data/c2pa/README.md`` says where they come from). Locally a test that needs the library
or exiftool skips with the reason; in CI (``CI=true``, which installs both) it runs, and fails.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_imagegen._results.credentials import library_available
from jupyter_imagegen.server import LocalServer, Signing

C2PA_DIR = Path(__file__).resolve().parent / "data" / "c2pa"
CERTS, KEY = C2PA_DIR / "es256_certs.pem", C2PA_DIR / "es256_private.key"
AI_MARK = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
_CI = os.environ.get("CI", "").lower() == "true"

needs_c2pa = pytest.mark.skipif(
    not library_available() and not _CI,
    reason="c2pa-python is not installed (pip install 'jupyter-imagegen[provenance]')")
needs_exiftool = pytest.mark.skipif(
    shutil.which("exiftool") is None and not _CI,
    reason="exiftool is not installed (apt-get install libimage-exiftool-perl)")


def signing() -> Signing:
    return Signing(CERTS, KEY)


def signed_server() -> Iterator[LocalServer]:
    with LocalServer(port=0, sign=signing()) as srv:
        yield srv


def validation(data: bytes, mime: str) -> tuple[str, list[str]]:
    """What the C2PA library itself says of ``data``: its state and failure codes."""
    import c2pa

    with c2pa.Context.from_dict({"verify": {"remote_manifest_fetch": False}}) as context, \
            c2pa.Reader(mime, io.BytesIO(data), context=context) as reader:
        state = reader.get_validation_state()
        results = reader.get_validation_results() or {}
    failures = (results.get("activeManifest") or {}).get("failure") or []
    return str(state), [f["code"] for f in failures]


def exiftool(path: Path, *tags: str) -> dict[str, Any]:
    """exiftool's JSON for ``path`` (``-n``: values as written)."""
    out = subprocess.run(["exiftool", "-j", "-n", "-G1", *tags, str(path)], capture_output=True,
                         text=True, check=True, timeout=60)
    record: dict[str, Any] = json.loads(out.stdout)[0]
    return record
