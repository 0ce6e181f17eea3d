"""Replay-cache hit vs the same uncached call, for a 1024x1024 PNG from the local server.

The uncached baseline is measured in the same run against a server whose renderer is already
warm (so it is only transfer, JSON and base64: the fastest an uncached call can be here), which
makes the ratio conservative. Target: a hit takes <= 0.1x the uncached time.

Run: ``python benchmarks/bench_cache.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import jupyter_imagegen as ig

PROMPT, MODEL = "a red lighthouse on blue waves", "offline/sketch"


#: A fixed seed: the server renders once (an unseeded request is a new picture each time,
#: as online), so the figures measure the client and the transport, not the offline renderer.
SEED = 7

def median_ms(fn: Callable[[], ig.ImageResult], repeat: int) -> float:
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-m", "jupyter_imagegen._cli", "serve", "--port", "0"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().rsplit(" ", 1)[-1].strip()
        with tempfile.TemporaryDirectory() as folder, \
                ig.Client(base_url=base_url) as plain, \
                ig.Client(base_url=base_url, cache=folder) as cached:
            size = len(plain.generate(PROMPT, MODEL, seed=SEED).generated[0].data)
            uncached = median_ms(lambda: plain.generate(PROMPT, MODEL, seed=SEED), args.repeat)
            hit_result = cached.generate(PROMPT, MODEL, seed=SEED)
            hit = median_ms(lambda: cached.generate(PROMPT, MODEL, seed=SEED), args.repeat)
            assert cached.generate(PROMPT, MODEL, seed=SEED).cached
            assert hit_result.generated[0].data == cached.generate(PROMPT, MODEL, seed=SEED).generated[0].data
    finally:
        server.terminate()
        server.wait(10)
    print(f"1024x1024 PNG, {size / 1e6:.2f} MB; median of {args.repeat}")
    print(f"uncached call (warm server): {uncached:7.2f} ms")
    print(f"cache hit:                   {hit:7.2f} ms  = {hit / uncached:.3f} x uncached (target <= 0.1)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
