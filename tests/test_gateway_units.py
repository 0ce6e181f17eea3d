"""The gateway's pure parts: finding the bill in a passing answer, and the worst-case price."""

from __future__ import annotations

import base64
import json
import os
import random

import httpx
import pytest

pytest.importorskip("starlette")

from jupyter_imagegen._wire.listings import (
    EndpointsRecord,
    ImageModelInfo,
    ModelInfo,
    PriceLine,
    parse_endpoint_record,
    parse_image_models,
    parse_models,
)
from jupyter_imagegen.gateway._pricing import Listings, worst_case_usd
from jupyter_imagegen.gateway._usage import WINDOW, UsageScanner
from jupyter_imagegen.server import LocalServer

BIG = base64.b64encode(os.urandom(3 * 1024 * 1024)).decode()  # a 4 MB base64 "image"


def _chunks(data: bytes, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    out, at = [], 0
    while at < len(data):
        step = rng.choice([1, 7, 100, 4096, 65536, 300_000])
        out.append(data[at:at + step])
        at += step
    return out


def _scan(data: bytes, *, sse: bool) -> UsageScanner:
    scanner = UsageScanner(sse=sse)
    for chunk in _chunks(data):
        scanner.feed(chunk)
    return scanner


def test_the_bill_at_the_end_of_a_json_answer_is_found_without_holding_it() -> None:
    answer = {"id": "gen-1", "choices": [{"message": {
        "content": 'she wrote "usage": {"cost": 99} in the caption',
        "images": [{"image_url": {"url": f"data:image/png;base64,{BIG}"}}]}}],
        "usage": {"prompt_tokens": 5, "cost": 0.0387036}}
    scanner = _scan(json.dumps(answer).encode(), sse=False)
    assert sum(map(len, scanner._tail)) < 2 * WINDOW + 300_000 and len(scanner._head) <= WINDOW
    bill = scanner.result()
    assert bill.cost == pytest.approx(0.0387036) and bill.generation_id == "gen-1"
    assert not bill.error


def test_an_image_api_answer_and_a_short_one() -> None:
    short = {"created": 1, "data": [{"b64_json": "AAAA"}], "usage": {"cost": 0.04}}
    assert _scan(json.dumps(short).encode(), sse=False).result().cost == 0.04
    assert _scan(b'{"created": 1, "data": []}', sse=False).result().cost is None


def test_the_last_usage_of_a_stream_counts_and_image_lines_are_skipped() -> None:
    events = [": OPENROUTER PROCESSING", 'data: {"id":"gen-2","choices":[{"delta":{"content":"x"}}]}',
              'data: {"choices":[{"delta":{"images":[{"image_url":{"url":"data:image/png;base64,'
              + BIG + '"}}]}}]}',
              'data: {"choices":[],"usage":{"cost":0.01}}',
              'data: {"choices":[],"usage":{"cost":0.0402}}', "data: [DONE]"]
    scanner = _scan(("\n\n".join(events) + "\n\n").encode(), sse=True)
    assert len(scanner._line) <= WINDOW
    bill = scanner.result()
    assert bill.cost == pytest.approx(0.0402) and bill.generation_id == "gen-2"


def test_an_image_api_stream_and_an_error_event() -> None:
    done = 'data: {"type":"image_generation.completed","b64_json":"AA","usage":{"cost":0.05}}\n\n'
    assert _scan(done.encode(), sse=True).result().cost == 0.05
    failed = 'data: {"type":"error","error":{"message":"provider down","code":null}}\n\n'
    bill = _scan(failed.encode(), sse=True).result()
    assert bill.error and bill.cost is None
    cut = 'data: {"choices":[{"delta":{"content":"half'  # no newline, no usage: nothing known
    assert _scan(cut.encode(), sse=True).result().cost is None


# -- prices ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def listings() -> Listings:
    """The local server's listings (recorded real ones plus the offline models), parsed."""
    with LocalServer() as srv, httpx.Client(base_url=srv.base_url) as http:
        chat = parse_models(http.get("/models", params={"output_modalities": "image"}).json())
        images = parse_image_models(http.get("/images/models").json())
        ids = ["offline/sketch", "offline/quartet", "google/gemini-2.5-flash-image",
               "qwen/qwen-image-3", "openai/gpt-image-2"]
        records = {i: parse_endpoint_record(http.get(f"/images/models/{i}/endpoints").json())
                   for i in ids}
    return Listings({m.id: m for m in chat}, {m.id: m for m in images}, records)


def test_the_worst_case_bounds_what_the_local_server_bills(listings: Listings) -> None:
    with LocalServer() as srv, httpx.Client(base_url=srv.base_url, timeout=30) as http:
        for body, api in (
            ({"model": "offline/sketch", "modalities": ["image", "text"],
              "messages": [{"role": "user", "content": "a lighthouse " * 40}]}, "chat"),
            ({"model": "google/gemini-2.5-flash-image", "modalities": ["image", "text"],
              "image_config": {"aspect_ratio": "16:9"},
              "messages": [{"role": "user", "content": "a cat"}]}, "chat"),
            ({"model": "offline/quartet", "prompt": "four cats", "n": 4}, "images"),
            ({"model": "qwen/qwen-image-3", "prompt": "a cat", "resolution": "2K"}, "images"),
        ):
            path = "/chat/completions" if api == "chat" else "/images"
            cost = http.post(path, json=body).json()["usage"]["cost"]
            worst = worst_case_usd(body["model"], body, api, listings)
            assert worst is not None and cost <= worst, (body["model"], cost, worst)


def test_more_images_cost_more_and_unknowns_stay_unknown(listings: Listings) -> None:
    one = worst_case_usd("offline/quartet", {"prompt": "x", "n": 1}, "images", listings)
    four = worst_case_usd("offline/quartet", {"prompt": "x", "n": 4}, "images", listings)
    (line,) = [x for x in listings.endpoints["offline/quartet"].lines if x.billable == "output_image"]
    assert one is not None and four is not None
    assert four - one == pytest.approx(3 * line.cost_usd)  # three more images; the text once
    small = worst_case_usd("qwen/qwen-image-3", {"prompt": "x", "resolution": "1K"}, "images",
                           listings)
    large = worst_case_usd("qwen/qwen-image-3", {"prompt": "x", "resolution": "2K"}, "images",
                           listings)
    assert small is not None and large is not None and large >= small
    assert worst_case_usd("openrouter/auto", {"messages": []}, "chat", listings) is None
    assert worst_case_usd("nobody/nothing", {"prompt": "x"}, "images", listings) is None
    strange = Listings(
        chat={}, images={"a/b": ImageModelInfo(id="a/b", name="b")},
        endpoints={"a/b": EndpointsRecord(None, (PriceLine("output_image", "second", 0.1),), 1)})
    assert worst_case_usd("a/b", {"prompt": "x"}, "images", strange) is None
    no_cap = Listings(chat={"c/d": ModelInfo.from_json({
        "id": "c/d", "architecture": {"output_modalities": ["image", "text"]},
        "pricing": {"prompt": "0.000001", "completion": "0.00001"}})})
    assert worst_case_usd("c/d", {"messages": [], "modalities": ["text"]}, "chat", no_cap) is None
    capped = worst_case_usd("c/d", {"messages": [], "modalities": ["text"], "max_tokens": 100},
                            "chat", no_cap)
    assert capped == pytest.approx(100 * 0.00001 + 1 * 0.000001)  # the reply cap, a 1-byte prompt
