"""Prompt matrices: ``{a|b}`` groups expand into a labelled grid, priced whole before sending."""

from __future__ import annotations

import pytest
from async_helpers import run_async
from magic_helpers import run, shell_bound_to

import jupyter_imagegen as ig
from jupyter_imagegen._core.matrix import MAX_CELLS, expand
from jupyter_imagegen.server import LocalServer


def posts(server: LocalServer) -> list[object]:
    return [r for r in server.requests if r.method == "POST"]


def test_groups_expand_row_major_and_other_braces_stay() -> None:
    found = expand("{red|blue|green} lighthouse at {dawn|dusk}, style {name} {{x|y}}")
    assert found is not None
    assert found.rows == ["red", "blue", "green"] and found.columns == ["dawn", "dusk"]
    assert found.prompts[:2] == ("red lighthouse at dawn, style {name} {{x|y}}",
                                 "red lighthouse at dusk, style {name} {{x|y}}")
    assert len(found.prompts) == 6
    assert expand("a {name} fox {\"json\": 1}") is None
    three = expand("{a|b} {c|d} {e|f}")
    assert three is not None and three.columns == ["c · e", "c · f", "d · e", "d · f"]
    with pytest.raises(ig.InvalidInputError, match="empty choice"):
        expand("{red||blue} fox")
    with pytest.raises(ig.InvalidInputError, match=f"at most {MAX_CELLS}"):
        expand("{a|b|c|d} {e|f|g|h} {i|j|k|l} {m|n}")


def test_a_matrix_runs_as_a_labelled_grid(client: ig.Client, server: LocalServer) -> None:
    grid = client.matrix("a {red|blue} circle on {white|black}", "offline/sketch", progress=False)
    assert (grid.prompts, grid.models) == (["red", "blue"], ["white", "black"])
    cell = grid.cell("blue", "black")
    assert cell.prompt == "a blue circle on black" and cell.result is not None
    sent = sorted(r.json["messages"][0]["content"] for r in posts(server))  # type: ignore[attr-defined]
    assert sent == sorted(["a red circle on white", "a red circle on black",
                           "a blue circle on white", "a blue circle on black"])
    html = grid._repr_mimebundle_()["text/html"]
    assert ">white<" in html and ">red<" in html and "alt=\"a blue circle on black\"" in html
    assert "prompt matrix" in repr(grid)


def test_the_whole_matrix_is_priced_before_anything_is_sent(server: LocalServer) -> None:
    with ig.Client(base_url=server.base_url, api_key="k", spend_limit=0.10) as c:
        with pytest.raises(ig.SpendLimitError, match=r"4 prompts\) may cost up to"):
            c.matrix("a {red|blue} fox at {dawn|dusk}", "offline/sketch", progress=False)
        assert posts(server) == []  # not one cell went out
        two = c.matrix("a {red|blue} fox", "offline/sketch", progress=False)
        assert len(two.batch.results) == 2


def test_a_cached_matrix_resumes_at_no_cost(server: LocalServer, tmp_path: object) -> None:
    with ig.Client(base_url=server.base_url, api_key="k", cache=tmp_path) as c:
        c.matrix("a {red|blue} fox", "offline/sketch", progress=False)
        one_cell = c.quote("a green fox", "offline/sketch").worst
    assert one_cell is not None and len(posts(server)) == 2
    limit = one_cell * 1.5  # room for one new cell, not two
    with ig.Client(base_url=server.base_url, api_key="k", cache=tmp_path, spend_limit=limit) as c:
        with pytest.raises(ig.SpendLimitError):  # two new cells: refused, nothing sent
            c.matrix("a {red|blue|green|pink} fox", "offline/sketch", progress=False)
        assert len(posts(server)) == 2
        # The cached cells cost nothing: only green is priced and sent.
        grid = c.matrix("a {red|blue|green} fox", "offline/sketch", progress=False)
        assert [i.result.cached for i in grid.batch if i.result] == [True, True, False]
    assert len(posts(server)) == 3


def test_async_matrix(server: LocalServer) -> None:
    async def go() -> ig.Comparison:
        async with ig.AsyncClient(base_url=server.base_url, api_key="k") as c:
            return await c.matrix("a {red|blue} square", "offline/sketch")

    grid = run_async(go())
    assert grid.prompts == ["red", "blue"] and len(grid.batch.results) == 2


def test_the_magic_runs_a_matrix_and_keeps_interpolation(client: ig.Client,
                                                         server: LocalServer) -> None:
    for shell in shell_bound_to(client):
        shell.user_ns["thing"] = "kite"
        out = run(shell, "%%imagegen -m offline/sketch --as grid --no-display\n"
                  "a {red|blue} {thing} at {dawn|dusk}")
        assert out.result.success, out.everything
        grid = shell.user_ns["grid"]
        assert grid.cell("blue", "dusk").prompt == "a blue kite at dusk"
        bad = run(shell, "%%imagegen -m offline/sketch -m offline/photo\na {red|blue} fox")
        assert "one model" in bad.error_message()
        escaped = run(shell, "%%imagegen -m offline/sketch --as one --no-display\na {{x|y}} fox")
        assert escaped.result.success, escaped.everything
        assert isinstance(shell.user_ns["one"], ig.ImageResult)
        assert shell.user_ns["one"].prompt == "a {x|y} fox"


def test_variations_rerun_the_request_with_new_recorded_seeds(client: ig.Client,
                                                              server: LocalServer) -> None:
    original = client.generate("a fox in the snow", "offline/sketch", seed=7)
    strip = original.variations(3, seeds=[11, 12, 13])
    assert strip.models == ["original", "seed 11", "seed 12", "seed 13"]
    assert strip.cell(0, "original").result is original
    again = strip.cell(0, "seed 12").result
    assert again is not None and again.seed == 12 and again.prompt == "a fox in the snow"
    assert again.image.tobytes() != original.image.tobytes()  # a different seed, another image
    # The recorded seed makes the variation again, pixel for pixel.
    assert again.rerun().image.tobytes() == again.image.tobytes()
    sent = [r.json.get("seed") for r in posts(server)]  # type: ignore[attr-defined]
    assert {11, 12, 13} <= set(sent)
    assert "variations" in repr(strip)
    picked = original.variations(2)
    seeds = [picked.cell(0, j).result.seed for j in (1, 2)]  # type: ignore[union-attr]
    assert len(set(seeds)) == 2 and all(isinstance(s, int) for s in seeds)


def test_variations_need_a_model_that_takes_a_seed(client: ig.Client) -> None:
    no_seed = client.generate("a fox", "openai/gpt-image-1")  # its listing declares no seed
    with pytest.raises(ig.ModelCapabilityError, match="does not take a seed"):
        no_seed.variations(2)
