"""Exploring from the magic: a region edit (``--mask``), ``more`` (a seed strip), stars and picks."""

from __future__ import annotations

from pathlib import Path

from magic_helpers import run, shell_bound_to
from PIL import Image, ImageChops, ImageDraw

import jupyter_imagegen as ig
from jupyter_imagegen.server import LocalServer


def test_mask_edits_only_the_region_of_the_named_result(client: ig.Client,
                                                        server: LocalServer) -> None:
    for shell in shell_bound_to(client):
        first = run(shell, "%%imagegen -m offline/editor --as field --no-display\na plain green field")
        assert first.result.success, first.everything
        out = run(shell, "%%imagegen -i field --mask 100,200,400,500 --as door --no-display\na red door")
        assert out.result.success, out.everything
        field, door = shell.user_ns["field"], shell.user_ns["door"]
        band = 2 * door.params["region"]["feather"]
        diff = ImageChops.difference(field.images[0].convert("RGB"), door.images[0].convert("RGB"))
        changed = diff.getbbox()
        assert changed is not None and diff.crop((100, 200, 400, 500)).getbbox() is not None
        assert changed[0] >= 100 - band and changed[1] >= 200 - band
        assert changed[2] <= 400 + band and changed[3] <= 500 + band
        assert door.prompt == "a red door" and door.provider_images  # the answer kept as sent
        # A PIL mask from a variable works too; a painted ellipse, not a box.
        mask = Image.new("L", field.images[0].size, 0)
        ImageDraw.Draw(mask).ellipse((600, 600, 800, 800), fill=255)
        shell.user_ns["moon_mask"] = mask
        moon = run(shell, "%%imagegen -i field --mask moon_mask --as moon --no-display\na moon")
        assert moon.result.success, moon.everything
        after = shell.user_ns["moon"].images[0].convert("RGB")
        kept = ImageChops.difference(field.images[0].convert("RGB"), after).crop((0, 0, 500, 500))
        assert kept.getbbox() is None  # far from the ellipse: every pixel the original's


def test_mask_misuse_is_a_usage_error_that_says_what_to_give(client: ig.Client,
                                                              server: LocalServer,
                                                              tmp_path: Path) -> None:
    for shell in shell_bound_to(client):
        assert "one result" in run(shell, "%%imagegen --mask 1,2,3,4\na door").error_message()
        shell.user_ns["not_a_result"] = Image.new("RGB", (8, 8))
        bad = run(shell, "%%imagegen -i not_a_result --mask 1,2,3,4\na door")
        assert "needs a result the kit made" in bad.error_message()
        run(shell, "%%imagegen -m offline/editor --as r --no-display\na field")
        odd = run(shell, "%%imagegen -i r --mask nowhere_defined\na door")
        assert "neither a box" in odd.error_message()
        before = len([q for q in server.requests if q.method == "POST"])
        matrix = run(shell, "%%imagegen -i r --mask 1,2,30,40\na {red|blue} door")
        assert "one region of one result" in matrix.error_message()
        assert len([q for q in server.requests if q.method == "POST"]) == before  # nothing sent


def test_more_stars_and_picks(client: ig.Client, server: LocalServer, tmp_path: Path) -> None:
    client.store = ig.ImageStore(tmp_path / "store")
    for shell in shell_bound_to(client):
        run(shell, "%%imagegen -m offline/sketch --as fox --no-display\na fox in the snow")
        strip = run(shell, "%imagegen more fox 3")
        assert strip.result.success, strip.everything
        grid = strip.result.result
        assert grid.title == "variations" and grid.models[0] == "original" and len(grid.models) == 4
        seeds = [item.result.params["seed"] for item in grid.batch.items[1:]]
        assert [f"seed {s}" for s in seeds] == grid.models[1:]
        html = grid._repr_mimebundle_()["text/html"]  # what the cell shows as its value
        assert "original" in html and html.count("<img") == 4  # one image per cell
        shell.user_ns["third"] = grid.cell(0, 3).result
        assert "starred fox" in run(shell, "%imagegen star fox").captured.stdout
        assert "2 pick(s)" in run(shell, "%imagegen star third").captured.stdout
        assert "1 pick(s)" in run(shell, "%imagegen star fox off").captured.stdout
        picks = run(shell, "%imagegen picks").result.result
        assert [item.result for item in picks] == [shell.user_ns["third"]]
        assert [e.prompt for e in ig.ImageStore(tmp_path / "store").picks()] == ["a fox in the snow"]
        assert ig.ImageStore(tmp_path / "store").picks()[0].starred
        assert "not a result" in run(shell, "%imagegen star nothing_here").error_message()
        assert "Usage: %imagegen more" in run(shell, "%imagegen more fox many").error_message()
