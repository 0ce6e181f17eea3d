"""AsyncClient: 16 gathered generations at 500 ms server latency, and how free the loop stays.

Prints the wall time against the ideal (one latency: all 16 in flight at once; target <= 1.2x)
and the longest gap a 5 ms ticker coroutine saw beside them (target <= 20 ms), for the default
1K PNG (2.4 MB of base64 per answer) and a 1K JPEG. The baseline is the server's latency measured
in the same run with one request. The server runs in its own process, as a remote service would.

Run: ``python benchmarks/bench_async.py``.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time

import jupyter_imagegen as ig

LATENCY = 0.5
N = 16


async def gathered(client: ig.AsyncClient, model: str) -> tuple[float, float, float]:
    stalls: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            stalls.append(now - last - 0.005)
            last = now

    tick = asyncio.create_task(ticker())
    started = time.perf_counter()
    results = await asyncio.gather(*(client.generate("async shapes", model, seed=SEED)
                                     for i in range(N)))
    wall = time.perf_counter() - started
    stop.set()
    await tick
    assert all(r.images for r in results)
    return wall, max(stalls), statistics.median(stalls)


async def main_async(base_url: str) -> None:
    async with ig.AsyncClient(base_url=base_url, api_key="offline") as client:
        await client.models()
        for model, label in (("offline/sketch", "1K PNG"), ("offline/photo", "1K JPEG/PNG")):
            await client.generate("async shapes", model, seed=SEED)  # the server renders once
            one_start = time.perf_counter()
            await client.generate("async shapes", model, seed=SEED)
            one = time.perf_counter() - one_start
            runs = [await gathered(client, model) for _ in range(3)]
            wall = statistics.median(r[0] for r in runs)
            worst = max(r[1] for r in runs)
            typical = statistics.median(r[2] for r in runs)
            print(f"{label:<12} one request {one * 1e3:6.0f} ms | {N} gathered {wall * 1e3:6.0f} ms = "
                  f"{wall / LATENCY:.2f}x latency, {wall / one:.2f}x one request | loop stall max "
                  f"{worst * 1e3:.1f} ms, median {typical * 1e3:.2f} ms")


#: A fixed seed: the server renders once (an unseeded request is a new picture each time,
#: as online), so the figures measure the client and the transport, not the offline renderer.
SEED = 7

def main() -> int:
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_imagegen._cli", "serve", "--port", "0", "--latency",
         str(LATENCY)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().rsplit(" ", 1)[-1].strip()
        print(f"{N} generations gathered at {LATENCY * 1e3:.0f} ms server latency; median of 3 runs")
        asyncio.run(main_async(base_url))
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
