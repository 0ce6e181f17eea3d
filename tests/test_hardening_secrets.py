"""Secrets by value, not by shape (issue 19): a key or token that does not look like ``sk-...``
(a gateway's, a proxy's) is redacted wherever the kit shows, stores or syncs text; a failed
constructor leaves no plain key in its frames; reprs of a half-built client never raise.

Every test draws its own token, so none passes because an earlier one taught the kit its value.
"""

from __future__ import annotations

import json
import logging
import secrets
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

import jupyter_imagegen as ig
from jupyter_imagegen._cli import main
from jupyter_imagegen.server import Fault, LocalServer


def token(kind: str = "proxytok") -> str:
    """A credential no shape rule knows: not sk-..., no Bearer in front of it."""
    return f"{kind}_{secrets.token_hex(12)}"


def _everything(exc: ig.ImageGenError) -> str:
    return " ".join([str(exc), repr(exc), exc.message, exc.hint or "", repr(exc.args),
                     json.dumps(exc.metadata, default=str)])


@pytest.mark.parametrize("status", ["401", "500"])
def test_a_proxy_that_echoes_the_key_shows_it_nowhere(server: LocalServer, status: str) -> None:
    key = token()
    server.faults.push(Fault(status, message=f"Invalid proxy token: {key}",
                             metadata={"raw": f"upstream said {key}"}), times=None)
    with ig.Client(api_key=key, base_url=server.base_url, max_retries=0) as client:
        with pytest.raises(ig.APIError) as info:
            client.generate("a fox", "offline/sketch")
        batch = client.generate_many(["a fox", "a hen"], "offline/sketch", progress=False)
    text = _everything(info.value)
    assert "Invalid proxy token: [redacted]" in str(info.value)
    assert key not in text
    bundle = batch._repr_mimebundle_()
    assert "[redacted]" in bundle["text/html"]
    assert key not in bundle["text/html"] and key not in bundle["text/plain"]


def test_the_widget_error_trait_and_saved_state_hold_no_key(server: LocalServer) -> None:
    key = token("gateway")
    server.faults.push(Fault("401", message=f"token {key} is not valid here"), times=None)
    with ig.Client(api_key=key, base_url=server.base_url, max_retries=0) as client:
        widget = ig.ImageGenWidget(client=client, model="offline/sketch")
        widget.wait_for_models(30)
        with pytest.raises(ig.AuthenticationError):
            widget.generate("a fox").result(30)
        widget.error = f"set by hand: {key}"  # any writer of the trait, not only the kit's
        state = json.dumps(widget.get_state(), default=str)
    assert "[redacted]" in widget.error and key not in state


def test_the_command_line_error_line_holds_no_key(server: LocalServer, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    key = token()
    monkeypatch.setenv("OPENROUTER_API_KEY", key)
    server.faults.push(Fault("401", message=f"Invalid proxy token: {key}"), times=None)
    status = main(["generate", "a fox", "-m", "offline/sketch", "-o", str(tmp_path),
                   "--base-url", server.base_url])
    out = capsys.readouterr()
    assert status == 1 and out.err.startswith("error: Invalid proxy token: [redacted]")
    assert key not in out.out + out.err


def test_a_reply_that_quotes_the_key_keeps_it_nowhere(server: LocalServer, tmp_path: Path) -> None:
    # Shorter than the 16 characters the body check refuses, so the prompt goes out with it and
    # the offline model's reply quotes it back, as a proxy or a chatty model may.
    key = "tk" + secrets.token_hex(6)
    with ig.Client(api_key=key, base_url=server.base_url, cache=tmp_path / "cache",
                   store=tmp_path / "store") as client:
        result = client.generate(f"a fox named {key}", "google/gemini-2.5-flash-image")
        widget = ig.ImageGenWidget(client=client)
        widget._published(result)  # as a generation in the widget shows it
        state = json.dumps(widget.get_state(), default=str)
    assert "[redacted]" in result.text and key not in result.text
    assert key not in json.dumps(result.metadata())
    result.save(tmp_path / "saved")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path
    assert key not in state


def _plain_key_in_frames(make: Callable[[], object], key: str) -> list[str]:
    """The kit's frames of the failed call whose locals, as a verbose traceback prints them, show
    the key (the test's own frames hold it, of course)."""
    with pytest.raises(ig.InvalidInputError) as info:
        make()
    kit = str(Path(ig.__file__).parent)
    frames = []
    tb = info.value.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(kit):
            frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    assert frames, "the constructor raised before reaching the kit"
    # What %xmode Verbose and error reporters print; a repr that raises breaks it.
    printed = "".join(traceback.StackSummary.extract(iter(frames), capture_locals=True).format())
    found = [f"{frame.f_code.co_name}:{name}" for frame, _ in frames
             for name, value in frame.f_locals.items()
             if key in repr(value) or (type(value) is str and key in value)]
    return [*found, "printed"] if key in printed else found


@pytest.mark.parametrize("make", [
    lambda key: ig.Client(api_key=key, base_url="ftp://not-http"),
    lambda key: ig.Client(api_key=key, api="bad"),  # type: ignore[arg-type]
    lambda key: ig.Client(api_key=key + " with a space"),
    lambda key: ig.AsyncClient(key, base_url="ftp://not-http"),
    lambda key: ig.AsyncClient(api_key=key, api="bad"),
], ids=["base-url", "api", "spaces", "async-positional", "async-keyword"])
def test_a_failed_constructor_leaves_no_plain_key_in_its_frames(
        make: Callable[[str], object]) -> None:
    key = token()
    assert _plain_key_in_frames(lambda: make(key), key) == []


def test_reprs_of_half_built_clients_never_raise() -> None:
    assert repr(object.__new__(ig.Client)).startswith("<Client base_url=None")
    assert repr(object.__new__(ig.AsyncClient)) == "<AsyncClient None>"


def test_an_injected_sessions_authorization_is_a_secret_too(server: LocalServer) -> None:
    gateway = token("hub")
    session = requests.Session()
    session.headers["Authorization"] = f"token {gateway}"  # JupyterHub's scheme, not Bearer
    server.faults.push(Fault("403", message=f"token {gateway} lacks access:services"))
    with ig.Client(api_key=None, base_url=server.base_url, session=session) as client, \
            pytest.raises(ig.PermissionDeniedError) as info:
        client.generate("a fox", "offline/sketch")
    assert gateway not in _everything(info.value)


def test_log_records_hold_no_key_and_no_escapes(server: LocalServer,
                                                caplog: pytest.LogCaptureFixture) -> None:
    key = token()
    server.faults.push(Fault("400", message=f"listing broke for {key} \x1b]52;c;aGk=\x07",
                             path="*"), times=None)
    with ig.Client(api_key=key, base_url=server.base_url, max_retries=0) as client, \
            caplog.at_level(logging.DEBUG, logger="jupyter_imagegen"):
        assert client.catalogue.lookup("offline/sketch") is None  # listings unusable: logged
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "listings are unusable" in logged and "[redacted]" in logged
    assert key not in logged and "\x1b" not in logged and "\x07" not in logged
