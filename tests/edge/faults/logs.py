"""Read every file of a rotated JSON Lines log (plain and gzip) for the fault tests."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any


def log_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + "*"))


def all_lines(path: Path) -> list[bytes]:
    """Every line of the log and its rotated files; fails on a line with no newline."""
    lines: list[bytes] = []
    for file in log_files(path):
        data = gzip.decompress(file.read_bytes()) if file.suffix == ".gz" else file.read_bytes()
        assert not data or data.endswith(b"\n"), f"{file.name} ends in a torn line"
        lines.extend(data.splitlines())
    return lines


def parse_all(path: Path) -> list[dict[str, Any]]:
    """Parse every line; a line that is not one JSON object fails the test with its text."""
    records = []
    for line in all_lines(path):
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise AssertionError(f"unreadable line {line[:120]!r}: {exc}") from None
        assert isinstance(record, dict), line
        records.append(record)
    return records
