"""The magic's batch (--each-line), comparison (several -m) and replay-cache options."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from magic_helpers import run, shell_bound_to
from PIL import Image

import jupyter_imagegen as ig
from jupyter_imagegen._results.labels import money
from jupyter_imagegen.server import LocalServer


@pytest.fixture
def ip(client: ig.Client) -> Iterator[InteractiveShell]:
    yield from shell_bound_to(client)


def chat_bodies(server: LocalServer) -> list[dict]:
    return [r.json for r in server.requests if r.path.endswith("/chat/completions")]


def test_each_line_is_a_batch_in_input_order(ip: InteractiveShell, server: LocalServer,
                                            tmp_path: Path) -> None:
    cell = run(ip, f"%%imagegen -m offline/sketch --each-line --as many -o {tmp_path}\n"
                   "a red sun\n\n a blue moon \na green tree\n")
    assert cell.result.success, cell.stderr
    batch = ip.user_ns["many"]
    assert isinstance(batch, ig.BatchResult) and cell.result.result is batch
    assert [r.prompt for r in batch.results] == ["a red sun", "a blue moon", "a green tree"]
    assert sorted(b["messages"][0]["content"] for b in chat_bodies(server)) == [
        "a blue moon", "a green tree", "a red sun"]
    assert len(list(tmp_path.glob("*.png"))) == 3


def test_several_models_make_a_comparison_grid(ip: InteractiveShell, server: LocalServer) -> None:
    cell = run(ip, "%%imagegen -m offline/sketch -m offline/photo\na <b>bold</b> lighthouse")
    assert cell.result.success, cell.stderr
    comparison = cell.result.result
    assert isinstance(comparison, ig.Comparison) and comparison.models == ["offline/sketch",
                                                                            "offline/photo"]
    bundle = comparison._repr_mimebundle_()
    assert "<b>bold</b>" not in bundle["text/html"] and "&lt;b&gt;bold&lt;/b&gt;" in bundle["text/html"]
    assert set(bundle) == {"text/html", "text/plain"}  # each image once, as a thumbnail
    assert bundle["text/html"].count("<img ") == 2
    assert {b["model"] for b in chat_bodies(server)} == {"offline/sketch", "offline/photo"}


def test_all_failed_batch_is_a_short_error(ip: InteractiveShell, server: LocalServer) -> None:
    from jupyter_imagegen.server import Fault

    server.faults.push(Fault("402"), times=None)
    cell = run(ip, "%%imagegen -m offline/sketch --each-line\na\nb")
    assert not cell.result.success and "Traceback" not in cell.everything
    assert "UsageError: Out of credits" in cell.stderr and "InsufficientCreditsError" not in cell.stderr


def test_replay_cache_trait_serves_identical_cells(ip: InteractiveShell, server: LocalServer,
                                                   tmp_path: Path) -> None:
    run(ip, f"%config ImageGenMagics.cache = {str(tmp_path)!r}")
    first = run(ip, "%%imagegen -m offline/sketch --no-stream\na quiet harbour")
    second = run(ip, "%%imagegen -m offline/sketch --no-stream\na quiet harbour")
    assert first.result.success and second.result.success, second.stderr
    assert len(chat_bodies(server)) == 1 and second.result.result.cached
    assert any("cached" in str(o.data.get("text/plain", "")) for o in second.outputs)
    assert second.images[0][1] == first.images[0][1]


def test_spend_limit_trait_and_session_cost_in_config(ip: InteractiveShell, server: LocalServer) -> None:
    run(ip, "%config ImageGenMagics.spend_limit = 0.05")
    first = run(ip, "%%imagegen -m offline/sketch --no-stream\na small boat")
    assert first.result.success, first.stderr
    second = run(ip, "%%imagegen -m offline/sketch --no-stream\na second boat")
    assert "spend limit reached" in second.error_message() and "Nothing was sent" in second.stderr
    assert second.result.error_in_exec.error_type == "SpendLimitError"
    assert len(chat_bodies(server)) == 1
    table = run(ip, "%imagegen config").result.result
    rows = {row[0]: row[1] for row in table.rows}
    assert rows["spent this session"] == money(first.result.result.cost)
    assert rows["spend limit"] == "$0.05"


def test_an_unwritable_out_folder_never_loses_the_result(ip: InteractiveShell, server: LocalServer,
                                                         tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    cell = run(ip, f"%%imagegen -m offline/sketch --no-stream -o {blocker} --as kept\na red circle")
    assert cell.result.success, cell.stderr
    assert isinstance(ip.user_ns["kept"], ig.ImageResult) and cell.result.result is ip.user_ns["kept"]
    captions = " ".join(str(o.data.get("text/plain", "")) for o in cell.outputs)
    assert "NOT saved to" in captions and "Traceback" not in cell.everything
    assert not any("generating with" in str(o.data.get("text/plain", "")) for o in cell.outputs)


def test_cache_and_spend_limit_can_be_turned_off_again(ip: InteractiveShell, server: LocalServer,
                                                       tmp_path: Path) -> None:
    run(ip, f"%config ImageGenMagics.cache = {str(tmp_path)!r}")
    run(ip, "%%imagegen -m offline/sketch --no-stream\na harbour")
    assert run(ip, "%%imagegen -m offline/sketch --no-stream\na harbour").result.result.cached
    run(ip, "%config ImageGenMagics.cache = None")
    fresh = run(ip, "%%imagegen -m offline/sketch --no-stream\na harbour").result.result
    assert not fresh.cached and len(chat_bodies(server)) == 2
    run(ip, "%config ImageGenMagics.spend_limit = 0.0001")
    refused = run(ip, "%%imagegen -m offline/sketch --no-stream\na harbour")
    assert "spend_limit = 5.0" in refused.error_message()
    run(ip, "%config ImageGenMagics.spend_limit = None")
    assert run(ip, "%%imagegen -m offline/sketch --no-stream\na harbour").result.success


def test_input_accepts_urls_and_explains_folders(ip: InteractiveShell, server: LocalServer,
                                                 tmp_path: Path) -> None:
    url = ig.GeneratedImage(_png(), "image/png").data_url
    cell = run(ip, f"%%imagegen -m offline/editor --no-stream -i {url}\nmake it purple")
    assert cell.result.success, cell.stderr
    content = chat_bodies(server)[-1]["messages"][0]["content"]
    assert content[1]["image_url"]["url"] == url
    assert "is a folder" in run(ip, f"%%imagegen -m offline/editor -i {tmp_path}\nx").error_message()


def test_no_display_batches_show_only_a_summary(ip: InteractiveShell, server: LocalServer) -> None:
    cell = run(ip, "%%imagegen -m offline/sketch --each-line --no-display\na\nb")
    assert cell.result.success and cell.result.result is None
    assert not cell.images
    assert any("2 of 2 succeeded" in str(o.data.get("text/plain", "")) for o in cell.outputs)


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), "green").save(buf, "PNG")
    return buf.getvalue()
