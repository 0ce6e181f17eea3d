"""Every error path of ``%%imagegen``: short messages that say what to do, no traceback, no key."""

from __future__ import annotations

import _thread
import threading
import time
from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell
from magic_helpers import KEY, run, shell_bound_to

import jupyter_imagegen as ig
from jupyter_imagegen.server import Fault, LocalServer


@pytest.fixture
def ip(client: ig.Client) -> Iterator[InteractiveShell]:
    yield from shell_bound_to(client)


def posted(server: LocalServer) -> int:
    return sum(r.path.endswith("/chat/completions") for r in server.requests)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("--sead 3", ["unrecognized arguments: --sead 3", "did you mean --seed (not --sead)?",
                      "Valid options: --api --as --aspect-ratio"]),
        ("a red fox", ["the prompt goes in the cell body"]),
        ("--aspect-ratio wide", ["'wide' is not an aspect ratio; write it like 16:9"]),
        # The catalogue knows what the model takes, and says so before anything is sent.
        ("--aspect-ratio 7:3", ["google/gemini-2.5-flash-image on the chat API does not take "
                                "aspect ratio 7:3 (it takes 1:1, 2:3, 3:2"]),
        ("--size 3K", ["unknown size '3K'; use one of 0.5K, 1K, 2K, 4K"]),
        ("--seed abc", ["argument --seed: invalid int value: 'abc'"]),
        ("--as 2fast", ["'2fast' is not a valid Python variable name"]),
        ("--as class", ["'class' is not a valid Python variable name"]),
        ("--timeout -1", ["'-1' is not a positive number of seconds"]),
        ("-m", ["argument -m/--model: expected one argument"]),
    ],
)
def test_bad_options_are_short_and_send_nothing(
    ip: InteractiveShell, server: LocalServer, line: str, expected: list[str]
) -> None:
    cell = run(ip, f"%%imagegen {line}\na fox")
    message = cell.error_message()
    for text in expected:
        assert text in message
    assert posted(server) == 0


def test_empty_cell(ip: InteractiveShell, server: LocalServer) -> None:
    cell = run(ip, "%%imagegen -m offline/sketch\n   \n")
    assert "The cell is empty" in cell.error_message()
    assert posted(server) == 0


def test_401_says_how_to_set_the_key_without_echoing_it(ip: InteractiveShell, server: LocalServer) -> None:
    server.faults.push(Fault("401"))
    cell = run(ip, "%%imagegen -m offline/sketch\na fox")
    message = cell.error_message()
    assert message.startswith("UsageError: The API key was not accepted (HTTP 401)")  # one prefix
    assert "%imagegen key" in message
    assert "without showing it" in message
    assert KEY not in cell.everything
    assert cell.result.error_in_exec.error_type == "AuthenticationError"
    assert cell.captured.outputs == []  # quick errors leave no status line behind


def test_402_points_to_credits(ip: InteractiveShell, server: LocalServer) -> None:
    server.faults.push(Fault("402"))
    message = run(ip, "%%imagegen -m offline/sketch --no-stream\na fox").error_message()
    assert "Out of credits (HTTP 402)" in message
    assert message.count("openrouter.ai/settings/credits") == 1  # the service's own link, once
    assert "raise this key's limit" in message


def test_unknown_names_get_related_suggestions_or_none(ip: InteractiveShell, server: LocalServer) -> None:
    nothing = run(ip, "%%imagegen -m nope/nothing\na fox").error_message()
    assert "Did you mean" not in nothing and "%imagegen models" in nothing  # nothing unrelated
    gemini = run(ip, "%%imagegen -m gemini\na fox").error_message()
    suggested = gemini.split("Did you mean: ", 1)[1].split("?", 1)[0].split(", ")
    assert suggested and all(m.startswith("google/gemini-") for m in suggested), gemini
    sketch = run(ip, "%%imagegen -m sketch\na fox").error_message()
    assert "Did you mean: offline/sketch" in sketch
    assert posted(server) == 0


def test_429_says_it_waited_and_retried(ip: InteractiveShell, server: LocalServer) -> None:
    server.faults.push(Fault("429", retry_after=0), times=3)
    message = run(ip, "%%imagegen -m offline/sketch\na fox").error_message()
    assert "Rate limited (HTTP 429)" in message
    assert "Waited and retried 2 times; still limited." in message
    assert posted(server) == 3


def test_429_then_success_is_just_a_result(ip: InteractiveShell, server: LocalServer) -> None:
    server.faults.push(Fault("429", retry_after=0))
    cell = run(ip, "%%imagegen -m offline/sketch\na fox")
    assert cell.result.success, cell.stderr
    assert len(cell.images) == 1
    assert posted(server) == 2


def test_no_image_lists_the_three_causes(ip: InteractiveShell, server: LocalServer) -> None:
    server.faults.push(Fault("no-image"))
    message = run(ip, "%%imagegen -m offline/sketch\na fox").error_message()
    assert "NoImageError" not in message  # no second type prefix
    assert "(1)" in message
    assert "(2)" in message
    assert "(3)" in message


def test_unknown_model_suggests_close_ids(ip: InteractiveShell, server: LocalServer) -> None:
    message = run(ip, "%%imagegen -m offline/skech\na fox").error_message()
    assert "NotFoundError" not in message  # no second type prefix
    assert "offline/sketch" in message
    assert "%imagegen models" in message
    assert posted(server) == 0


def test_text_only_model_names_image_models(ip: InteractiveShell, server: LocalServer) -> None:
    message = run(ip, "%%imagegen -m offline/chat\nhello").error_message()
    assert "ModelCapabilityError" not in message  # no second type prefix
    assert "cannot output images" in message
    assert "offline/sketch" in message
    assert posted(server) == 0


def test_model_without_image_input(ip: InteractiveShell, server: LocalServer) -> None:
    ip.user_ns["pic"] = __import__("PIL.Image").Image.new("RGB", (4, 4))
    message = run(ip, "%%imagegen -m offline/poster -i pic\nedit").error_message()
    assert "does not accept input images" in message
    assert "offline/editor" in message


@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_provider_errors(ip: InteractiveShell, server: LocalServer, kind: str) -> None:
    server.faults.push(Fault(kind), times=3)
    message = run(ip, "%%imagegen -m offline/sketch\na fox").error_message()
    assert "ProviderError" not in message  # no second type prefix
    assert f"HTTP {kind}" in message


@pytest.mark.parametrize(("kind", "error"), [
    ("cut-stream", "IncompleteStreamError"),
    ("bad-base64", "ImageDecodeError"),
    ("stream-error", "RateLimitError"),
    ("403", "ModerationError"),
])
def test_response_errors(ip: InteractiveShell, server: LocalServer, kind: str, error: str) -> None:
    server.faults.push(Fault(kind), times=3)
    cell = run(ip, "%%imagegen -m offline/sketch\na fox")
    message = cell.error_message()
    assert cell.result.error_in_exec.error_type == error
    assert f"{error}:" not in message and message.count("\n") == 1  # one line, one prefix
    assert len(message) < 1200


def test_connection_refused(ip: InteractiveShell) -> None:
    ig.set_default_client(ig.Client(base_url="http://127.0.0.1:9/api/v1", api_key="", max_retries=0))
    cell = run(ip, "%%imagegen -m offline/sketch\na fox")
    message = cell.error_message()
    assert cell.result.error_in_exec.error_type == "APIConnectionError"
    assert "%imagegen offline" in message


def test_kernel_interrupt_cancels_cleanly(ip: InteractiveShell, server: LocalServer) -> None:
    server.faults.push(Fault("slow", delay=30))
    timer = threading.Timer(0.5, _thread.interrupt_main)
    started = time.monotonic()
    timer.start()
    try:
        cell = run(ip, "%%imagegen -m offline/sketch --as never\na slow fox")
    finally:
        timer.cancel()
    elapsed = time.monotonic() - started
    # A cancel is a quiet note, not an error: no error state, no stale status line.
    assert cell.result.success and cell.stderr == ""
    (note,) = cell.outputs
    assert note.data["text/plain"].startswith("Stopped (cancelled after")
    assert "Run the cell again" in note.data["text/plain"]
    assert elapsed < 10  # at the interrupt, not after the 30 s answer
    assert "never" not in ip.user_ns
    # The shell is fine afterwards.
    assert run(ip, "%%imagegen -m offline/sketch --no-stream\nagain").result.success


def test_interrupt_cancels_non_streamed_requests_too(ip: InteractiveShell, server: LocalServer) -> None:
    server.faults.push(Fault("slow", delay=30))
    timer = threading.Timer(0.5, _thread.interrupt_main)
    started = time.monotonic()
    timer.start()
    try:
        cell = run(ip, "%%imagegen -m offline/sketch --no-stream\na slow fox")
    finally:
        timer.cancel()
    assert cell.result.success and "Stopped (cancelled after" in cell.outputs[-1].data["text/plain"]
    assert time.monotonic() - started < 10


def test_key_never_appears_anywhere(ip: InteractiveShell, server: LocalServer) -> None:
    server.faults.push(Fault("401", message=f"bad key {KEY}"))
    cells = [run(ip, "%%imagegen -m offline/sketch\na fox"), run(ip, "%imagegen config"),
             run(ip, "%%imagegen -m offline/sketch\nok")]
    for cell in cells:
        assert KEY not in cell.everything
        assert KEY not in repr(cell.result.result)


@pytest.mark.parametrize(("model", "suggested"), [
    ("dall-e-3", "openai/gpt-image-2"), ("midjourney", "black-forest-labs/flux.2-pro"),
    ("stable-diffusion", "bytedance-seed/seedream-4.5"),
])
def test_python_api_error_is_one_short_line_with_real_models(ip: InteractiveShell, model: str,
                                                             suggested: str) -> None:
    cell = run(ip, f"import jupyter_imagegen as ig\nig.generate('a fox', {model!r})")
    assert not cell.result.success
    assert isinstance(cell.result.error_in_exec, ig.NotFoundError)
    shown = cell.captured.stdout + cell.captured.stderr
    assert "Traceback" not in shown and "_client.py" not in shown and "requests" not in shown
    first, where = shown.strip().splitlines()
    assert first.endswith(f"NotFoundError\x1b[0m: unknown image model {model!r}. It is not an OpenRouter "
                          f"image model; try {first.split('try ', 1)[1]}")
    assert suggested in first and "%imagegen models" in first
    assert where.strip() == f"(at line 2: ig.generate('a fox', {model!r}))"


def test_full_tracebacks_come_back_with_short_errors_off(ip: InteractiveShell) -> None:
    run(ip, "%config ImageGenMagics.short_errors = False")
    cell = run(ip, "import jupyter_imagegen as ig\nig.generate('a fox', 'dall-e-3')")
    assert "Traceback" in cell.captured.stdout + cell.captured.stderr


def test_interrupting_key_entry_is_silent(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass

    def interrupted(prompt: str = "") -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(getpass, "getpass", interrupted)
    cell = run(ip, "%imagegen key")
    assert cell.result.success and cell.captured.stdout == cell.captured.stderr == ""
    assert cell.outputs == []
