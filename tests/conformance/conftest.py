"""Fixtures of the conformance suite: one keyed local server per session, loopback-only sockets,
and the Node subproject (installed from its lockfile on first use).

Every client here is a third-party one (official SDKs, the AI SDK provider, openai, litellm),
run unchanged against ``LocalServer``; the expectations are the real service's.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conf_wire import KEY

from jupyter_imagegen.server import LocalServer

NODE_DIR = Path(__file__).parent / "node"
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _loopback(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # an AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(scope="session", autouse=True)
def _loopback_only() -> Iterator[None]:
    """Any attempt to open a non-loopback connection fails the test that made it."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(self: socket.socket, address: Any) -> None:
        if not _loopback(address):
            raise AssertionError(f"conformance tests stay on 127.0.0.1; tried {address!r}")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not _loopback(address):
            raise AssertionError(f"conformance tests stay on 127.0.0.1; tried {address!r}")
        return real_connect_ex(self, address)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", connect)
        mp.setattr(socket.socket, "connect_ex", connect_ex)
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
    if not (NODE_DIR / "node_modules" / ".package-lock.json").exists():
        # the only network use of the suite: npm's registry, at install time (before any test)
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                              capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            _no_node(f"npm ci failed in {NODE_DIR}: {done.stderr[-2000:]}")
    return NODE_DIR


def run_node(node_dir: Path, script: str, base_url: str, *args: str, out_dir: Path,
             timeout: float = 120) -> dict[str, Any]:
    """Run ``script`` (guarded to loopback) and return the JSON report it prints last."""
    env = {**os.environ, "OR_BASE_URL": base_url, "OR_KEY": KEY, "OR_OUT_DIR": str(out_dir),
           "NODE_NO_WARNINGS": "1"}
    node = shutil.which("node")
    assert node is not None
    done = subprocess.run([node, "--import", "./guard.mjs", script, *args], cwd=node_dir,
                          env=env, capture_output=True, text=True, timeout=timeout, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"{script} printed no report (exit {done.returncode}):\n{done.stderr[-4000:]}"
    report: dict[str, Any] = json.loads(lines[-1])
    return report
