"""The hostile-input corpus (``tests/edge/hostile_cases.py``), run in this process.

For every row, ``edge run`` and ``edge check-config`` give the row's exit code (the same
one), name the key or file, and print no traceback and no flood of errors.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli import main
from tests.edge.hostile_cases import CASES, Case, prepare

MAX_STDERR = 4000  # a 100,000-item list once gave 6 MB of errors


def _edge(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(args)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_input(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    prepare(case, tmp_path)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for args in (case.run_args(), case.check_args()):
            if args is None:
                continue
            code, err = _edge(args, capsys)
            assert code == case.exit_code, f"{args}: {err}"
            assert case.fragment in err, f"{args}: {err}"
            assert "Traceback" not in err and len(err) < MAX_STDERR, f"{args}: {err[:500]}"
            assert "fix:" in err or "error:" in err
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def test_inspect_json_into_a_closed_pipe_prints_no_traceback(tmp_path: Path) -> None:
    """``edge inspect --json | head -c 10`` printed a BrokenPipeError about 1 run in 5."""
    model = Path(__file__).resolve().parents[2] / "models/zoo/digits-cnn.int8.tflite"
    for _ in range(5):
        done = subprocess.run(
            f"{sys.executable} -c 'from edge.cli import entry; entry()' inspect --json "
            f"{model} | head -c 10",
            shell=True,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert len(done.stdout) == 10
        assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
