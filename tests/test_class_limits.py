"""Limits that mean it in class: from the environment or IPython config, on every way of generating.

Against the local server (real ids, simulated prices): ``google/gemini-2.5-flash-image`` quotes
about $0.039 expected and $0.049 worst case per image, so a $0.06 limit allows one image.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell
from magic_helpers import run, shell_bound_to

import jupyter_imagegen as ig
from jupyter_imagegen._core.config import Settings
from jupyter_imagegen.server import LocalServer

MODEL = "google/gemini-2.5-flash-image"


@pytest.fixture
def online(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> LocalServer:
    monkeypatch.setenv("OPENROUTER_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-class-key-0123456789")
    return server


def posts(server: LocalServer) -> int:
    return sum(r.path.endswith(("/chat/completions", "/images")) for r in server.requests)


def test_the_environment_limit_holds_for_ig_generate_from_the_first_call(
        online: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_IMAGEGEN_SPEND_LIMIT", "0.06")
    ig.generate("a fox", MODEL)
    with pytest.raises(ig.SpendLimitError, match=r"of \$0.06"):
        ig.generate("a second fox", MODEL)
    assert posts(online) == 1
    with ig.Client() as fresh:  # a new client starts with the limit too
        assert fresh.spend_limit == 0.06
        fresh.generate("a cat", MODEL)
        with pytest.raises(ig.SpendLimitError, match="Raise the spend limit"):
            fresh.generate("a second cat", MODEL)
        fresh.spend_limit = None  # outside class mode a notebook may lift its own limit
        fresh.generate("a third cat", MODEL)
    assert posts(online) == 3


def test_bad_limits_are_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_IMAGEGEN_SPEND_LIMIT", "five dollars")
    with pytest.raises(ig.InvalidInputError, match="JUPYTER_IMAGEGEN_SPEND_LIMIT must be a number"):
        Settings.from_env()
    monkeypatch.setenv("JUPYTER_IMAGEGEN_SPEND_LIMIT", "-1")
    with pytest.raises(ig.InvalidInputError, match=">= 0"):
        Settings.from_env()


@pytest.fixture
def shell(online: LocalServer) -> Iterator[InteractiveShell]:
    """The test shell, with no client yet: the kit resolves its default client itself."""
    with ig.Client() as placeholder:
        it = shell_bound_to(placeholder)
        ip = next(it)
    ig.set_default_client(None)
    ip.run_line_magic("unload_ext", "jupyter_imagegen")  # as in a fresh kernel: not loaded yet
    try:
        yield ip
    finally:
        ip.run_line_magic("load_ext", "jupyter_imagegen")
        next(it, None)


def test_a_kernel_config_limit_holds_before_any_magic_cell(shell: InteractiveShell,
                                                           online: LocalServer) -> None:
    shell.config.ImageGenMagics.spend_limit = 0.06  # as ipython_config.py sets it
    ig.generate("a fox", MODEL)
    with pytest.raises(ig.SpendLimitError):
        ig.generate("a second fox", MODEL)
    with ig.Client() as fresh:
        assert fresh.spend_limit == 0.06
    assert posts(online) == 1


def test_a_config_magic_after_ig_generate_holds_at_once(shell: InteractiveShell,
                                                        online: LocalServer) -> None:
    shell.run_line_magic("load_ext", "jupyter_imagegen")
    ig.generate("a fox", MODEL)  # the default client exists before the limit is set
    run(shell, "%config ImageGenMagics.spend_limit = 0.06")
    with pytest.raises(ig.SpendLimitError):
        ig.generate("a second fox", MODEL)  # no %%imagegen cell ran in between
    with ig.Client() as fresh:
        assert fresh.spend_limit == 0.06


def test_class_mode_cannot_be_lifted_from_the_notebook(
        shell: InteractiveShell, online: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_IMAGEGEN_SPEND_LIMIT", "0.06")
    monkeypatch.setenv("JUPYTER_IMAGEGEN_CLASS_MODE", "1")
    ig.generate("a fox", MODEL)
    client = ig.default_client()
    with pytest.warns(UserWarning, match="cannot be raised"):
        client.spend_limit = None
    with pytest.warns(UserWarning, match="cannot be reset"):
        client.spent = 0
    with pytest.warns(UserWarning, match="cannot be raised"):
        other = ig.Client(spend_limit=100)
    with other:
        assert other.spend_limit == 0.06  # a new client shares the class's budget
        with pytest.raises(ig.SpendLimitError) as refused:
            other.generate("a second fox", MODEL)
    message = str(refused.value)
    assert "class's budget" in message and "Ask your teacher" in message
    for hint in ("Raise", "None", "spend_limit", "%config", "prices="):
        assert hint not in message
    shell.run_line_magic("load_ext", "jupyter_imagegen")
    with pytest.warns(UserWarning, match="cannot be raised"):
        run(shell, "%config ImageGenMagics.spend_limit = 50.0")
    cell = run(shell, f"%%imagegen -m {MODEL}\na third fox")
    shown = cell.error_message()
    assert "class's budget" in shown and "%config" not in shown and "None" not in shown
    assert posts(online) == 1


def test_class_mode_may_lower_the_limit(online: LocalServer,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_IMAGEGEN_SPEND_LIMIT", "1.00")
    monkeypatch.setenv("JUPYTER_IMAGEGEN_CLASS_MODE", "yes")
    with ig.Client(spend_limit=0.06) as careful:
        careful.generate("a fox", MODEL)
        with pytest.raises(ig.SpendLimitError):
            careful.generate("a second fox", MODEL)
        careful.spend_limit = 0.01
        assert careful.spend_limit == 0.01
