"""The README's table of the shipped models ("## The shipped models"), read for the tests
that re-measure it (``test_readme_figures`` through the library, ``tests/edge/eval``
through ``edge eval``)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(
    r"^\| `(?P<model>digits-[a-z-]+)`[^|]*\| (?P<task>\w+) \| (?P<step>[\w-]+) "
    r"\| (?P<float>[^|]+)\| (?P<quantized>[^|]+)\| (?P<size>[^|]+)\|"
)
NUMBER = re.compile(r"\d[\d,]*(?:\.(\d+))?")
SHIPPED = {
    "digits-cnn",
    "digits-vit",
    "digits-detector",
    "digits-dcgan-generator",
    "digits-anomaly",
    "digits-crops",
}


def readme_rows() -> dict[str, dict[str, str]]:
    """One row per shipped model: model, task, step, float, quantized, size (the cells)."""
    section = README.read_text().split("## The shipped models", 1)[1].split("\n## ", 1)[0]
    rows = {m["model"]: m.groupdict() for line in section.splitlines() if (m := ROW.match(line))}
    assert set(rows) == SHIPPED, rows.keys()
    return rows


def first_number_text(text: str) -> str:
    """The first number of a cell as printed ("98.1", "2,163")."""
    found = NUMBER.search(text)
    assert found, text
    return found.group(0)


def first_number(text: str) -> tuple[float, float]:
    """The first number of a cell and the tolerance its rounding implies."""
    found = NUMBER.search(text)
    assert found, text
    decimals = len(found.group(1) or "")
    return float(found.group(0).replace(",", "")), 0.5 * 10.0**-decimals
