"""Running the Node subproject's scripts (``tests/conformance/node``) and reading their reports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from conf_wire import KEY

NODE_DIR = Path(__file__).parent / "node"


def run_node(node_dir: Path, script: str, base_url: str, *args: str, out_dir: Path,
             timeout: float = 120, key: str = KEY) -> dict[str, Any]:
    """Run ``script`` (guarded to loopback) and return the JSON report it prints last.

    ``args`` names the cases to run (none: all); ``key`` is the bearer key the clients send.
    """
    env = {**os.environ, "OR_BASE_URL": base_url, "OR_KEY": key, "OR_OUT_DIR": str(out_dir),
           "NODE_NO_WARNINGS": "1"}
    node = shutil.which("node")
    assert node is not None
    done = subprocess.run([node, "--import", "./guard.mjs", script, *args], cwd=node_dir,
                          env=env, capture_output=True, text=True, timeout=timeout, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"{script} printed no report (exit {done.returncode}):\n{done.stderr[-4000:]}"
    report: dict[str, Any] = json.loads(lines[-1])
    return report
