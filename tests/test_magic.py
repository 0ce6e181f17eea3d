"""``%%imagegen`` in a real in-process IPython shell against the local server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from magic_helpers import KEY, decode, run, shell_bound_to
from PIL import Image

import jupyter_imagegen as ig
from jupyter_imagegen._notebook.magic import CellCommand, ImageGenMagics
from jupyter_imagegen._results.display import forget_shown
from jupyter_imagegen.server import Fault, LocalServer


@pytest.fixture
def ip(client: ig.Client) -> Iterator[InteractiveShell]:
    yield from shell_bound_to(client)


def chat_bodies(server: LocalServer) -> list[dict]:
    return [r.json for r in server.requests if r.path.endswith("/chat/completions")]


def test_import_stays_light_and_load_ext_registers_the_magics() -> None:
    code = ("import sys, jupyter_imagegen; "
            "print(any(m.startswith(('IPython', 'jupyter_imagegen._notebook.magic')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_load_and_unload(ip: InteractiveShell) -> None:
    assert "imagegen" in ip.magics_manager.magics["cell"]
    assert "imagegen" in ip.magics_manager.magics["line"]
    assert any(isinstance(c, ImageGenMagics) for c in ip.configurables)
    assert forget_shown in ip.events.callbacks["post_run_cell"]
    listing = run(ip, "%config ImageGenMagics").captured.stdout
    for trait in ("default_model", "aspect_ratio", "short_errors", "base_url", "interpolate"):
        assert f"ImageGenMagics.{trait}" in listing
    ip.run_line_magic("unload_ext", "jupyter_imagegen")
    assert forget_shown not in ip.events.callbacks["post_run_cell"]
    assert "imagegen" not in ip.magics_manager.magics["cell"]
    assert not any(isinstance(c, ImageGenMagics) for c in ip.configurables)
    ip.run_line_magic("load_ext", "jupyter_imagegen")


def test_cell_shows_the_image_and_is_the_cell_value(ip: InteractiveShell, server: LocalServer) -> None:
    cell = run(ip, "%%imagegen -m offline/sketch --no-stream\na red circle above blue waves")
    assert cell.result.success, cell.stderr
    result = cell.result.result
    assert isinstance(result, ig.ImageResult)
    assert ip.user_ns["_"] is result
    # Exactly one image output, a preview sized for reading (the original stays in the result).
    ((mime, data, meta),) = cell.images
    assert mime in ("image/png", "image/jpeg")
    assert len(data) < 150_000 < len(result.generated[0].data) or len(data) < 150_000
    assert decode(data).size == (768, 768)
    assert result.generated[0].size == (1024, 1024)
    assert meta[mime] == {"width": 512, "height": 512}
    provenance = meta["jupyter_imagegen"]
    assert provenance["model"] == "offline/sketch"
    assert provenance["generation_id"] == result.id
    assert provenance["prompt"] == "a red circle above blue waves"
    caption = cell.outputs[-1].data["text/plain"]
    assert caption.startswith("offline/sketch · 1024x1024 · offline · simulated $")
    assert caption.endswith("s")
    assert KEY not in cell.everything
    (body,) = chat_bodies(server)
    assert body["model"] == "offline/sketch"
    assert body["messages"][-1]["content"] == "a red circle above blue waves"
    assert not body.get("stream")


def test_options_reach_the_request(ip: InteractiveShell, server: LocalServer) -> None:
    cell = run(ip, "%%imagegen --model offline/sketch -a 16x9 --size 1k --seed 7 --no-stream\n"
                   "three yellow stars")
    assert cell.result.success, cell.stderr
    (body,) = chat_bodies(server)
    assert body["image_config"] == {"aspect_ratio": "16:9", "image_size": "1K"}
    assert body["seed"] == 7
    ((_mime, data, _meta),) = cell.images
    assert decode(data).size == (768, 439)  # the preview: long side 768 (the original is kept)


def test_a_cell_is_read_once_into_a_command_before_anything_is_sent(
    ip: InteractiveShell, server: LocalServer
) -> None:
    magics = next(c for c in ip.configurables if isinstance(c, ImageGenMagics))
    magics.default_model, magics.image_size = "offline/sketch", "1K"
    ip.user_ns["style"] = "ink"
    command = magics._read_cell("--each-line -a 16x9 --no-stream --concurrency 2",
                                "a fox, {style}\n\n  a hare  \n")
    assert isinstance(command, CellCommand) and command.is_batch
    assert command.prompts == ["a fox, ink", "a hare"]
    assert (command.models, command.model, command.stream, command.concurrency) == (
        (), "offline/sketch", False, 2)
    assert command.options() == {"images": None, "aspect_ratio": "16:9", "image_size": "1K",
                                 "seed": None, "n": None, "api": None, "timeout": None}
    with pytest.raises(UsageError, match="--concurrency must be at least 1"):
        magics._read_cell("-m offline/sketch -m offline/poster --concurrency 0", "a")
    assert not server.requests  # reading a cell sends nothing


def test_streaming_shows_a_live_status_line_replaced_by_the_image(
    ip: InteractiveShell, server: LocalServer
) -> None:
    server.faults.push(Fault("slow", delay=1.0))  # keep-alives for a second, then the answer
    cell = run(ip, "%%imagegen -m offline/sketch\na green triangle")
    assert cell.result.success, cell.stderr
    assert chat_bodies(server)[0]["stream"] is True
    first = cell.captured.outputs[0]
    assert first.data["text/plain"].startswith("generating with offline/sketch · 0.")
    slot = first.transient["display_id"]
    updates = [o for o in cell.captured.outputs if o.update and o.transient["display_id"] == slot]
    assert any("still working (" in o.data.get("text/plain", "") for o in [first, *updates])
    assert any("Here is" in o.data.get("text/plain", "") for o in updates)  # streamed text
    assert {"image/png", "image/jpeg"} & set(updates[-1].data)  # the status line became the image
    assert not any("generating" in o.data.get("text/plain", "") for o in cell.outputs)


def test_quick_answers_need_no_status_line(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("jupyter_imagegen._notebook.magic.STATUS_DELAY", 30.0)  # every answer is "quick"
    cell = run(ip, "%%imagegen -m offline/sketch\na green triangle")
    assert cell.result.success, cell.stderr
    assert [o.update for o in cell.captured.outputs] == [False, False]  # image, caption


def test_several_images_become_a_grid_with_fallback(ip: InteractiveShell) -> None:
    cell = run(ip, "%%imagegen -m offline/quartet --as four\nfour blue squares")
    assert cell.result.success, cell.stderr
    result = ip.user_ns["four"]
    assert len(result) == 4
    (grid,) = cell.outputs
    html = grid.data["text/html"]
    assert html.count("<img ") == 4
    assert set(grid.data) == {"text/html", "text/plain"}  # thumbnails once, no contact sheet
    assert "repeat(2,minmax(0,320px))" in html
    assert grid.metadata["jupyter_imagegen"]["model"] == "offline/quartet"


def test_as_name_stores_the_result(ip: InteractiveShell) -> None:
    cell = run(ip, "%%imagegen --as fox -m offline/poster\na fox")
    assert cell.result.success, cell.stderr
    assert ip.user_ns["fox"] is cell.result.result is ip.user_ns["_"]
    assert ip.user_ns["fox"].model == "offline/poster"
    # Shown once by the cell; shown again whenever it is displayed later.
    assert len(cell.images) == 1
    again = run(ip, "fox")
    assert [data for _mime, data, _meta in again.images] == [data for _m, data, _meta in cell.images]


def test_out_saves_with_metadata(ip: InteractiveShell, tmp_path: Path) -> None:
    cell = run(ip, f"%%imagegen -o {tmp_path}/imgs -m offline/sketch\na purple moon")
    assert cell.result.success, cell.stderr
    (saved,) = (tmp_path / "imgs").iterdir()
    assert saved.read_bytes().startswith(b"\x89PNG")
    assert Image.open(saved).text["prompt"] == "a purple moon"
    assert f"saved {saved}" in cell.outputs[-1].data["text/plain"]


def test_no_display_shows_only_the_caption(ip: InteractiveShell) -> None:
    cell = run(ip, "%%imagegen --no-display --as quiet -m offline/sketch\na cat")
    assert cell.result.success, cell.stderr
    assert cell.result.result is None
    assert cell.images == []
    (caption,) = cell.outputs
    assert caption.data["text/plain"].startswith("offline/sketch · 1024x1024")
    assert isinstance(ip.user_ns["quiet"], ig.ImageResult)


def test_interpolation(ip: InteractiveShell, server: LocalServer) -> None:
    ip.user_ns["colour"] = "orange"
    ip.user_ns["count"] = 3
    cell = run(ip, '%%imagegen -m offline/sketch --no-stream\n'
                   '{count} {colour} circles {{literal}} {missing} {"json": {"k": 1}}')
    assert cell.result.success, cell.stderr
    prompt = chat_bodies(server)[0]["messages"][-1]["content"]
    assert prompt == '3 orange circles {literal} {missing} {"json": {"k": 1}}'
    assert cell.result.result.prompt == prompt


def test_interpolation_ignores_ipython_internals(ip: InteractiveShell, server: LocalServer) -> None:
    run(ip, "1 + 1")
    cell = run(ip, "%%imagegen -m offline/sketch --no-stream\n{_} {In} {get_ipython} {exit}")
    assert cell.result.success, cell.stderr
    assert chat_bodies(server)[0]["messages"][-1]["content"] == "{_} {In} {get_ipython} {exit}"


def test_interpolation_can_be_turned_off(ip: InteractiveShell, server: LocalServer) -> None:
    ip.user_ns["colour"] = "orange"
    run(ip, "%%imagegen -m offline/sketch --no-stream --no-interpolate\n{colour} {{x}}")
    ip.run_line_magic("config", "ImageGenMagics.interpolate = False")
    run(ip, "%%imagegen -m offline/sketch --no-stream\n{colour}")
    prompts = [b["messages"][-1]["content"] for b in chat_bodies(server)]
    assert prompts == ["{colour} {{x}}", "{colour}"]


def test_input_images_from_variables_paths_and_lists(
    ip: InteractiveShell, server: LocalServer, tmp_path: Path
) -> None:
    path = tmp_path / "base.png"
    Image.new("RGB", (32, 32), "red").save(path)
    ip.user_ns["base"] = Image.new("RGB", (16, 16), "blue")
    ip.user_ns["pair"] = [Image.new("RGB", (8, 8)), str(path)]
    cell = run(ip, f"%%imagegen -m offline/editor --no-stream -i base --input {path} -i pair\n"
                   "make it green")
    assert cell.result.success, cell.stderr
    content = chat_bodies(server)[0]["messages"][-1]["content"]
    parts = [p["type"] for p in content]
    assert parts.count("image_url") == 4
    assert {"type": "text", "text": "make it green"} in content
    assert cell.result.result.params["input_images"] == 4


def test_input_that_is_neither_variable_nor_file(ip: InteractiveShell, server: LocalServer) -> None:
    cell = run(ip, "%%imagegen -m offline/editor -i nothing_here.png\nedit")
    assert "--input nothing_here.png: not a notebook variable" in cell.error_message()
    assert chat_bodies(server) == []


def test_result_of_a_previous_cell_as_input(ip: InteractiveShell, server: LocalServer) -> None:
    run(ip, "%%imagegen -m offline/sketch --no-stream --as first\na red square")
    cell = run(ip, "%%imagegen -m offline/editor --no-stream -i first\nnow blue")
    assert cell.result.success, cell.stderr
    content = chat_bodies(server)[1]["messages"][-1]["content"]
    sent = [p for p in content if p["type"] == "image_url"]
    assert len(sent) == 1
    assert sent[0]["image_url"]["url"] == ip.user_ns["first"].generated[0].data_url


def test_config_traits_set_defaults(ip: InteractiveShell, server: LocalServer, tmp_path: Path) -> None:
    ip.run_line_magic("config", "ImageGenMagics.default_model = 'offline/poster'")
    ip.run_line_magic("config", "ImageGenMagics.aspect_ratio = '4:3'")
    ip.run_line_magic("config", "ImageGenMagics.image_size = '0.5K'")
    ip.run_line_magic("config", "ImageGenMagics.stream = False")
    ip.run_line_magic("config", f"ImageGenMagics.output_dir = {str(tmp_path)!r}")
    cell = run(ip, "%%imagegen\na poster")
    assert cell.result.success, cell.stderr
    # offline/poster outputs only images and the Image API serves it: auto sends it there.
    (body,) = [r.json for r in server.requests if r.method == "POST" and r.path.endswith("/images")]
    assert body["model"] == "offline/poster"
    assert (body["aspect_ratio"], body["resolution"]) == ("4:3", "512")
    assert not body.get("stream")
    assert len(list(tmp_path.iterdir())) == 1
    # Cell options win over the configured defaults.
    cell = run(ip, "%%imagegen -m offline/sketch -a 1:1 -s 1K\nagain")
    assert cell.result.success, cell.stderr
    assert chat_bodies(server)[0]["model"] == "offline/sketch"
    assert chat_bodies(server)[0]["image_config"]["aspect_ratio"] == "1:1"


def test_bad_config_values_are_rejected_with_the_valid_ones(
    ip: InteractiveShell, caplog: pytest.LogCaptureFixture
) -> None:
    run(ip, "%config ImageGenMagics.aspect_ratio = 'wide'")  # %config logs trait errors
    assert "'wide' is not an aspect ratio; write it like 16:9" in caplog.text
    magics = ip.magics_manager.registry["ImageGenMagics"]
    assert magics.aspect_ratio is None


def test_config_from_an_ipython_config_file(client: ig.Client, server: LocalServer) -> None:
    shell_gen = shell_bound_to(client)
    ip = next(shell_gen)
    try:
        ip.run_line_magic("unload_ext", "jupyter_imagegen")
        ip.config.ImageGenMagics.default_model = "offline/photo"  # what c.ImageGenMagics... sets
        ip.config.ImageGenMagics.base_url = server.base_url
        ig.set_default_client(ig.Client(base_url="http://127.0.0.1:9/api/v1", api_key=""))
        ip.run_line_magic("load_ext", "jupyter_imagegen")
        cell = run(ip, "%%imagegen --no-stream\na photo")
        assert cell.result.success, cell.stderr
        assert chat_bodies(server)[0]["model"] == "offline/photo"
        ((mime, data, _),) = cell.images
        assert mime == "image/jpeg"
        assert decode(data).format == "JPEG"
    finally:
        next(shell_gen, None)


def test_base_url_trait_uses_its_own_client(ip: InteractiveShell, server: LocalServer) -> None:
    ig.set_default_client(ig.Client(base_url="http://127.0.0.1:9/api/v1", api_key=""))
    ip.run_line_magic("config", f"ImageGenMagics.base_url = {server.base_url!r}")
    cell = run(ip, "%%imagegen -m offline/sketch --no-stream\nelsewhere")
    assert cell.result.success, cell.stderr
    assert len(chat_bodies(server)) == 1


def test_short_errors_false_shows_the_real_exception(ip: InteractiveShell) -> None:
    ip.run_line_magic("config", "ImageGenMagics.short_errors = False")
    cell = run(ip, "%%imagegen -m offline/chat\nhello")
    assert isinstance(cell.result.error_in_exec, ig.ModelCapabilityError)
    assert "Traceback" in cell.everything or "ModelCapabilityError" in cell.everything


def test_terminal_shells_get_no_live_status(ip: InteractiveShell) -> None:
    magics = ip.magics_manager.registry["ImageGenMagics"]
    assert magics._rich_frontend() is False  # a plain terminal-style display publisher
    cell = run(ip, "%%imagegen -m offline/sketch\nx")
    assert magics._rich_frontend() is False
    assert cell.result.success
