"""Text from strangers is inert on a terminal (issue 19): model ids and names from a listing, reply
text and error messages reach the command line, IPython's terminal front end (text/plain) and the
logs with every control character shown as a visible escape, never obeyed.

The payload is what the attack used: an OSC 52 clipboard write, a screen clear and a one-byte CSI.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from magic_helpers import run, shell_bound_to

import jupyter_imagegen as ig
from jupyter_imagegen._cli import main
from jupyter_imagegen.server import Fault, LocalServer, ModelSpec

OSC52 = "\x1b]52;c;ZWNobyBwd25lZA==\x07"
PAYLOAD = OSC52 + "\x1b[2J\x9b31m\u202e"
EVIL = "evil/osc" + PAYLOAD
_RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def raw_controls(text: str) -> list[str]:
    """Control characters a terminal would obey (tab and newline are text)."""
    return _RAW.findall(text)


@pytest.fixture
def hostile() -> Iterator[LocalServer]:
    """A server whose listing carries a model with escapes in its id, name and description."""
    with LocalServer() as srv:
        srv.catalogue[EVIL] = ModelSpec(id=EVIL, name="Evil" + PAYLOAD, description="d" + PAYLOAD)
        yield srv


@pytest.mark.parametrize("extra", [[], ["--all"]], ids=["models", "models-all"])
def test_the_model_listing_prints_no_escapes(hostile: LocalServer, extra: list[str],
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-terminal")
    assert main(["models", *extra, "--base-url", hostile.base_url]) == 0
    out = capsys.readouterr().out
    assert raw_controls(out) == []
    assert "evil/osc\\x1b]52;c;ZWNobyBwd25lZA==\\x07" in out  # shown, harmless


def test_generate_prints_reply_text_and_its_error_line_inert(hostile: LocalServer, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-terminal")
    # The offline model's reply quotes the prompt: a reply can carry anything.
    assert main(["generate", "a fox" + PAYLOAD, "-m", "google/gemini-2.5-flash-image",
                 "-o", str(tmp_path), "--base-url", hostile.base_url]) == 0
    out = capsys.readouterr().out
    assert "Here is" in out and raw_controls(out) == []
    hostile.faults.push(Fault("400", message="bad request" + PAYLOAD))
    assert main(["generate", "a fox", "-m", "offline/sketch", "-o", str(tmp_path),
                 "--base-url", hostile.base_url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: bad request\\x1b]52") and raw_controls(err) == []


@pytest.fixture
def shell(hostile: LocalServer) -> Iterator[InteractiveShell]:
    with ig.Client(api_key="sk-or-v1-terminal", base_url=hostile.base_url) as client:
        yield from shell_bound_to(client)


def test_ipython_text_outputs_are_inert(shell: InteractiveShell) -> None:
    """What IPython's terminal front end prints: text/plain of every output, and the streams."""
    listing = run(shell, "%imagegen models evil")
    shell.user_ns["evil"] = EVIL
    cell = run(shell, f"%%imagegen -m {{evil}} --as shown\na fox{PAYLOAD}")
    batch = run(shell, f"%%imagegen -m offline/sketch --each-line\na fox{PAYLOAD}\na hen{PAYLOAD}")
    for ran in (listing, cell, batch):
        assert ran.result.success, ran.stderr
        texts = [o.data["text/plain"] for o in ran.captured.outputs if "text/plain" in o.data]
        # The displayhook prints Out[] on stdout; stderr has the kit's own progress bar, whose
        # carriage returns are its own.
        texts += [ran.captured.stdout, ran.captured.stderr.replace("\r", "")]
        assert "".join(texts).strip(), ran
        for text in texts:
            assert raw_controls(text) == [], text
    assert "Evil\\x1b]52" in listing.captured.stdout
    assert raw_controls(repr(shell.user_ns["shown"])) == []


def test_store_entries_and_captions_are_inert(hostile: LocalServer, tmp_path: Path) -> None:
    with ig.Client(api_key="sk-or-v1-terminal", base_url=hostile.base_url,
                   store=tmp_path / "store") as client:
        result = client.generate("a fox", EVIL)
    (entry,) = ig.ImageStore(tmp_path / "store").latest(1)
    from jupyter_imagegen._results.display import result_outputs

    texts = [data["text/plain"] for data, _meta in result_outputs(result)]
    for text in [repr(entry), repr(result), *texts]:
        assert raw_controls(text) == [], text
