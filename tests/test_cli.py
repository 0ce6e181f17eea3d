"""The ``jupyter-imagegen`` command line: serve, demo, models, generate."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from PIL import Image
from wire_helpers import ipv6_loopback as _ipv6_loopback

from jupyter_imagegen._cli import main
from jupyter_imagegen.server import LocalServer

REPO = Path(__file__).resolve().parents[1]


def _serve(*args: str) -> tuple[subprocess.Popen[str], str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from jupyter_imagegen._cli import main; "
         "sys.exit(main(sys.argv[1:]))", "serve", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.match(r"Serving OpenRouter-compatible API at (http://(?:127\.0\.0\.1|\[::1\]):\d+"
                     r"/api/v1)$", line.strip())
    assert match, line
    banner = line
    while "Ctrl+C" not in line:
        line = proc.stdout.readline()
        banner += line
    return proc, match.group(1), banner


def _stop(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    return proc.returncode, out, err


def test_serve_prints_url_and_serves() -> None:
    proc, base, banner = _serve("--port", "0", "--fault", "429,retry_after=1", "--no-aliases")
    try:
        body = {"model": "offline/sketch", "messages": [{"role": "user", "content": "a sun"}],
                "modalities": ["image", "text"]}
        first = requests.post(f"{base}/chat/completions", json=body, timeout=30)
        assert first.status_code == 429
        assert first.headers["Retry-After"] == "1"
        second = requests.post(f"{base}/chat/completions", json=body, timeout=30)
        assert second.status_code == 200
        assert second.json()["choices"][0]["message"]["images"]
        ids = {m["id"] for m in requests.get(f"{base}/models", timeout=10).json()["data"]}
        assert "google/gemini-2.5-flash-image" not in ids
    finally:
        code, out, err = _stop(proc)
    assert code == 0
    assert f"OPENROUTER_BASE_URL={base}" in banner
    assert "Stopped." in out
    assert err == ""  # quiet: no per-request log lines


def test_serve_with_key_and_bad_options() -> None:
    proc, base, banner = _serve("--api-key", "sk-or-v1-cli")
    try:
        r = requests.get(f"{base}/key", timeout=10)
        assert r.status_code == 401
        r = requests.get(f"{base}/key", headers={"Authorization": "Bearer sk-or-v1-cli"},
                         timeout=10)
        assert r.status_code == 200
    finally:
        _code, out, err = _stop(proc)
    # The key is never echoed (scrollback, logs, screenshots); the banner says what to export.
    assert "sk-or-v1-cli" not in banner + out + err
    assert "export OPENROUTER_API_KEY=<the key you passed to --api-key>" in banner


def test_serve_without_key_suggests_any_key() -> None:
    proc, _base, banner = _serve()
    _stop(proc)
    assert "export OPENROUTER_API_KEY=anything" in banner


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_serve_ipv6_loopback() -> None:
    proc, base, banner = _serve("--host", "::1")
    try:
        assert base.startswith("http://[::1]:")
        assert requests.get(f"{base}/models", timeout=10).status_code == 200
    finally:
        code, _out, err = _stop(proc)
    assert code == 0, err
    assert f"OPENROUTER_BASE_URL={base}" in banner


def test_serve_rejects_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: refusing to bind '0.0.0.0'")
    assert "--allow-remote" in err  # the CLI's flag, not the Python keyword
    assert "allow_remote=" not in err
    assert main(["serve", "--fault", "teapot"]) == 2
    assert "unknown fault kind" in capsys.readouterr().err
    assert main(["serve", "--fault", "429,retry_after=abc"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid --fault '429,retry_after=abc': ")
    assert "'retry_after' must be a number" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("port", ["99999", "-5", "65536", "http"])
def test_serve_port_is_checked_by_argparse(port: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--port", port])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --port: invalid port" in err
    assert "Traceback" not in err


def test_remote_bind_is_allowed_with_the_flag(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from jupyter_imagegen.server import LocalServer as Server

    seen = {}

    def no_serving(self: Server) -> None:
        seen["host"] = self.host
        raise KeyboardInterrupt

    monkeypatch.setattr(Server, "serve_forever", no_serving)
    monkeypatch.setattr(Server, "start", lambda self: self)
    monkeypatch.setattr(Server, "base_url", property(lambda self: "http://0.0.0.0:1/api/v1"))
    assert main(["serve", "--host", "0.0.0.0", "--allow-remote", "--key", "k"]) == 0
    assert seen == {"host": "0.0.0.0"}
    assert "Stopped." in capsys.readouterr().out


def test_models_command(shared_server: LocalServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--base-url", shared_server.base_url]) == 0
    out = capsys.readouterr().out
    assert "offline/poster" in out
    assert "image-only" in out
    assert "offline/chat" not in out
    assert "openrouter/auto" not in out


def test_generate_command(shared_server: LocalServer, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["generate", "three red stars", "-m", "offline/sketch", "--aspect-ratio", "16:9",
                 "--seed", "4", "-o", str(tmp_path), "--stream",
                 "--base-url", shared_server.base_url])
    out = capsys.readouterr().out
    assert code == 0, out
    (saved,) = tmp_path.iterdir()
    assert Image.open(saved).size == (1344, 768)
    assert "Here is" in out
    assert str(saved) in out
    assert shared_server.requests[-1].json["stream"] is True
    # The offline server's prices are simulated: say so next to the cost.
    assert re.search(r"cost \$\d+\.\d{4} \(simulated\), id gen-", out), out


def test_generate_checks_the_output_folder_first(server: LocalServer, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    code = main(["generate", "x", "-m", "offline/sketch", "-o", str(a_file),
                 "--base-url", server.base_url])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err == f"error: output folder {str(a_file)!r} exists and is not a folder\n"
    assert not [r for r in server.requests if r.path.endswith("/chat/completions")]  # not spent
    code = main(["generate", "x", "-m", "offline/sketch", "-o", str(a_file / "sub"),
                 "--base-url", server.base_url])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(f"error: cannot create output folder {str(a_file / 'sub')!r}: ")
    assert "Traceback" not in err
    assert not server.generations
    # A folder that does not exist yet is created (parents too) and used.
    target = tmp_path / "new" / "deeper"
    assert main(["generate", "x", "-m", "offline/sketch", "-o", str(target),
                 "--base-url", server.base_url]) == 0
    assert len(list(target.iterdir())) == 1


def test_demo_out_under_a_file_is_a_clear_error(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    out = a_file / "demo"
    assert main(["demo", "--out", str(out), "--notebook",
                 str(REPO / "notebooks" / "quickstart.ipynb")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot create output folder {str(out)!r}: ")
    assert "Traceback" not in err


def test_main_turns_os_errors_into_messages(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from jupyter_imagegen import _cli

    def broken(_args: object) -> int:
        raise PermissionError(13, "Permission denied", "/somewhere")

    monkeypatch.setattr(_cli, "_models", broken)
    assert main(["models"]) == 1
    assert capsys.readouterr().err == "error: [Errno 13] Permission denied: '/somewhere'\n"


def test_generate_errors_are_short(shared_server: LocalServer, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["generate", "x", "-m", "offline/chat", "-o", str(tmp_path),
                 "--base-url", shared_server.base_url])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: ")
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_quickstart_notebook_is_clean() -> None:
    nb = json.loads((REPO / "notebooks" / "quickstart.ipynb").read_text())
    assert nb["nbformat"] == 4
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    source = "".join("".join(c["source"]) for c in code)
    assert "ig.generate(" in source
    assert "ig.models()" in source
    assert ".save(" in source
    assert "sk-or-v1" not in source


@pytest.mark.slow
def test_demo_runs_the_quickstart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-real-key-must-not-leak")
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter_imagegen._cli", "demo", "--out", str(out),
         "--notebook", str(REPO / "notebooks" / "quickstart.ipynb")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # The kernel's own stderr (newer kernels warn about loopback TCP there) goes to a log.
    assert "without encryption" not in proc.stdout + proc.stderr
    assert (out / "kernel.log").is_file()
    executed = out / "quickstart.ipynb"
    assert executed.is_file()
    # Light enough to share: every image a preview, bare PIL images too (was 5.1 MB, issue 22).
    assert executed.stat().st_size < 300 * 1024, executed.stat().st_size
    assert (out / "quickstart.html").is_file()
    images = sorted(p for p in out.glob("cell*.*") if p.suffix in (".png", ".jpg", ".webp"))
    assert len(images) >= 3
    assert Image.open(images[0]).size[0] >= 512
    text = executed.read_text()
    assert "sk-or-v1-real-key-must-not-leak" not in text
    assert "sk-or-v1-real-key-must-not-leak" not in (out / "quickstart.html").read_text()
    assert "Executed notebook" in proc.stdout


@pytest.mark.slow
def test_demo_reports_a_failing_cell(tmp_path: Path) -> None:
    pytest.importorskip("nbclient")
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("raise RuntimeError('boom')")]
    path = tmp_path / "bad.ipynb"
    nbformat.write(nb, path)
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter_imagegen._cli", "demo", "--out", str(tmp_path / "o"),
         "--notebook", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "error: a notebook cell failed" in proc.stderr
    assert "boom" in proc.stderr
