"""The config keys of the service: ``[service]`` and the synthetic camera's ``freeze_after``."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.sources.synthetic import SyntheticCamera
from tests.conftest import RunEdge


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[service]\nwatchdog_windw = 10\n",
            "unknown key 'watchdog_windw' in [service] (line 2); did you mean 'watchdog_window'?",
        ),
        (
            "[service]\nwatchdog_window = 0\n",
            "service.watchdog_window: Input should be greater than 0",
        ),
        (
            "[source]\nkind = 'synthetic'\nfreeze_after = -1\n",
            "source.freeze_after: Input should be greater than or equal to 0",
        ),
    ],
)
def test_bad_service_keys_exit_78(
    run_edge: RunEdge, tmp_path: Path, text: str, message: str
) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(text)
    done = run_edge(["check-config", str(config)])
    assert done.returncode == 78
    assert message in done.stderr


def test_frozen_camera_delivers_n_frames_then_blocks_until_closed() -> None:
    import threading

    camera = SyntheticCamera(fps=None, freeze_after=3)
    got: list[int] = []
    reader = threading.Thread(target=lambda: got.extend(f.index for f in camera))
    reader.start()
    reader.join(timeout=0.5)
    assert reader.is_alive() and got == [0, 1, 2]  # blocked after 3 frames, no error
    camera.close()
    reader.join(timeout=2)
    assert not reader.is_alive() and got == [0, 1, 2]
