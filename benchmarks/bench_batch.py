"""Batch throughput against the local server with 500 ms latency per generation.

16 requests at concurrency 16 should take about one latency (target <= 1.2 x 0.5 s) with no
"Connection pool is full" warnings; at concurrency 4 they take four waves. The baseline is the
server's latency itself, measured in the same run with one request. The server runs in its own
process (``jupyter-imagegen serve --latency 0.5``), as a real remote service would.

Run: ``python benchmarks/bench_batch.py``.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import subprocess
import sys
import time
import warnings

import requests

import jupyter_imagegen as ig

LATENCY = 0.5
N = 16


class PoolWarnings(logging.Handler):
    """Counts urllib3's "Connection pool is full, discarding connection" log records."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "pool is full" in record.getMessage().lower():
            self.count += 1


#: A fixed seed: the server renders once (an unseeded request is a new picture each time,
#: as online), so the figures measure the client and the transport, not the offline renderer.
SEED = 7

def main() -> int:
    pool = PoolWarnings()
    logging.getLogger("urllib3").addHandler(pool)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_imagegen._cli", "serve", "--port", "0", "--latency", str(LATENCY)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().rsplit(" ", 1)[-1].strip()
        run(base_url, pool)
    finally:
        server.terminate()
        server.wait(10)
    return 0


def raw_threads(base_url: str, model: str, concurrency: int) -> float:
    """Baseline: the same 16 POSTs from plain requests threads, bodies read but not decoded."""
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=concurrency))
    body = {"model": model, "messages": [{"role": "user", "content": "warm-up"}],
            "modalities": ["image", "text"], "seed": SEED}

    def one(_: int) -> int:
        return len(session.post(f"{base_url}/chat/completions", json=body).content)

    one(0)
    started = time.perf_counter()
    with cf.ThreadPoolExecutor(concurrency) as pool:
        sizes = list(pool.map(one, range(N)))
    took = time.perf_counter() - started
    print(f"  baseline raw requests threads, concurrency {concurrency:2}: {took:.3f} s "
          f"({sizes[0] / 1e6:.2f} MB per response)")
    return took


def run(base_url: str, pool: PoolWarnings) -> None:
    """Time one request, then the batch at two concurrencies, for a large and a small image."""
    with ig.Client(base_url=base_url) as client:
        client.models()
        for model, label in (("offline/sketch", "1K PNG, ~2.4 MB base64"),
                             ("offline/photo", "1K JPEG")):
            print(f"{model} ({label}):")
            client.generate("warm-up", model, seed=SEED)  # render cache warm: measure waiting only
            started = time.perf_counter()
            client.generate("warm-up", model, seed=SEED)
            print(f"  one request: {time.perf_counter() - started:.3f} s (server latency {LATENCY} s)")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                for concurrency in (16, 4):
                    base = raw_threads(base_url, model, concurrency)
                    started = time.perf_counter()
                    batch = client.generate_many(["warm-up"] * N, model, seed=SEED, concurrency=concurrency,
                                                 progress=False)
                    took = time.perf_counter() - started
                    waves = -(-N // concurrency)
                    print(f"  generate_many {N} requests, concurrency {concurrency:2}: {took:.3f} s = "
                          f"{took / LATENCY:.2f} x latency, {took / (waves * LATENCY):.2f} x the "
                          f"{waves}-wave ideal, {took / base:.2f} x raw requests; "
                          f"{len(batch.results)} ok, {len(batch.errors)} failed")
            pool.count += sum("pool is full" in str(w.message).lower() for w in caught)
    print(f"'connection pool is full' warnings: {pool.count}")


if __name__ == "__main__":
    raise SystemExit(main())
