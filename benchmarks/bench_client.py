"""One 1024x1024 PNG response (~2.4 MB of base64), fetched and decoded by our client and its peers.

Every figure is a ratio against the decode floor measured in the same run: base64-decoding the
image (with the stdlib, as the peers do) and loading the PNG, which any client must do. Our
client decodes with pybase64, so a strict floor is printed too: reading the body over HTTP, plus
the pybase64 decode and the PNG load. Peers do the same end-to-end work (HTTP, JSON or SSE,
base64, PNG load) against the same local server:

- raw ``requests`` (a session, ``json.loads``; streaming with ``iter_lines()``, what most people write)
- ``httpx`` (a client; streaming with ``iter_lines()``)
- the official ``openai`` SDK (images from ``model_extra``)

The server runs in its own process (so it never competes with the measured client for the GIL)
and answers with one fixed noisy PNG (its render cache is pre-filled), so the wire payload matches
a real Gemini 1K image and rendering is not measured. Clients take turns, one call each per round,
so drift on the machine hits all of them alike.

Run: ``python benchmarks/bench_client.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import base64
import gc
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pybase64
import requests
from PIL import Image

import jupyter_imagegen as ig
from jupyter_imagegen.server import LocalServer

MODEL = "offline/sketch"
PROMPT = "benchmark"


def make_png() -> bytes:
    """A 1024x1024 RGB PNG of ~1.8 MB: a gradient with 4 bits of noise (compresses like a photo)."""
    rng = random.Random(0)
    noise = rng.randbytes(1024 * 1024 * 3)
    pixels = bytes(((i >> 12) & 0xF0) | (b >> 4) for i, b in enumerate(noise))
    buf = io.BytesIO()
    Image.frombytes("RGB", (1024, 1024), pixels).save(buf, "PNG")
    return buf.getvalue()


def load(b64: str | bytes) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def fast_load(b64: str | bytes) -> Image.Image:
    image = Image.open(io.BytesIO(pybase64.b64decode(b64, validate=True)))
    image.load()
    return image


def time_rounds(rows: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Median seconds per call, measured in interleaved rounds after one warm-up call each."""
    for fn in rows.values():
        fn()  # warm up: connections, model listing cache
    samples: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(repeat):
        for name, fn in rows.items():
            gc.collect()
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def serve(url_file: str) -> None:
    """Child process: a LocalServer whose every image is the fixed benchmark PNG."""
    data_url = "data:image/png;base64," + base64.b64encode(make_png()).decode()
    with LocalServer(port=0) as srv:
        srv.cache.get = lambda key, make: data_url  # type: ignore[method-assign]
        with open(url_file, "w") as fh:
            fh.write(srv.base_url)
        while True:
            time.sleep(3600)


def peak_memory(fn: Callable[[], Any]) -> float:
    """Peak traced Python allocation of one call, in MB (what a notebook's memory feels)."""
    fn()
    gc.collect()
    tracemalloc.start()
    result = fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return peak / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0

    png = make_png()
    b64 = base64.b64encode(png).decode()

    with tempfile.TemporaryDirectory() as tmp:
        url_file = os.path.join(tmp, "url")
        child = subprocess.Popen([sys.executable, __file__, "--serve", url_file])
        try:
            deadline = time.monotonic() + 30
            while not (os.path.exists(url_file) and Path(url_file).read_text()):
                if time.monotonic() > deadline or child.poll() is not None:
                    raise SystemExit("the benchmark server did not start")
                time.sleep(0.05)
            times, mems = run(Path(url_file).read_text(), b64, args.repeat)
        finally:
            child.terminate()
            child.wait(10)
    report(times, mems, png, b64, args.repeat)
    return 0


def run(base: str, b64: str, repeat: int) -> tuple[dict[str, float], dict[str, float]]:
    """Measure every client against the server at ``base``."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}],
            "modalities": ["image", "text"]}
    if True:
        ours = ig.Client(api_key="offline", base_url=base)
        session = requests.Session()
        hx = httpx.Client(timeout=60)
        import openai

        oai = openai.OpenAI(api_key="offline", base_url=base)

        def floor() -> Image.Image:
            return load(b64)

        def fast_floor() -> Image.Image:
            return fast_load(b64)

        def http_only() -> int:
            r = session.post(f"{base}/chat/completions", json=body, stream=True)
            return len(r.raw.read())

        def ours_json() -> Image.Image:
            return ours.generate(PROMPT, MODEL).image

        def ours_stream() -> Image.Image:
            return ours.generate(PROMPT, MODEL, stream=True).image

        def requests_json() -> Image.Image:
            r = session.post(f"{base}/chat/completions", json=body)
            data = json.loads(r.content)["choices"][0]["message"]["images"][0]["image_url"]["url"]
            return load(data.split(",", 1)[1])

        def requests_stream() -> Image.Image:
            r = session.post(f"{base}/chat/completions", json={**body, "stream": True}, stream=True)
            for line in r.iter_lines():
                if line.startswith(b"data: {"):
                    for choice in json.loads(line[6:]).get("choices", []):
                        for image in choice.get("delta", {}).get("images") or []:
                            found = image["image_url"]["url"]
            return load(found.split(",", 1)[1])

        def httpx_json() -> Image.Image:
            r = hx.post(f"{base}/chat/completions", json=body)
            data = r.json()["choices"][0]["message"]["images"][0]["image_url"]["url"]
            return load(data.split(",", 1)[1])

        def httpx_stream() -> Image.Image:
            with hx.stream("POST", f"{base}/chat/completions", json={**body, "stream": True}) as r:
                for line in r.iter_lines():
                    if line.startswith("data: {"):
                        for choice in json.loads(line[6:]).get("choices", []):
                            for image in choice.get("delta", {}).get("images") or []:
                                found = image["image_url"]["url"]
            return load(found.split(",", 1)[1])

        def openai_json() -> Image.Image:
            c = oai.chat.completions.create(model=MODEL, messages=body["messages"],
                                            extra_body={"modalities": ["image", "text"]})
            images = (c.choices[0].message.model_extra or {})["images"]
            return load(images[0]["image_url"]["url"].split(",", 1)[1])

        def openai_stream() -> Image.Image:
            stream = oai.chat.completions.create(model=MODEL, messages=body["messages"], stream=True,
                                                 extra_body={"modalities": ["image", "text"]})
            for chunk in stream:
                for choice in chunk.choices:
                    for image in (choice.delta.model_extra or {}).get("images") or []:
                        found = image["image_url"]["url"]
            return load(found.split(",", 1)[1])

        assert ours_json().size == ours_stream().size == requests_stream().size == (1024, 1024)
        assert ours_json().tobytes() == floor().tobytes()

        rows = {
            "decode floor (base64 + PNG load)": floor,
            "  same, with pybase64": fast_floor,
            "  HTTP only (read the body)": http_only,
            "jupyter_imagegen": ours_json,
            "raw requests": requests_json,
            "httpx": httpx_json,
            "openai SDK": openai_json,
            "jupyter_imagegen stream": ours_stream,
            "raw requests stream (iter_lines)": requests_stream,
            "httpx stream (iter_lines)": httpx_stream,
            "openai SDK stream": openai_stream,
        }
        times = time_rounds(rows, repeat)
        mems = {name: peak_memory(rows[name]) for name in
                ("decode floor (base64 + PNG load)", "jupyter_imagegen", "jupyter_imagegen stream",
                 "raw requests", "httpx", "openai SDK", "openai SDK stream")}
    return times, mems


def report(times: dict[str, float], mems: dict[str, float], png: bytes, b64: str, repeat: int) -> None:
    """Print the table of ratios against the floor and against the best peer."""
    f = times["decode floor (base64 + PNG load)"]
    print(f"payload: {len(png) / 1e6:.2f} MB PNG, {len(b64) / 1e6:.2f} MB base64; "
          f"median of {repeat} interleaved rounds; server in its own process; "
          f"Python {sys.version.split()[0]}")
    print(f"{'client':36} {'ms':>8} {'x floor':>8}")
    for name, seconds in times.items():
        print(f"{name:36} {seconds * 1e3:8.1f} {seconds / f:8.2f}")
    best_json = min(times[k] for k in ("raw requests", "httpx", "openai SDK"))
    best_stream = min(times[k] for k in ("raw requests stream (iter_lines)", "httpx stream (iter_lines)",
                                         "openai SDK stream"))
    print(f"ours / best peer: non-streaming {times['jupyter_imagegen'] / best_json:.2f}x, "
          f"streaming {times['jupyter_imagegen stream'] / best_stream:.2f}x")
    # The floor above decodes with the stdlib, as the peers do; we decode with pybase64. The
    # strict floor is what no client can beat: the body's transfer plus the fastest decode.
    strict = times["  HTTP only (read the body)"] + times["  same, with pybase64"]
    print(f"strict floor (HTTP body read + pybase64 decode + PNG load) {strict * 1e3:.1f} ms: ours "
          f"non-streaming {times['jupyter_imagegen'] / strict:.2f}x, "
          f"streaming {times['jupyter_imagegen stream'] / strict:.2f}x")
    print("peak traced memory, MB:")
    for name, mb in mems.items():
        print(f"  {name:34} {mb:7.1f}  (+{mb - mems['decode floor (base64 + PNG load)']:.1f} vs floor)")


if __name__ == "__main__":
    raise SystemExit(main())
