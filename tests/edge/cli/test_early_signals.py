"""Signals in the first moments of ``edge run`` (edge.cli.early): SIGHUP never stops
it, SIGTERM and SIGINT stop it cleanly (no traceback; SIGTERM exit 0, SIGINT 0 once the
run's own handler is in place, 130 before), never by the signal itself. Real processes:
the real ``edge`` console script."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

EDGE = Path(sys.executable).parent / "edge"
EXPECTED: dict[signal.Signals, set[int] | None] = {
    signal.SIGHUP: None,
    signal.SIGTERM: {0},
    signal.SIGINT: {0, 130},
}


@pytest.mark.skipif(not EDGE.is_file(), reason="no edge console script beside this Python")
@pytest.mark.parametrize("delay", [0.3, 1.0])
@pytest.mark.parametrize("sig", list(EXPECTED), ids=lambda s: signal.Signals(s).name)
def test_a_signal_early_in_the_start(tmp_path: Path, sig: signal.Signals, delay: float) -> None:
    process = subprocess.Popen(
        [str(EDGE), "run", "--max-frames", "30", "--sink", "jsonl:d.jsonl"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    assert process.returncode >= 0, f"ended by {signal.Signals(-process.returncode).name}"
    assert "Traceback" not in err, err
    expected = EXPECTED[sig]
    if expected is None:  # SIGHUP: the run goes on to its 30 frames
        assert process.returncode == 0, err
        assert len((tmp_path / "d.jsonl").read_text().splitlines()) == 30
    else:
        assert process.returncode in expected, err
