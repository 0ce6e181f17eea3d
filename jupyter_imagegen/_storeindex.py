"""Reading store index lines: a foreign or damaged record is skipped, never fatal.

Why: one record with ``created: 1e20``, ``NaN`` or non-dict params broke every store operation,
and index paths outside the store (``../x.png``, absolute ones) were listed and put in galleries.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

__all__ = ["parse_lines"]


def parse_lines(lines: Sequence[bytes]) -> list[dict[str, Any]]:
    """Well-formed records only: blank, torn or foreign lines are skipped, never fatal."""
    out = []
    for raw in lines:
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: foreign JSON nested very deep
            continue
        if _well_formed(record):
            out.append(record)
    return out


def _number(value: Any, low: float, high: float) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and low <= value <= high)


def _inside(path: str) -> bool:
    """A relative path that stays inside the store (no ``..``, no absolute path, no NUL)."""
    pure = PurePosixPath(path.replace("\\", "/"))
    return (bool(path) and "\0" not in path and not pure.is_absolute() and ".." not in pure.parts
            and not PureWindowsPath(path).drive)


def _well_formed(record: Any) -> bool:
    """A record the store can use without raising: foreign or damaged ones are skipped."""
    if not isinstance(record, dict):
        return False
    try:
        return (isinstance(record.get("path"), str) and _inside(record["path"])
                and _number(record.get("created"), 0, 253402300799)  # up to 9999-12-31
                and isinstance(record.get("prompt"), str) and isinstance(record.get("model"), str)
                and isinstance(record.get("params", {}), dict)
                and (record.get("cost") is None or _number(record["cost"], -1e12, 1e12))
                and _number(record.get("index", 0), 0, 1 << 31)
                and isinstance(record.get("index", 0), int)
                and all(record.get(k) is None or (_number(record[k], 0, 1 << 31)
                                                  and isinstance(record[k], int))
                        for k in ("width", "height"))
                and all(record.get(k) is None or isinstance(record[k], str)
                        for k in ("mime", "sha256", "generation_id")))
    except (TypeError, ValueError, OverflowError):
        return False
