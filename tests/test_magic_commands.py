"""The ``%imagegen`` line commands: models, config, offline/online, key, widget, help."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell
from magic_helpers import KEY, run, shell_bound_to

import jupyter_imagegen as ig
from jupyter_imagegen import Model
from jupyter_imagegen.server import LocalServer


@pytest.fixture
def ip(client: ig.Client) -> Iterator[InteractiveShell]:
    yield from shell_bound_to(client)


def test_models_lists_image_models_as_a_table(ip: InteractiveShell, server: LocalServer) -> None:
    cell = run(ip, "%imagegen models")
    table = cell.result.result
    ids = [m.id for m in table.items]
    assert all(isinstance(m, Model) for m in table.items)
    assert "offline/sketch" in ids
    assert "offline/chat" not in ids  # text-only models are not image models
    assert table.headers == ["id", "name", "api", "aspect ratios", "price/image", "inputs"]
    sketch = next(row for row in table.rows if row[0] == "offline/sketch")
    assert sketch[:3] == ["offline/sketch", "Offline: Sketch", "chat+images"]
    assert sketch[3].startswith("1:1, 2:3") and sketch[5] == "text, image"
    assert sketch[4].startswith("$0.0390/image (")  # a price always says what it rests on
    assert f"{len(ids)} image models at {server.base_url}" in table.caption
    # Compact in a notebook: one collapsed group per author, one wrapping line per model.
    html = table._repr_html_()
    assert "<table" not in html and html.count("<li ") == len(ids)
    authors = {i.split("/", 1)[0] for i in ids}
    assert html.count("<details ") == len(authors) and " open" not in html
    assert "offline (" in html and "filter with %imagegen models WORD" in html
    assert len(html) < 400 * len(ids) + 2000  # no wide columns of every ratio


def test_models_search_opens_its_few_groups(ip: InteractiveShell) -> None:
    html = run(ip, "%imagegen models gemini").result.result._repr_html_()
    assert "<details open" in html and "google (" in html


def test_models_search(ip: InteractiveShell) -> None:
    table = run(ip, "%imagegen models GEMINI 2.5").result.result
    assert [m.id for m in table.items] == ["google/gemini-2.5-flash-image"]
    table = run(ip, "%imagegen models GEMINI image").result.result
    assert len(table.items) >= 5 and all("gemini" in m.id for m in table.items)
    none = run(ip, "%imagegen models zebra").result.result
    assert none.items == []
    assert "0 image models matching 'zebra'" in none.caption
    assert "%imagegen models" in none.caption


def test_models_value_can_be_assigned(ip: InteractiveShell) -> None:
    run(ip, "found = %imagegen models flux.2-pro")
    assert [m.id for m in ip.user_ns["found"].items] == ["black-forest-labs/flux.2-pro"]


def test_config_shows_effective_settings_and_only_whether_a_key_is_set(ip: InteractiveShell) -> None:
    ip.run_line_magic("config", "ImageGenMagics.default_model = 'offline/poster'")
    ip.run_line_magic("config", "ImageGenMagics.aspect_ratio = '16x9'")  # normalised
    cell = run(ip, "%imagegen config")
    table = cell.result.result
    rows = {row[0]: row[1] for row in table.rows}
    assert rows["API key"] == "set"
    assert rows["model"] == "offline/poster"
    assert rows["aspect ratio"] == "16:9"
    assert KEY not in cell.everything
    assert KEY not in repr(table) + table._repr_html_()


def test_config_without_a_key(ip: InteractiveShell, server: LocalServer) -> None:
    ig.set_default_client(ig.Client(base_url=server.base_url, api_key=""))
    rows = {r[0]: r[1] for r in run(ip, "%imagegen config").result.result.rows}
    assert rows["API key"] == "unset"
    assert rows["service"] == server.base_url
    assert rows["model"] == "google/gemini-2.5-flash-image (client default)"


def test_offline_then_online(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    cell = run(ip, "%imagegen offline")
    assert cell.result.success, cell.stderr
    assert ig.is_offline()
    # One neutral line (stderr only because this shell has no kernel), no temporary port.
    (notice,) = cell.captured.stderr.strip().splitlines()
    assert notice.startswith("jupyter_imagegen is in offline mode: images come from the built-in renderer")
    assert "127.0.0.1" not in notice and "simulated" in notice
    rows = {r[0]: r[1] for r in run(ip, "%imagegen config").result.result.rows}
    assert rows["service"].endswith("(offline local server)")
    generated = run(ip, "%%imagegen -m offline/sketch --no-stream\noffline fox")
    assert generated.result.success, generated.stderr
    assert generated.result.result.offline and "offline simulated_cost=$0.0" in repr(generated.result.result)
    rows = {r[0]: r[1] for r in run(ip, "%imagegen config").result.result.rows}
    assert rows["spent this session"].startswith("$0.00 (offline; simulated prices total $0.0")
    # Online without a key is refused with instructions, and nothing changes.
    refused = run(ip, "%imagegen online")
    assert "No OPENROUTER_API_KEY is set" in refused.error_message()
    assert ig.is_offline()
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-from-the-environment-000")
    cell = run(ip, "%imagegen online")
    assert cell.result.success
    assert not ig.is_offline()
    assert ig.default_client().has_key
    assert "API key set" in cell.captured.stdout
    assert "sk-or-v1-from-the-environment" not in cell.everything


def test_key_prompts_without_echo(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch,
                                  server: LocalServer) -> None:
    secret = "sk-or-v1-typed-in-0123456789abcdef"
    prompts = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return f"  {secret}\n"

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    monkeypatch.setenv("OPENROUTER_BASE_URL", server.base_url)
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    cell = run(ip, "%imagegen key")
    assert cell.result.success, cell.stderr
    assert prompts == ["OpenRouter API key (not shown): "]
    import os

    assert os.environ["OPENROUTER_API_KEY"] == secret
    assert ig.default_client().has_key
    assert secret not in cell.everything
    # The new key is the one that is sent.
    run(ip, "%%imagegen -m offline/sketch --no-stream\nfox")
    assert server.requests[-1].header("Authorization") == f"Bearer {secret}"


def test_key_with_nothing_entered(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "")
    assert "No key entered" in run(ip, "%imagegen key").error_message()


def test_help_and_bare_command(ip: InteractiveShell) -> None:
    for source in ("%imagegen help", "%imagegen"):
        shown = run(ip, source).result.result
        text, html = repr(shown), shown._repr_html_()
        assert text.index("%%imagegen\n") < text.index("%imagegen models [SEARCH]")  # examples first
        assert "--each-line" in text and "-m MODEL" in text and "\\n" not in text
        assert html.startswith("<pre") and "&lt;" not in text and "{city}" in html
    doc = run(ip, "%imagegen?").captured.stdout
    assert "Line commands" in doc
    assert "--no-interpolate" in doc
    # Plain text, as notebooks show it: no reStructuredText markup, no word cut at a hyphen.
    assert "::" not in doc and "``" not in doc and "<{" not in doc
    assert "Usage:\n  %imagegen [-m MODEL]" in doc
    words = {w for w in doc.split() if "-" in w.strip("-[]()")}
    assert not [w for w in words if w.endswith("-") and not w.startswith("-")], words
    assert "keep-alives" in doc


def test_help_names_every_option_and_wraps_between_words(ip: InteractiveShell) -> None:
    from jupyter_imagegen._notebook.commands import HELP

    parser = ip.magics_manager.registry["ImageGenMagics"].imagegen.parser
    for action in parser._actions:
        if action.option_strings and "-h" not in action.option_strings:
            assert any(o in HELP for o in action.option_strings), action.option_strings
    assert "-n N" in HELP
    html = run(ip, "%imagegen help").result.result._repr_html_()
    assert "word-break:normal" in html and "overflow-wrap:normal" in html
    typo = run(ip, "%%imagegen --nn 3\na fox").error_message()
    assert "did you mean -n (not --nn)?" in typo and " -n " in typo.split("Valid options:")[1]


@pytest.mark.parametrize(("line", "expected"), [
    ("modles", "Did you mean `%imagegen models`?"),
    ("a red fox", "To generate, write the prompt in a cell under `%%imagegen [options]`."),
    ("-m offline/sketch", "Options belong on a cell"),
    ("models 'unclosed", "cannot parse"),
])
def test_unknown_commands(ip: InteractiveShell, line: str, expected: str) -> None:
    message = run(ip, f"%imagegen {line}").error_message()
    assert expected in message
    listed = "models, config, offline, online, key, widget, more, star, picks, help"
    assert listed in message or "cannot parse" in message


def test_models_error_is_short(ip: InteractiveShell) -> None:
    ig.set_default_client(ig.Client(base_url="http://127.0.0.1:9/api/v1", api_key="", max_retries=0))
    cell = run(ip, "%imagegen models")
    assert "cannot reach" in cell.error_message()
    assert cell.result.error_in_exec.error_type == "APIConnectionError"


def test_widget_opens_bound_to_the_magic_client(ip: InteractiveShell, client: ig.Client) -> None:
    widget_module = pytest.importorskip("jupyter_imagegen._widget.widget")
    ip.run_line_magic("config", "ImageGenMagics.default_model = 'offline/quartet'")
    widget = run(ip, "%imagegen widget").result.result
    assert isinstance(widget, widget_module.ImageGenWidget)
    assert widget.model == "offline/quartet"
