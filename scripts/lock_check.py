"""Compare the packages installed in this Python environment with a lock file.

    python scripts/lock_check.py requirements/dev.lock           exit 1 on any difference
    python scripts/lock_check.py requirements/dev.lock --report  list differences, exit 0

The gate (``scripts/test.sh``) installs with the lock as a constraints file, which fixes
the version of every package it installs but says nothing of a package the lock does not
name: a dependency added to ``pyproject.toml`` without refreshing the lock would float to
whatever pip picks that day. This check closes that gap. ``--report`` is for
``scripts/test.sh --latest``, to show which releases the drift run tests beyond the lock.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import sys
from pathlib import Path

# The project under test is installed from the working tree, not pinned by the lock.
PROJECT = "edge-infer"


def normalise(name: str) -> str:
    """PEP 503 name normalisation: ``Foo_Bar.baz`` and ``foo-bar-baz`` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep:
            raise SystemExit(f"{path}: {line!r} is not an exact pin (name==version)")
        pins[normalise(name)] = version.split(";", 1)[0].strip()
    return pins


def installed() -> dict[str, str]:
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[normalise(name)] = dist.version
    return found


def differences(pins: dict[str, str], present: dict[str, str]) -> list[str]:
    lines = []
    for name, version in sorted(present.items()):
        if name == PROJECT:
            continue
        if name not in pins:
            lines.append(f"{name}=={version} is installed but not pinned by the lock")
        elif pins[name] != version:
            lines.append(f"{name}=={version} is installed; the lock pins {pins[name]}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lock", type=Path)
    parser.add_argument(
        "--report",
        action="store_true",
        help="print the differences and exit 0 (for the --latest run)",
    )
    args = parser.parse_args()
    found = differences(read_lock(args.lock), installed())
    for line in found:
        print(f"  {line}")
    if args.report:
        if not found:
            print("  none: the newest releases are the locked ones")
        return 0
    if found:
        print(
            f"error: this environment does not match {args.lock}. If pyproject.toml's "
            "dependencies changed, refresh the lock with `bash scripts/lock.sh`; if the "
            "venv holds leftovers, delete it (`rm -rf .venv`) and run the tests again.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
