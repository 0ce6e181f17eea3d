"""Shared pieces of the gateway tests: a real upstream (the local server), ledgers, CLI runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from jupyter_imagegen.gateway import Gateway, GatewayConfig, Ledger
from jupyter_imagegen.server import LocalServer

ROOT = Path(__file__).resolve().parents[1]
#: The gateway's upstream key in tests: it must never show in anything a student gets back.
UPSTREAM_KEY = "sk-or-v1-upstream-secret-0123456789abcdef"
CHAT_BODY = {"model": "offline/sketch", "modalities": ["image", "text"],
             "messages": [{"role": "user", "content": "a red lighthouse on blue waves"}]}


def billed(server: LocalServer) -> float:
    """What the upstream billed in all (its generations' ``total_cost``)."""
    return round(sum(g.total_cost for g in server.generations), 9)


def upstream_paths(server: LocalServer) -> list[str]:
    """The paths the upstream was asked for, in order."""
    return [r.path for r in server.requests]


def authorization_headers(server: LocalServer) -> set[str]:
    """Every ``Authorization`` value the upstream received."""
    return {v for r in server.requests for k, v in r.headers.items() if k.lower() == "authorization"}


def auth(token: str) -> dict[str, str]:
    """The header a client sends with ``token``."""
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def running_gateway(upstream: LocalServer, ledger: Ledger, **settings: Any) -> Iterator[Gateway]:
    """A gateway in this process in front of ``upstream`` (its key: :data:`UPSTREAM_KEY`)."""
    config = GatewayConfig(upstream=upstream.base_url, upstream_key=UPSTREAM_KEY, **settings)
    with Gateway(config, ledger) as gateway:
        yield gateway


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI subprocess: this checkout first on the path, no real keys."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENROUTER_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def cli(*args: str, env: Mapping[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``jupyter-imagegen ARGS`` in a subprocess and return its result."""
    return subprocess.run([sys.executable, "-m", "jupyter_imagegen._cli", *args],
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(env) if env is not None else cli_env(), check=False)


class GatewayProcess:
    """``jupyter-imagegen gateway serve`` in a subprocess, with its URL read from its output."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.log_path = log
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_imagegen._cli", "gateway", "serve", *args],
            stdout=self._log, stderr=subprocess.STDOUT, env=dict(env), start_new_session=True)
        self.base_url = self._wait_for_url()

    def _wait_for_url(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_text()
            found = re.search(r"Gateway at (http://\S+/api/v1)", text)
            if found:
                for _ in range(100):
                    try:
                        httpx.get(found.group(1).removesuffix("/api/v1") + "/", timeout=2)
                        return found.group(1)
                    except httpx.HTTPError:
                        time.sleep(0.05)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"the gateway did not start:\n{self.log_path.read_text()}")

    def output(self) -> str:
        """What the process printed so far."""
        return self.log_path.read_text()

    def kill9(self) -> None:
        """``kill -9`` the gateway, and reap it."""
        self.proc.kill()
        self.proc.wait(10)
        self._log.close()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


def post_json(url: str, body: Mapping[str, Any], token: str, timeout: float = 60) -> httpx.Response:
    """One POST with a student's token."""
    return httpx.post(url, content=json.dumps(body), headers={**auth(token),
                      "Content-Type": "application/json"}, timeout=timeout)


# -- a throwaway PostgreSQL cluster --------------------------------------------------------------

def postgres_bin() -> Path | None:
    """Debian's PostgreSQL binaries (``/usr/lib/postgresql/<version>/bin``), newest first."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return found[-1].parent if found else None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """A PostgreSQL server in a temporary folder on 127.0.0.1; yields its URL; removed after.

    ``initdb`` and ``pg_ctl`` refuse to run as root, so as root they run as the ``postgres`` user
    (the Debian package's), which must own the folder.
    """
    import shutil
    import tempfile

    bindir = postgres_bin()
    if bindir is None:
        if os.environ.get("CI"):
            raise AssertionError("PostgreSQL is not installed (.ci/run installs Debian's package)")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="imagegen-pg-", dir="/tmp"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        import pwd

        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data = folder / "data"
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True,  # noqa: E731
                                      timeout=120)
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "test", "-A", "trust", "--no-sync")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-o",
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        yield f"postgresql://test@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True, timeout=60, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def reset_postgres(url: str) -> None:
    """Drop the gateway's tables, so each test starts from an empty ledger."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("gw_students", "gw_class", "gw_reservations", "gw_calls", "gw_instances",
                      "gw_images"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
