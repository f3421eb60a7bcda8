"""On a real Raspberry Pi with a camera: ``pytest -m hardware tests/hardware``.

What the fake (tests/fakes/picamera2) cannot prove, checked against the real thing:
picamera2 imports in this venv, the camera is listed, the lores stride the driver really
uses (the fake's strides are inferred from driver code), the colour order (a YUV420
lores converted by edge and an RGB888 main stream must agree channel by channel), the
timestamps from ``SensorTimestamp``, a capture timeout that returns, and one full
``edge run`` through the shipped model. Point the camera at something colourful (not a
white wall) for the colour check. Needs nothing but the camera: no network.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.hardware


def import_picamera2() -> Any:
    """Imported when a hardware test runs, not at collection: a normal test run deselects
    these tests and should not report them as skipped."""
    return pytest.importorskip(
        "picamera2",
        reason="picamera2 is not importable here: on a "
        "Pi, `sudo apt install python3-picamera2` and a venv made with "
        "--system-site-packages",
    )


@pytest.fixture(scope="module")
def cameras() -> list[dict[str, object]]:
    picamera2 = import_picamera2()
    found = list(picamera2.Picamera2.global_camera_info())
    if not found:
        pytest.fail(
            "picamera2 lists no camera: check the ribbon cable and `rpicam-hello --list-cameras`"
        )
    print(f"platform {picamera2.Picamera2.platform}, cameras {found}")
    return found


def open_device(fmt: str, lores: tuple[int, int] = (320, 240)) -> object:
    from edge.sources.picamera import open_picamera2

    return open_picamera2(
        camera=0,
        main=(640, 480),
        lores=lores,
        fps=30,
        pixel_format=fmt,
        buffer_count=4,
        capture_timeout=2.0,
        keep_full=True,
    )


def formats() -> list[str]:
    vc4 = str(import_picamera2().Picamera2.platform).upper().endswith("VC4")
    return ["yuv420"] if vc4 else ["yuv420", "rgb"]


@pytest.mark.parametrize("fmt", ["yuv420", "rgb"])
@pytest.mark.parametrize("lores", [(320, 240), (300, 300), (96, 96)])
def test_lores_frames_and_colour_order(cameras: object, fmt: str, lores: tuple[int, int]) -> None:
    import cv2

    if fmt not in formats():
        pytest.skip("a Pi 4 and earlier (VC4) gives lores only in YUV")
    device = open_device(fmt, lores)
    try:
        camera = device._camera  # type: ignore[attr-defined]
        stream = camera.stream_configuration("lores")
        print(f"{fmt} lores {stream['size']} stride {stream['stride']}")
        captures = [device.read() for _ in range(10)]  # type: ignore[attr-defined]
    finally:
        device.release()  # type: ignore[attr-defined]
    assert all(c is not None for c in captures), "a capture timed out"
    last = captures[-1]
    assert last.image.shape == (lores[1], lores[0], 3)
    assert last.full.shape == (480, 640, 3)
    # Same moment, two streams: lores (converted by edge) and main (RGB888 = B,G,R) must
    # agree per channel. Swapped red and blue would make them disagree on any colourful
    # scene; the lores squeezes main's field of view to its own aspect, as the ISP does.
    small = cv2.resize(last.full, lores, interpolation=cv2.INTER_AREA).astype(np.float64)
    image = last.image.astype(np.float64)
    for channel in range(3):
        same = np.corrcoef(image[:, :, channel].ravel(), small[:, :, channel].ravel())[0, 1]
        assert same > 0.8, f"channel {channel} differs between lores and main ({same:.2f})"
    swapped = np.corrcoef(image[:, :, 0].ravel(), small[:, :, 2].ravel())[0, 1]
    print(f"B-vs-R correlation {swapped:.2f} (a colourful scene keeps this well below 1)")
    stamps = [c.timestamp for c in captures]
    assert all(b > a for a, b in itertools.pairwise(stamps))
    assert abs(time.time() - stamps[-1]) < 1.0


def test_capture_timeout_returns(cameras: object) -> None:
    """Holding every buffer starves the camera: the capture must time out, not hang."""
    picamera2 = import_picamera2()
    device = open_device(formats()[0])
    camera = device._camera  # type: ignore[attr-defined]
    held = []
    try:
        start = time.monotonic()
        with pytest.raises(picamera2.TimeoutError):
            for _ in range(16):
                held.append(camera.capture_request(wait=1.0))
        assert time.monotonic() - start < 20
        print(f"{len(held)} requests held before the timeout")
    finally:
        for request in held:
            request.release()
        camera.cancel_all_and_flush()
        device.release()  # type: ignore[attr-defined]


def _edge_run(folder: Path, *args: str) -> tuple[str, list[dict[str, Any]]]:
    """``edge run --source picamera2 --max-frames 30`` in ``folder``: its last log line
    (the run's figures) and its records."""
    command = [sys.executable, "-c", "from edge.cli import entry; entry()", "run", *args]
    done = subprocess.run(
        [*command, "--source", "picamera2", "--max-frames", "30", "--sink", "jsonl:pi.jsonl"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in (folder / "pi.jsonl").read_text().splitlines()]
    assert len(records) == 30
    return done.stderr.strip().splitlines()[-1], records


def test_edge_run_on_the_camera(cameras: object, tmp_path: Path) -> None:
    last, records = _edge_run(tmp_path)
    assert records[0]["source"]["name"] == "picamera2:0"
    print(last)


def test_the_detector_and_its_second_stage_on_the_camera(cameras: object, tmp_path: Path) -> None:
    """The detector with ``[refine]``: the main stream kept beside lores (on a Pi 4 a
    second ISP output, on a Pi 5 the PiSP's) and cropped per unsure box, at the camera's
    own pace. Prints the run's figures: compare the fps with a run without ``[refine]``."""
    from edge.model.zoo import zoo_file

    (tmp_path / "edge.toml").write_text(
        f"[model]\npath = {json.dumps(str(zoo_file('digits-detector.int8.tflite')))}\n"
        f"[refine]\npath = {json.dumps(str(zoo_file('digits-crops.int8.tflite')))}\n"
        "below_score = 1\n"  # every box: the stage's full cost
    )
    last, _ = _edge_run(tmp_path, "--config", "edge.toml")
    print(last)
