"""The device runtime never imports TensorFlow, Keras or the converter.

A Pi installs no TensorFlow; if ``edge.cli`` or ``edge run`` imported it, the device
would crash at start. Checked in a fresh interpreter so this test session's own
TensorFlow imports cannot hide or cause a failure.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FORBIDDEN = ("tensorflow", "keras", "converter", "models", "tf_keras")

PROBE = """
import sys
from edge.cli import main
assert main(sys.argv[1:]) == 0
bad = sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r})
print('IMPORTED:' + ','.join(bad))
"""


def probe(args: list[str], cwd: Path) -> str:
    code = PROBE.format(forbidden=set(FORBIDDEN))
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_import_edge_cli_imports_no_tensorflow(tmp_path: Path) -> None:
    assert probe(["run", "--help"], tmp_path) == "IMPORTED:"


def test_edge_run_imports_no_tensorflow(tmp_path: Path) -> None:
    assert probe(["run", "--max-frames", "5"], tmp_path) == "IMPORTED:"
