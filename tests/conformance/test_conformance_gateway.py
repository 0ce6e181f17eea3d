"""Clients nobody here wrote, unchanged, through the classroom gateway (in front of the keyed
local server): the kit from its environment variables, openai for Python, and the Node clients
(the AI SDK with OpenRouter's provider, @openrouter/sdk, openai for Node) with @openrouter/sdk's
zod schemas validating what the gateway answers, ``GET /key`` included.

The students' clients only change ``OPENROUTER_BASE_URL`` and ``OPENROUTER_API_KEY``; every
call they make is reserved, billed as the upstream billed it, and shows in ``GET /key``.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conf_node import run_node
from conf_wire import KEY, check, fetch, strip_indices, unknown_fields
from PIL import Image

import jupyter_imagegen as ig
from jupyter_imagegen.server import LocalServer

pytest.importorskip("starlette")
from jupyter_imagegen.gateway import Gateway, GatewayConfig, Ledger
from jupyter_imagegen.gateway._ledger import to_usd

openai = pytest.importorskip("openai")

CHAT_MODEL = "google/gemini-2.5-flash-image"
IMAGE_MODEL = "black-forest-labs/flux.2-pro"
ASK = [{"role": "user", "content": "a red circle above blue waves"}]
NODE_SCHEMA_CASES = ["chat_json", "chat_stream", "models", "image_models", "images_json",
                     "images_sse", "key", "generation"]
NODE_CLIENT_CASES = ["aisdk_generate_text", "aisdk_stream_text", "aisdk_generate_image_gemini",
                     "aisdk_generate_image_api_model", "sdk_chat_send", "sdk_chat_stream",
                     "sdk_models_list", "sdk_image_models", "sdk_images_generate", "openai_chat",
                     "openai_chat_stream", "openai_images_post"]


class Classroom:
    """A gateway in front of ``srv`` with one student."""

    def __init__(self, srv: LocalServer, folder: Path) -> None:
        self.ledger = Ledger(str(folder / "class.db"))
        self.token = self.ledger.add_student("ada", 50.0)
        self.gateway = Gateway(GatewayConfig(upstream=srv.base_url, upstream_key=KEY),
                               self.ledger).start()
        self.base_url = self.gateway.base_url

    def close(self) -> None:
        self.gateway.stop()
        self.ledger.close()


@pytest.fixture(scope="module")
def classroom(srv: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Classroom]:
    room = Classroom(srv, tmp_path_factory.mktemp("classroom"))
    yield room
    room.close()


def _calls_match_the_upstream(room: Classroom, srv: LocalServer) -> None:
    """Every settled call's cost is the upstream's bill for that generation."""
    calls = room.ledger.db.transaction(lambda cur: (
        cur.execute("SELECT generation_id, cost FROM gw_calls WHERE outcome = 'settled'"),
        cur.fetchall())[1])
    assert calls
    bills = {g.id: g.total_cost for g in srv.generations}
    for generation_id, cost in calls:
        if generation_id in bills:
            assert to_usd(cost) == pytest.approx(bills[generation_id], abs=1e-9)
    ada = room.ledger.student("ada")
    assert ada is not None and ada.reserved == 0
    assert to_usd(ada.spent) == pytest.approx(sum(to_usd(c) for _, c in calls))


def test_the_kit_from_its_environment(classroom: Classroom, srv: LocalServer,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_BASE_URL", classroom.base_url)
    monkeypatch.setenv("OPENROUTER_API_KEY", classroom.token)
    ig.set_default_client(None)
    result = ig.generate("a red circle above blue waves", model=CHAT_MODEL, aspect_ratio="16:9")
    assert result.image.size == (1344, 768) and result.cost is not None and result.cost > 0
    ig.set_default_client(None)
    _calls_match_the_upstream(classroom, srv)


def test_openai_for_python(classroom: Classroom, srv: LocalServer) -> None:
    with openai.OpenAI(base_url=classroom.base_url, api_key=classroom.token,
                       max_retries=0) as client:
        completion = client.chat.completions.create(
            model=CHAT_MODEL, messages=ASK, modalities=["image", "text"],
            extra_body={"image_config": {"aspect_ratio": "16:9"}})
        stream = client.chat.completions.create(
            model=CHAT_MODEL, messages=ASK, stream=True,
            extra_body={"modalities": ["image", "text"]})
        streamed = [img for chunk in stream for choice in chunk.choices
                    for img in (choice.delta.model_extra or {}).get("images", [])]
        answer = client.post("/images", cast_to=object,
                             body={"model": IMAGE_MODEL, "prompt": "a cat", "aspect_ratio": "16:9"})
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=classroom.base_url, api_key="sk-gw-wrong",
                          max_retries=0).chat.completions.create(model=CHAT_MODEL, messages=ASK)
    (image,) = completion.choices[0].message.model_extra["images"]
    assert _picture(image["image_url"]["url"].split(",", 1)[1]).size == (1344, 768)
    assert completion.usage is not None and completion.usage.model_extra["cost"] > 0
    (frame,) = streamed
    assert _picture(frame["image_url"]["url"].split(",", 1)[1]).size == (1024, 1024)
    wide = _picture(answer["data"][0]["b64_json"])
    assert wide.width > wide.height
    _calls_match_the_upstream(classroom, srv)


def test_key_info_passes_the_python_sdks_strict_schema(classroom: Classroom) -> None:
    """``GET /key`` validated by the ``openrouter`` package's pydantic model, strict, no extras."""
    operations = pytest.importorskip("openrouter.operations")
    wire = fetch(classroom.base_url, "GET", "/key", key=classroom.token)
    data = check(operations.GetCurrentKeyResponse, wire.body)
    assert strip_indices(unknown_fields(operations.GetCurrentKeyResponse, wire.json())) == set()
    assert wire.json()["data"]["label"] == "ada" and wire.json()["data"]["limit"] == 50.0
    assert data is not None
    assert fetch(classroom.base_url, "GET", "/key", key="sk-gw-wrong").status == 401


def _picture(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


@pytest.fixture(scope="module")
def node_reports(node_dir: Path, classroom: Classroom, srv: LocalServer,
                 tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("gateway-node-images")
    srv.faults.clear()
    return {"schemas.mjs": run_node(node_dir, "schemas.mjs", classroom.base_url,
                                    *NODE_SCHEMA_CASES, out_dir=out, key=classroom.token),
            "clients.mjs": run_node(node_dir, "clients.mjs", classroom.base_url,
                                    *NODE_CLIENT_CASES, out_dir=out, key=classroom.token)}


def _detail(reports: dict[str, dict[str, Any]], script: str, case: str) -> Any:
    result = reports[script][case]
    assert result["ok"], f"{case}: {result['error']}\n{result.get('issues') or ''}"
    return result["detail"]


@pytest.mark.node
@pytest.mark.parametrize("case", NODE_SCHEMA_CASES)
def test_node_schemas_through_the_gateway(node_reports: dict[str, dict[str, Any]],
                                          case: str) -> None:
    _detail(node_reports, "schemas.mjs", case)


@pytest.mark.node
@pytest.mark.parametrize("case", NODE_CLIENT_CASES)
def test_node_clients_through_the_gateway(node_reports: dict[str, dict[str, Any]], case: str,
                                          classroom: Classroom, srv: LocalServer) -> None:
    detail = _detail(node_reports, "clients.mjs", case)
    for item in (detail or {}).get("images", []):
        image = Image.open(item["path"])
        image.load()
        assert image.width >= 512
    if case == "openai_images_post":
        assert detail["generationsStatus"] == 404
    _calls_match_the_upstream(classroom, srv)
