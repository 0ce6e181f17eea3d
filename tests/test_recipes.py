"""Images carry their recipe: ``ig.open`` reads any file the kit wrote back into a rerunnable
request, seeds are chosen, sent and recorded, the store imports folders, the widget takes drops.

All against the local server, whose offline renderer honours seeds (so "same request, same
image" is checked by pixels, not taken on trust).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from provenance_helpers import needs_c2pa, signing

import jupyter_imagegen as ig
from jupyter_imagegen._widget import data as wd
from jupyter_imagegen._widget.widget import ImageGenWidget
from jupyter_imagegen.server import LocalServer


def _posts(server: LocalServer) -> list[dict]:
    return [r.json for r in server.requests if r.method == "POST"]


# -- seeds: chosen, sent, recorded ---------------------------------------------------------------------

def test_a_seed_is_chosen_sent_and_recorded(client: ig.Client, server: LocalServer) -> None:
    result = client.generate("a red circle", "offline/sketch")
    sent = _posts(server)[-1]["seed"]
    assert isinstance(sent, int) and 0 <= sent < 2**31
    assert result.seed == sent and result.params["auto_seed"] is True
    assert result.request is not None and result.request.seed == sent
    assert "seed" not in result.request.identity()  # the request as given had none
    other = client.generate("a red circle", "offline/sketch")
    assert other.seed != sent and other.image.tobytes() != result.image.tobytes()


def test_a_given_seed_is_the_callers(client: ig.Client, server: LocalServer) -> None:
    result = client.generate("a red circle", "offline/sketch", seed=42)
    assert _posts(server)[-1]["seed"] == 42
    assert result.params["seed"] == 42 and "auto_seed" not in result.params
    assert result.request is not None and result.request.identity()["seed"] == 42


def test_no_seed_where_the_listing_declares_none(client: ig.Client, server: LocalServer) -> None:
    client.generate("a poster", "openai/gpt-image-1")  # its Image API listing takes no seed
    assert "seed" not in _posts(server)[-1]


def test_automatic_seeds_can_be_turned_off(server: LocalServer) -> None:
    with ig.Client(api_key="k", base_url=server.base_url, auto_seed=False) as off:
        result = off.generate("a red circle", "offline/sketch")
    assert "seed" not in _posts(server)[-1] and result.seed is None


def test_the_cache_keys_on_the_request_as_given(server: LocalServer, tmp_path: Path) -> None:
    with ig.Client(api_key="k", base_url=server.base_url, cache=tmp_path / "c",
                   store=tmp_path / "s") as c:
        first = c.generate("a blue moon", "offline/sketch")
        again = c.generate("a blue moon", "offline/sketch")
        edited = again.edit("add stars")  # from a cache hit: the request as sent is back
        edited_again = first.edit("add stars")  # from the fresh result: the same request
    assert again.cached and again.image.tobytes() == first.image.tobytes()
    assert len(_posts(server)) == 2  # the first generation and one edit; the rest are hits
    assert again.request is not None and again.request.seed == first.seed
    assert edited_again.cached  # the kit's seed is in neither edit's key
    assert edited.seed != first.seed  # an edit is a new request with a seed of its own
    (record, *_) = [json.loads(line) for line in
                    (tmp_path / "s" / "index.jsonl").read_text().splitlines()]
    assert record["params"]["seed"] == first.seed and record["params"]["auto_seed"] is True


# -- ig.open: any file the kit wrote, back into a rerunnable result ---------------------------------

@pytest.mark.parametrize("model", ["offline/sketch", "offline/photo", "offline/webp"])
@pytest.mark.parametrize("sidecar", [True, False], ids=["with-sidecar", "file-only"])
def test_open_reads_the_recipe_and_rerun_makes_the_same_image(
        client: ig.Client, server: LocalServer, tmp_path: Path, model: str, sidecar: bool) -> None:
    result = client.generate("three green triangles", model, aspect_ratio="16:9")
    (path,) = result.save(tmp_path)
    if not sidecar:  # JPEG and WebP: the recipe is in their XMP as well
        path.with_name(path.name + ".json").unlink(missing_ok=True)
    opened = ig.open(path, client=client)
    assert (opened.prompt, opened.model, opened.seed) == ("three green triangles", model, result.seed)
    assert (opened.id, opened.provider, opened.cost) == (result.id, result.provider, result.cost)
    assert int(opened.created) == int(result.created) and opened.offline
    assert opened.params == result.params
    assert opened.request is not None and opened.request.aspect_ratio == "16:9"
    rerun = opened.rerun()
    body = _posts(server)[-1]
    assert body["seed"] == result.seed and body["image_config"]["aspect_ratio"] == "16:9"
    assert rerun.image.tobytes() == result.image.tobytes()  # same request, same image
    changed = opened.rerun(aspect_ratio="1:1")
    assert changed.seed == result.seed and changed.image.size == (1024, 1024)


def test_open_takes_the_sidecar_path_and_edit_starts_from_the_image(
        client: ig.Client, server: LocalServer, tmp_path: Path) -> None:
    result = client.generate("a yellow star", "offline/photo")
    (path,) = result.save(tmp_path)
    opened = ig.open(path.with_name(path.name + ".json"), client=client)
    assert opened.prompt == "a yellow star" and opened.generated[0].mime == "image/jpeg"
    edited = opened.edit("make it night", "offline/editor")
    content = _posts(server)[-1]["messages"][-1]["content"]
    assert [p["type"] for p in content] == ["text", "image_url"]
    assert edited.params["input_images"] == 1


def test_an_opened_edit_needs_its_inputs_again(client: ig.Client, tmp_path: Path) -> None:
    base = client.generate("a red square", "offline/editor")
    edit = base.edit("make it blue")
    (path,) = edit.save(tmp_path)
    opened = ig.open(path, client=client)
    with pytest.raises(ig.InvalidInputError, match=r"1 input image\(s\) that its file does not hold"):
        opened.rerun()
    again = opened.rerun(images=base)
    assert again.image.tobytes() == edit.image.tobytes()


def test_open_refuses_what_the_kit_did_not_write(tmp_path: Path) -> None:
    foreign = tmp_path / "photo.png"
    Image.new("RGB", (4, 4)).save(foreign)
    with pytest.raises(ig.InvalidInputError, match="holds no recipe"):
        ig.open(foreign)
    with pytest.raises(ig.InvalidInputError, match="cannot read"):
        ig.open(tmp_path / "missing.png")


def test_open_uses_the_shared_client_only_when_asked(server: LocalServer, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with ig.Client(api_key="k", base_url=server.base_url) as c:
        (path,) = c.generate("a blue circle", "offline/sketch").save(tmp_path)
    monkeypatch.setenv("OPENROUTER_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENROUTER_API_KEY", "k")
    opened = ig.open(path)
    assert len(_posts(server)) == 1  # opening sent nothing
    opened.rerun()
    assert len(_posts(server)) == 2 and _posts(server)[-1]["seed"] == opened.seed


@needs_c2pa
def test_open_reads_a_signed_image_from_its_sidecar(tmp_path: Path) -> None:
    with LocalServer(port=0, sign=signing()) as srv, \
            ig.Client(api_key="k", base_url=srv.base_url) as c:
        result = c.generate("a signed green circle", "offline/sketch")
        (path,) = result.save(tmp_path)
        opened = ig.open(path, client=c)
        assert opened.generated[0].data == result.generated[0].data
        assert opened.generated[0].credentials.state == "valid"
        assert opened.rerun().image.tobytes() == result.image.tobytes()


# -- the store imports a folder the kit wrote ----------------------------------------------------------

def test_the_store_imports_a_folder(client: ig.Client, tmp_path: Path) -> None:
    out = tmp_path / "out"
    results = [client.generate(p, m) for p, m in (("a red fox", "offline/sketch"),
                                                  ("a blue fox", "offline/photo"))]
    for r in results:
        r.save(out / "sub")
    Image.new("RGB", (4, 4)).save(out / "foreign.png")  # not the kit's: skipped
    store = ig.ImageStore(tmp_path / "store")
    entries = store.import_folder(out)
    assert sorted(e.prompt for e in entries) == ["a blue fox", "a red fox"]
    assert {e.params["seed"] for e in entries} == {r.seed for r in results}
    assert all(e.path.is_relative_to(store.directory) for e in entries)
    assert sorted(store.import_folder(out), key=lambda e: e.prompt) == sorted(
        entries, key=lambda e: e.prompt)  # already there: the same entries, nothing twice
    assert len(store) == 2 and [e.prompt for e in store.search("fox", model="photo")] == ["a blue fox"]


def test_the_store_indexes_its_orphans_in_place(client: ig.Client, tmp_path: Path) -> None:
    store = ig.ImageStore(tmp_path / "store")
    result = client.generate("an orphan moon", "offline/sketch")
    (kept,) = store.add(result)
    orphan = kept.path.with_name("orphan.png")
    shutil.copy(kept.path, orphan)
    assert store.orphans() == [orphan]
    (entry,) = store.import_folder(store.directory)
    assert entry.path == orphan and store.orphans() == []
    assert entry.prompt == "an orphan moon" and len(store) == 2


# -- the widget: a dropped file the kit wrote restores its settings --------------------------------------

@pytest.fixture
def widget(client: ig.Client) -> ImageGenWidget:
    w = ImageGenWidget(client=client)
    w.wait_for_models(timeout=30)
    return w


def test_dropping_a_saved_image_restores_its_settings(widget: ImageGenWidget, client: ig.Client,
                                                      tmp_path: Path) -> None:
    result = client.generate("a purple hexagon", "offline/poster", aspect_ratio="16:9",
                             image_size="0.5K")
    (path,) = result.save(tmp_path)
    widget.prompt, widget.model, widget.aspect_ratio = "something else", "offline/sketch", "1:1"
    widget._handle_message(widget, {"type": "drop", "names": [path.name]}, [path.read_bytes()])
    assert (widget.prompt, widget.model) == ("a purple hexagon", "offline/poster")
    assert (widget.aspect_ratio, widget.image_size, widget.seed) == ("16:9", "0.5K", result.seed)
    assert widget.input_image == b"" and widget.error == ""
    assert widget.status_text.startswith(f"Settings restored from {path.name}: offline/poster")


def test_dropping_a_sidecar_restores_and_a_foreign_image_becomes_the_input(
        widget: ImageGenWidget, client: ig.Client, tmp_path: Path) -> None:
    (path,) = client.generate("a green cross", "offline/photo").save(tmp_path)
    sidecar = path.with_name(path.name + ".json")
    widget._handle_message(widget, {"type": "drop", "names": [sidecar.name]}, [sidecar.read_bytes()])
    assert widget.prompt == "a green cross" and widget.model == "offline/photo"
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "orange").save(buffer, "PNG")
    widget._handle_message(widget, {"type": "drop", "names": ["orange.png"]}, [buffer.getvalue()])
    assert widget.input_name == "orange.png" and widget.input_image[:4] == b"\x89PNG"
    assert widget.prompt == "a green cross"  # an image with no recipe changes no setting
    widget._handle_message(widget, {"type": "drop", "names": ["notes.json"]}, [b"{}"])
    assert "not an image" in widget.error


def test_dropped_recipe_reads_only_what_it_understands() -> None:
    assert wd.dropped_recipe([("x.json", b"[1, 2")]) is None
    found = wd.dropped_recipe([("x.json", json.dumps({
        "prompt": "p", "model": "m", "parameters": {"seed": True, "n": 2, "aspect_ratio": 3}}).encode())])
    assert found == ({"prompt": "p", "model": "m", "aspect_ratio": "", "image_size": "", "n": 2},
                     "x.json")


def test_params_turn_back_into_the_same_request() -> None:
    given = ig.Request.build(
        "a poster", "vendor/model", aspect_ratio="16x9", size="1536x1024", n=2, seed=3,
        quality="high", output_format="png", background="transparent", provider={"sort": "price"},
        modalities=["image"], image_config={"aspect_ratio": "16:9"}, extra_body={"x": 1},
        api="images", output_compression=80)
    params = json.loads(json.dumps(given.params()))  # as a file holds them
    assert ig.Request.from_params("a poster", "vendor/model", params).identity() == given.identity()
    kit = given.replace(seed=7, auto_seed=True)
    back = ig.Request.from_params("a poster", "vendor/model", json.loads(json.dumps(kit.params())))
    assert (back.seed, back.auto_seed) == (7, True) and back.identity() == kit.identity()
    assert "seed" not in kit.identity() and kit.params()["seed"] == 7
