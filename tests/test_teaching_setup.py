"""The teacher's guide (docs/teaching.md) says what to do when the network fails: check it does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import jupyter_imagegen as ig
from jupyter_imagegen.server import LocalServer

REPO = Path(__file__).resolve().parents[1]
DEMO = "a red fox at dusk by a lighthouse"


def test_a_demo_recorded_before_class_replays_with_the_service_gone(tmp_path: Path) -> None:
    cache = tmp_path / "demo-cache"
    with LocalServer(port=0) as srv:  # the evening before: record the demo once, online
        url = srv.base_url
        with ig.Client(api_key="k", base_url=url, cache=cache) as teacher:
            recorded = teacher.generate(DEMO, "google/gemini-2.5-flash-image")
    # In class the service cannot be reached at all (nothing listens on that port any more).
    with ig.Client(api_key="k", base_url=url, cache=cache, max_retries=0, timeout=2) as c:
        replay = c.generate(DEMO, "google/gemini-2.5-flash-image")
        assert replay.cached and replay.generated[0].data == recorded.generated[0].data
        with pytest.raises(ig.APIConnectionError, match="cannot reach"):  # not recorded
            c.generate("a prompt that was not recorded", "google/gemini-2.5-flash-image")


def test_the_guide_names_the_settings_the_kit_reads() -> None:
    guide = (REPO / "docs" / "teaching.md").read_text()
    for name in ("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "JUPYTER_IMAGEGEN_SPEND_LIMIT",
                 "JUPYTER_IMAGEGEN_CLASS_MODE", "ImageGenMagics.spend_limit", "cache=",
                 "gateway serve", "gateway add", "colab", "JupyterHub"):
        assert name.lower() in guide.lower(), name
    source = (REPO / "jupyter_imagegen" / "_core" / "config.py").read_text()
    for env in set(re.findall(r"JUPYTER_IMAGEGEN_[A-Z_]+", guide)) - {"JUPYTER_IMAGEGEN_CACHE"}:
        assert env in source, env  # every variable the guide names is one the kit reads


def test_the_marimo_demo_uses_real_ids() -> None:
    assert "offline/" not in (REPO / "notebooks" / "marimo_demo.py").read_text()
