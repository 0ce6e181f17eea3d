"""Load on the local server: N concurrent 1K chat generations with distinct prompts (loopback only).

Why: issue 12 asks that the connection cap and header deadline keep "200 concurrent 1K requests all
succeed"; this prints successes, p50 and p99 so a change can be compared with the tree before it.
The server runs in a child process (``PYTHONPATH`` decides which tree), so the 200 client threads
here do not share a GIL with it. Everything is bounded: ``--count`` requests, each with a
``--timeout``, and the whole run stops waiting after ``--budget`` seconds (late ones count as
failures). Example::

    PYTHONPATH=/work/main python benchmarks/bench_server_load.py          # before
    PYTHONPATH=$PWD       python benchmarks/bench_server_load.py          # after
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time

_SERVER = (
    "import sys\n"
    "from jupyter_imagegen.server import LocalServer\n"
    "srv = LocalServer('127.0.0.1', 0)\n"
    "srv.start()\n"
    "print(srv.port, flush=True)\n"
    "sys.stdin.read()\n"
    "srv.stop()\n"
)


def _one(port: int, n: int, timeout: float, out: list[tuple[bool, float, str]],
         start: threading.Barrier) -> None:
    # A distinct prompt per request, so the server's render cache never answers for another one.
    body = json.dumps({"model": "offline/sketch", "modalities": ["image", "text"],
                       "image_config": {"image_size": "1K"},
                       "messages": [{"role": "user", "content": f"a red fox number {n} at dusk"}]})
    start.wait()
    began = time.perf_counter()
    ok, why = False, ""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("POST", "/api/v1/chat/completions", body=body,
                     headers={"Content-Type": "application/json", "Authorization": "Bearer offline"})
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        if resp.status == 200:
            images = json.loads(data)["choices"][0]["message"].get("images") or []
            ok = bool(images)
            why = "" if ok else "no image"
        else:
            why = f"HTTP {resp.status}"
    except Exception as exc:
        why = type(exc).__name__
    out.append((ok, time.perf_counter() - began, why))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="concurrent requests (max 400)")
    parser.add_argument("--timeout", type=float, default=180.0, help="per-request timeout, s")
    parser.add_argument("--budget", type=float, default=300.0, help="whole-run limit, s")
    args = parser.parse_args()
    count = max(1, min(args.count, 400))
    child = subprocess.Popen([sys.executable, "-c", _SERVER], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        results: list[tuple[bool, float, str]] = []
        barrier = threading.Barrier(count)
        threads = [threading.Thread(target=_one, args=(port, i, args.timeout, results, barrier),
                                    daemon=True) for i in range(count)]
        began = time.perf_counter()
        for t in threads:
            t.start()
        deadline = began + args.budget
        for t in threads:
            t.join(max(0.0, deadline - time.perf_counter()))
        wall = time.perf_counter() - began
        done = list(results)
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
    times = sorted(t for ok, t, _ in done if ok)
    failures: dict[str, int] = {}
    for ok, _t, why in done:
        if not ok:
            failures[why] = failures.get(why, 0) + 1
    unfinished = count - len(done)
    if unfinished:
        failures["unfinished within budget"] = unfinished
    p50 = statistics.median(times) if times else float("nan")
    p99 = times[min(len(times) - 1, int(0.99 * len(times)))] if times else float("nan")
    tree = os.environ.get("PYTHONPATH", "(installed package)")
    print(f"tree: {tree}")
    print(f"concurrent requests: {count}  successes: {len(times)}/{count}  "
          f"p50: {p50:.2f}s  p99: {p99:.2f}s  wall: {wall:.2f}s")
    if failures:
        print("failures: " + ", ".join(f"{k}: {v}" for k, v in sorted(failures.items())))
    return 0 if len(times) == count else 1


if __name__ == "__main__":
    sys.exit(main())
