"""What the classroom gateway costs: direct to the upstream vs through the gateway, same run.

* 16 concurrent 1K generations (offline/sketch, a 1024x1024 PNG of ~2.4 MB base64 per answer) at
  500 ms upstream latency, with the kit's ``generate_many``: the gateway's time over the direct
  time (target <= 1.15x).
* Sequential calls at zero upstream latency, with plain ``requests`` (bodies read, not decoded):
  the milliseconds the gateway adds per call (target <= 10 ms).
* Memory per in-flight call: the gateway process's resident memory sampled while 16 calls are
  in flight, less its resident memory at rest, divided by 16; again with the teacher's page on
  (each call then keeps its first image's base64 for the thumbnail).
* LiteLLM's proxy in front of the same upstream, as a baseline, when a ``litellm`` command with
  the proxy extra is found (``LITELLM_PROXY_BIN``, or ``litellm`` on PATH); it is not a
  dependency of the kit: make one with ``python -m venv /tmp/litellm-venv &&
  /tmp/litellm-venv/bin/pip install 'litellm[proxy]'`` and set
  ``LITELLM_PROXY_BIN=/tmp/litellm-venv/bin/litellm``.

Every process (upstream, gateway, LiteLLM) is a separate one on 127.0.0.1, as in a classroom.
Run: ``python benchmarks/bench_gateway.py``.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

import jupyter_imagegen as ig

LATENCY = 0.5
N = 16
SEQUENTIAL = 40
MODEL = "offline/sketch"
KEY = "sk-or-v1-bench-upstream-key"
#: A fixed seed: the server renders once (an unseeded request is a new picture each time,
#: as online), so the figures measure the client and the transport, not the offline renderer.
SEED = 7
BODY = {"model": MODEL, "modalities": ["image", "text"], "seed": SEED,
        "messages": [{"role": "user", "content": "a red lighthouse on blue waves"}]}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "jupyter_imagegen._cli", *args]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENROUTER_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1]) + os.pathsep + env.get(
        "PYTHONPATH", "")
    return {**env, **extra}


def _start(cmd: list[str], pattern: str, env: dict[str, str],
           log: Path) -> tuple[subprocess.Popen[bytes], str]:
    handle = log.open("wb")
    proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(errors="replace"))
        if found:
            return proc, found.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{cmd[0]} did not start:\n{log.read_text(errors='replace')[-3000:]}")


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


ROUNDS = 5


def batches(targets: list[tuple[str, str]]) -> list[float]:
    """16 generations at concurrency 16 through the kit, per target: the median of ROUNDS rounds.

    The targets take turns within each round, so a noisy neighbour on the machine slows both.
    """
    clients = [ig.Client(base_url=url, api_key=key) for url, key in targets]
    times: list[list[float]] = [[] for _ in targets]
    try:
        for client in clients:
            client.generate("warm-up", MODEL, seed=SEED)
        for _ in range(ROUNDS):
            for client, took in zip(clients, times, strict=True):
                started = time.perf_counter()
                done = client.generate_many(["warm-up"] * N, MODEL, seed=SEED, concurrency=N,
                                             progress=False)
                took.append(time.perf_counter() - started)
                assert len(done.results) == N, done.errors
    finally:
        for client in clients:
            client.close()
    return [statistics.median(t) for t in times]


def sequential(base_url: str, key: str) -> float:
    """Median seconds of one plain POST (body read, not decoded), over SEQUENTIAL calls."""
    session = requests.Session()
    headers = {"Authorization": f"Bearer {key}"}
    times = []
    for i in range(SEQUENTIAL + 3):
        started = time.perf_counter()
        answer = session.post(f"{base_url}/chat/completions", json=BODY, headers=headers)
        answer.raise_for_status()
        assert len(answer.content) > 1_000_000
        if i >= 3:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def in_flight_memory(base_url: str, key: str, pid: int) -> tuple[float, int]:
    """(MB per in-flight call, idle RSS): RSS sampled every 5 ms during a 16-call batch."""
    idle = _rss(pid)
    peak = idle
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _rss(pid))
            time.sleep(0.005)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=N))

    def one(_: int) -> int:
        return len(session.post(f"{base_url}/chat/completions", json=BODY,
                                headers={"Authorization": f"Bearer {key}"}).content)

    with cf.ThreadPoolExecutor(N) as pool:
        list(pool.map(one, range(N)))
    stop.set()
    watcher.join()
    return (peak - idle) / N / 1e6, idle


def _litellm(upstream: str, folder: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    command = os.environ.get("LITELLM_PROXY_BIN") or shutil.which("litellm")
    if not command:
        return None
    config = folder / "litellm.yaml"
    config.write_text(f"""model_list:
  - model_name: {MODEL}
    litellm_params:
      model: openrouter/{MODEL}
      api_base: {upstream}
      api_key: {KEY}
general_settings:
  master_key: sk-litellm-bench
litellm_settings:
  drop_params: false
""")
    port = _free_port()
    env = _env(LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_TELEMETRY="False",
               LITELLM_LOG="ERROR")
    log = (folder / "litellm.log").open("wb")
    proc = subprocess.Popen([command, "--config", str(config), "--host", "127.0.0.1", "--port",
                             str(port), "--num_workers", "1"], stdout=log,
                            stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:  # its documented liveness route
            if requests.get(f"http://127.0.0.1:{port}/health/liveliness", timeout=2).ok:
                return proc, f"http://127.0.0.1:{port}/v1"
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    print("LiteLLM proxy did not start: "
          f"{(folder / 'litellm.log').read_text(errors='replace')[-400:]}")
    return None


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _gateway(upstream: str, folder: Path, name: str,
             *extra: str) -> tuple[subprocess.Popen[bytes], str, str]:
    db = str(folder / f"{name}.db")
    added = subprocess.run(_cli("gateway", "add", "bench", "--budget", "1000", "--db", db),
                           capture_output=True, text=True, env=_env(), check=True)
    token = added.stdout.strip().splitlines()[-1]
    proc, url = _start(_cli("gateway", "serve", "--db", db, "--upstream", upstream, *extra),
                       r"Gateway at (http://\S+/api/v1)", _env(OPENROUTER_API_KEY=KEY),
                       folder / f"{name}.log")
    return proc, url, token


def _upstream(latency: float, folder: Path, name: str) -> tuple[subprocess.Popen[bytes], str]:
    return _start(_cli("serve", "--port", "0", "--latency", str(latency), "--api-key", KEY),
                  r"API at (http://\S+/api/v1)", _env(), folder / f"{name}.log")


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        slow, slow_url = _upstream(LATENCY, folder, "slow")
        fast, fast_url = _upstream(0.0, folder, "fast")
        gw_slow, gw_slow_url, token = _gateway(slow_url, folder, "gw-slow")
        gw_fast, gw_fast_url, token_fast = _gateway(fast_url, folder, "gw-fast")
        procs += [slow, fast, gw_slow, gw_fast]
        report(slow_url, gw_slow_url, token, fast_url, gw_fast_url, token_fast, gw_slow.pid)
        gw_page, gw_page_url, token_page = _gateway(slow_url, folder, "gw-page", "--admin-token",
                                                    "bench-admin-token")
        procs.append(gw_page)
        per_call, idle = in_flight_memory(gw_page_url, token_page, gw_page.pid)
        print(f"  with the teacher's page on (thumbnails caught): {idle / 1e6:.0f} MB at rest, "
              f"{per_call:.2f} MB more per in-flight call")
        litellm = _litellm(slow_url, folder)
        if litellm is None:
            print("LiteLLM proxy: not found (set LITELLM_PROXY_BIN; see the module docstring)")
        else:
            procs.append(litellm[0])
            report_litellm(litellm[1], slow_url, (gw_slow_url, token), litellm[0].pid)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


def report(slow_url: str, gw_slow_url: str, token: str, fast_url: str, gw_fast_url: str,
           token_fast: str, gateway_pid: int) -> None:
    """Print the three measurements, each against the direct baseline of the same run."""
    direct, through = batches([(slow_url, KEY), (gw_slow_url, token)])
    print(f"{N} concurrent 1K generations at {LATENCY * 1000:.0f} ms upstream latency "
          f"(median of {ROUNDS} rounds):")
    print(f"  direct to the upstream: {direct:.3f} s")
    print(f"  through the gateway:    {through:.3f} s = {through / direct:.3f} x direct "
          "(target <= 1.15 x)")
    plain = sequential(fast_url, KEY)
    proxied = sequential(gw_fast_url, token_fast)
    print(f"one call at zero upstream latency (median of {SEQUENTIAL}, ~2.4 MB answer):")
    print(f"  direct: {plain * 1000:.1f} ms, through the gateway: {proxied * 1000:.1f} ms = "
          f"{(proxied - plain) * 1000:+.1f} ms per call (target <= 10 ms), "
          f"{proxied / plain:.2f} x direct")
    per_call, idle = in_flight_memory(gw_slow_url, token, gateway_pid)
    print(f"gateway memory: {idle / 1e6:.0f} MB at rest, {per_call:.2f} MB more per in-flight call "
          f"({N} in flight)")


def _poster(url: str, key: str):  # type: ignore[no-untyped-def]
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=N))

    def one(_: int) -> requests.Response:
        return session.post(f"{url}/chat/completions", json=BODY, timeout=120,
                            headers={"Authorization": f"Bearer {key}"})
    return one


def report_litellm(litellm_url: str, slow_url: str, gateway: tuple[str, str], pid: int) -> None:
    """The same plain-POST batch direct, through the gateway and through LiteLLM's proxy."""
    one = _poster(litellm_url, "sk-litellm-bench")
    first = one(0)
    if first.status_code != 200:
        print(f"LiteLLM proxy answered {first.status_code}: {first.text[:300]}")
        return
    has_images = bool(first.json()["choices"][0]["message"].get("images"))
    times = {}
    for name, call in (("direct", _poster(slow_url, KEY)), ("gateway", _poster(*gateway)),
                       ("litellm", one)):
        call(0)
        started = time.perf_counter()
        with cf.ThreadPoolExecutor(N) as pool:
            answers = list(pool.map(call, range(N)))
        times[name] = time.perf_counter() - started
        assert all(a.status_code == 200 for a in answers), [a.status_code for a in answers]
    print(f"LiteLLM proxy baseline ({N} concurrent plain POSTs at {LATENCY * 1000:.0f} ms; images "
          f"{'passed through' if has_images else 'dropped from its answer'}):")
    print(f"  direct: {times['direct']:.3f} s; through the gateway: {times['gateway']:.3f} s = "
          f"{times['gateway'] / times['direct']:.3f} x; through LiteLLM: {times['litellm']:.3f} s"
          f" = {times['litellm'] / times['direct']:.3f} x direct (LiteLLM's RSS after: "
          f"{_rss(pid) / 1e6:.0f} MB)")


if __name__ == "__main__":
    raise SystemExit(main())
