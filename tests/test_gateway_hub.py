"""The gateway as a JupyterHub service, against a real Hub started here (loopback only).

The Hub (``jupyterhub`` from PyPI, ``configurable-http-proxy`` from npm, installed from
``tests/hub/package-lock.json`` on first use) runs the dummy authenticator and the simple local
spawner, and starts the gateway as a managed service (``gateway serve --hub``). Each user's
single-user server is spawned with ``JUPYTER_IMAGEGEN_GATEWAY`` set (``c.Spawner.environment``)
and a token that may use the service (``c.Spawner.server_token_scopes``): before it becomes the
real ``jupyterhub-singleuser``, the spawned process runs the kit exactly as a kernel there would,
with nothing but that environment, and writes what it saw to a file the test reads.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_helpers import ROOT, UPSTREAM_KEY, billed, free_port

from jupyter_imagegen.gateway import Ledger
from jupyter_imagegen.gateway._ledger import to_usd
from jupyter_imagegen.server import LocalServer

pytest.importorskip("jupyterhub")
pytestmark = pytest.mark.slow

HUB_NODE = Path(__file__).parent / "hub"
SERVICE = "imagegen-gateway"
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

#: Runs in the spawned server's place, with its environment, then becomes the real server.
KERNEL_SIDE = textwrap.dedent('''
    import json, os, sys
    import httpx
    import jupyter_imagegen as ig
    out = {"base_url": None}
    try:
        client = ig.default_client()
        out["base_url"] = client.base_url
        result = client.generate("a red lighthouse on blue waves", model="offline/sketch")
        out.update(ok=True, cost=result.cost, size=list(result.image.size))
        token = os.environ["JUPYTERHUB_API_TOKEN"]
        key = httpx.get(client.base_url + "/key", headers={"Authorization": "Bearer " + token})
        out["key"] = key.json()
    except Exception as exc:
        out.update(ok=False, error=f"{type(exc).__name__}: {exc}")
    with open(os.path.join(os.environ["IMAGEGEN_TEST_OUT"], os.environ["JUPYTERHUB_USER"] + ".json"),
              "w") as handle:
        json.dump(out, handle)
    os.execv(sys.executable, [sys.executable, "-m", "jupyterhub.singleuser", *sys.argv[1:]])
''')


def _proxy_command() -> str:
    """``configurable-http-proxy``, from PATH or installed here with ``npm ci``."""
    found = shutil.which("configurable-http-proxy")
    if found:
        return found
    local = HUB_NODE / "node_modules" / ".bin" / "configurable-http-proxy"
    npm = shutil.which("npm")
    if not local.exists() and npm is not None:
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HUB_NODE,
                       capture_output=True, timeout=600, check=False)
    if not local.exists():
        if CI:
            pytest.fail("configurable-http-proxy could not be installed (npm ci in tests/hub)")
        pytest.skip("configurable-http-proxy is not installed (npm ci in tests/hub)")
    return str(local)


class Hub:
    """A JupyterHub on 127.0.0.1 with the gateway as a managed service."""

    def __init__(self, folder: Path, upstream: str) -> None:
        self.folder = folder
        self.port, self.hub_port, self.api_port = free_port(), free_port(), free_port()
        self.gateway_port = free_port()
        self.admin_token = secrets.token_hex(32)
        self.db = str(folder / "class.db")
        self.out = folder / "out"
        self.out.mkdir()
        script = folder / "kernel_side.py"
        script.write_text(KERNEL_SIDE)
        config = folder / "jupyterhub_config.py"
        config.write_text(self._config(upstream, script))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("OPENROUTER_API_KEY", None)
        self.log = (folder / "hub.log").open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(config)],
                                     cwd=folder, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_until_up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _config(self, upstream: str, script: Path) -> str:
        gateway_cmd = [sys.executable, "-m", "jupyter_imagegen._cli", "gateway", "serve", "--hub",
                       "--db", self.db, "--upstream", upstream, "--default-budget", "0.50"]
        return textwrap.dedent(f"""
            c = get_config()  # noqa
            c.JupyterHub.ip = "127.0.0.1"
            c.JupyterHub.port = {self.port}
            c.JupyterHub.hub_ip = "127.0.0.1"
            c.JupyterHub.hub_port = {self.hub_port}
            c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{self.api_port}"
            c.ConfigurableHTTPProxy.command = [{_proxy_command()!r}]
            c.JupyterHub.authenticator_class = "dummy"
            c.JupyterHub.spawner_class = "simple"
            c.JupyterHub.db_url = "sqlite:///{self.folder / 'hub.sqlite'}"
            c.JupyterHub.cookie_secret_file = "{self.folder / 'cookie_secret'}"
            c.JupyterHub.pid_file = "{self.folder / 'hub.pid'}"
            c.JupyterHub.cleanup_servers = True
            c.Spawner.cmd = [{sys.executable!r}, {str(script)!r}]
            c.Spawner.args = ["--allow-root"]
            c.Spawner.start_timeout = 90
            c.Spawner.http_timeout = 90
            c.SimpleLocalProcessSpawner.home_dir_template = "{self.folder}/home/{{username}}"
            # --- what an admin adds for the gateway (docs/gateway.md) ---
            c.JupyterHub.services = [
                {{"name": "{SERVICE}", "url": "http://127.0.0.1:{self.gateway_port}",
                  "command": {gateway_cmd!r},
                  "environment": {{"OPENROUTER_API_KEY": {UPSTREAM_KEY!r},
                                   "PYTHONPATH": {str(ROOT)!r}}}}},
                {{"name": "test-admin", "api_token": {self.admin_token!r}}},
            ]
            c.JupyterHub.load_roles = [
                {{"name": "user", "scopes": ["self", "access:services!service={SERVICE}"]}},
                {{"name": "test-admin", "services": ["test-admin"],
                  "scopes": ["admin:users", "admin:servers", "tokens", "read:users"]}},
            ]
            c.Spawner.server_token_scopes = [
                "access:servers!user", "read:users:activity!user", "users:activity!user",
                "access:services!service={SERVICE}"]
            c.Spawner.environment = {{
                "JUPYTER_IMAGEGEN_GATEWAY": "{self.url}/services/{SERVICE}/api/v1",
                "IMAGEGEN_TEST_OUT": "{self.out}"}}
        """)

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/hub/health", timeout=2).status_code == 200 and \
                        httpx.get(f"{self.url}/services/{SERVICE}/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise AssertionError(f"the Hub did not start:\n{(self.folder / 'hub.log').read_text()[-5000:]}")

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}/hub/api{path}", timeout=30,
                             headers={"Authorization": f"token {self.admin_token}"}, **kwargs)

    def spawn(self, user: str) -> dict[str, Any]:
        """Create ``user``, start their server, and return what the kit saw inside it."""
        assert self.api("POST", f"/users/{user}").status_code in (201, 409)
        assert self.api("POST", f"/users/{user}/server").status_code in (201, 202)
        result = self.out / f"{user}.json"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not result.exists():
            time.sleep(0.2)
        assert result.exists(), (self.folder / "hub.log").read_text()[-5000:]
        time.sleep(0.2)
        found: dict[str, Any] = json.loads(result.read_text())
        return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def upstream() -> Iterator[LocalServer]:
    with LocalServer(api_key=UPSTREAM_KEY) as srv:
        yield srv


@pytest.fixture(scope="module")
def hub(upstream: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    running = Hub(tmp_path_factory.mktemp("hub"), upstream.base_url)
    yield running
    running.stop()


def test_a_student_server_generates_through_the_gateway_with_its_own_token(
        hub: Hub, upstream: LocalServer) -> None:
    seen = hub.spawn("alice")
    assert seen["base_url"] == f"{hub.url}/services/{SERVICE}/api/v1"
    assert seen.get("ok"), seen
    assert seen["size"] == [1024, 1024] and seen["cost"] > 0
    key = seen["key"]["data"]
    assert key["label"] == "alice" and key["limit"] == 0.5  # created on first use
    assert key["usage"] == pytest.approx(seen["cost"])
    ledger = Ledger(hub.db)
    alice = ledger.student("alice")
    ledger.close()
    assert alice is not None and alice.hub_user == "alice" and alice.calls == 1
    assert to_usd(alice.spent) == pytest.approx(billed(upstream))


def test_each_hub_user_sees_only_their_own_budget(hub: Hub) -> None:
    seen = hub.spawn("bob")
    assert seen.get("ok"), seen
    assert seen["key"]["data"]["label"] == "bob"
    assert seen["key"]["data"]["usage"] == pytest.approx(seen["cost"])


def test_tokens_the_hub_does_not_vouch_for_are_refused(hub: Hub) -> None:
    gateway = f"{hub.url}/services/{SERVICE}/api/v1"
    narrow = hub.api("POST", "/users/alice/tokens", json={"scopes": ["read:users:activity!user"],
                                                          "note": "no service access"})
    assert narrow.status_code == 201, narrow.text
    for token in (narrow.json()["token"], "not-a-hub-token", hub.admin_token):
        answer = httpx.get(f"{gateway}/key", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401, (token[:6], answer.text)
    wide = hub.api("POST", "/users/alice/tokens", json={
        "scopes": [f"access:services!service={SERVICE}"], "note": "gateway"})
    answer = httpx.get(f"{gateway}/key", headers={"Authorization": f"Bearer {wide.json()['token']}"})
    assert answer.status_code == 200 and answer.json()["data"]["label"] == "alice"
