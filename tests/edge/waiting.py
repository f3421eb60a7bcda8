"""Waiting for what a test assumes, not for an amount of wall time.

A condition is polled until it holds; the bound is one only a broken run reaches, so a
slow or loaded machine makes a test longer, never red. A watched process that exits
meanwhile fails the wait at once, with what it wrote (``detail``).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def wait_for(
    predicate: Callable[[], Any],
    timeout: float,
    what: str,
    interval: float = 0.05,
    *,
    process: subprocess.Popen[Any] | None = None,
    detail: Callable[[], str] = str,
) -> Any:
    """``predicate()``'s first true value, polled every ``interval`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(
                f"the process exited ({process.returncode}) while waiting for {what}:\n{detail()}"
            )
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}:\n{detail()}")
        time.sleep(interval)


def wait_for_log(
    process: subprocess.Popen[Any], stderr: Path, text: str, timeout: float = 60
) -> None:
    """Until ``text`` is in the file the process writes its log to."""
    wait_for(
        lambda: text in stderr.read_text(),
        timeout,
        f"{text!r} in the log",
        process=process,
        detail=stderr.read_text,
    )


def complete_records(path: Path) -> list[dict[str, Any]]:
    """The JSON Lines records of ``path`` so far; a line still being written is left out."""
    text = path.read_text() if path.exists() else ""
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def wait_for_records(
    path: Path,
    count: int,
    *,
    timeout: float = 30,
    keep: Callable[[dict[str, Any]], bool] = lambda _: True,
    process: subprocess.Popen[Any] | None = None,
    detail: Callable[[], str] = str,
) -> list[dict[str, Any]]:
    """Until ``path`` holds ``count`` (at least 1) complete records that ``keep`` accepts;
    returns all of them."""

    def enough() -> list[dict[str, Any]] | None:
        found = complete_records(path)
        return found if sum(map(keep, found)) >= count else None

    records: list[dict[str, Any]] = wait_for(
        enough, timeout, f"{count} records in {path}", process=process, detail=detail
    )
    return records
