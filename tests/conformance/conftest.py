"""Fixtures of the conformance suite: one keyed local server per session, loopback-only sockets,
and the Node subproject (installed from its lockfile on first use).

Every client here is a third-party one (official SDKs, the AI SDK provider, openai, litellm),
run unchanged against ``LocalServer``; the expectations are the real service's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conf_node import NODE_DIR
from conf_wire import KEY, loopback_only

from jupyter_imagegen.server import LocalServer

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def _loopback_only() -> Iterator[None]:
    """Every conformance test runs guarded (per test, so no other directory inherits the patch)."""
    with loopback_only():
        yield


@pytest.fixture(scope="session")
def srv() -> Iterator[LocalServer]:
    """The server every conformance test talks to; it wants a key, like the service."""
    with LocalServer(port=0, api_key=KEY) as server:
        yield server


@pytest.fixture
def base(srv: LocalServer) -> Iterator[str]:
    """The API base URL; faults left over by a failed test are cleared afterwards."""
    yield srv.base_url
    srv.faults.clear()


# -- Node ----------------------------------------------------------------------------------------


def _no_node(reason: str) -> None:
    if CI:
        pytest.fail(f"{reason} (CI=true: the Node conformance tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node_dir() -> Path:
    """``tests/conformance/node`` with its dependencies installed from the lockfile."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _no_node("node and npm are not on PATH")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    major = int(version.stdout.strip().lstrip("v").split(".")[0])
    if major < 20:
        _no_node(f"Node >= 20 is needed, found {version.stdout.strip()}")
    installed = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        # the only network use of the suite: npm's registry, at install time (before any test)
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                              capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            _no_node(f"npm ci failed in {NODE_DIR}: {done.stderr[-2000:]}")
    return NODE_DIR
