"""The Pi camera path through the picamera2 fake (tests/fakes/picamera2, faithful to
picamera2 0.3.36 as documented in shared/notes/picamera2.md): RGB and YUV420 lores on
Pi 5 (PiSP) and Pi 4 (VC4) strides, colour order checked on the model input, camera
selection, reconnection, and every error a user meets."""

from __future__ import annotations

import os
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import numpy as np
import pytest

from edge.config.sources import SourceConfig
from edge.errors import ConfigError, SourceError
from edge.model.manifest import InputSpec
from edge.processing.preprocess import Preprocessor
from edge.sources import open_source, parse_source_spec
from edge.sources.live import LiveSource
from edge.sources.picamera import PiCamera2Device, lores_size
from edge.types import Frame, TensorSpec
from tests.conftest import RunEdge, read_jsonl

REPO = Path(__file__).resolve().parents[3]
FAKES = REPO / "tests" / "fakes"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """``import picamera2`` gets the fake for this test only."""
    monkeypatch.syspath_prepend(str(FAKES))
    for name in ("picamera2", "libcamera"):
        sys.modules.pop(name, None)
    import picamera2

    yield picamera2
    for name in ("picamera2", "libcamera"):
        sys.modules.pop(name, None)


def camera_config(**fields: object) -> SourceConfig:
    from edge.config.load import load_config

    return load_config(None, {"source": {"kind": "picamera2", **fields}}).source


def open_camera(
    input_size: tuple[int, int], resize: str = "stretch", **fields: object
) -> LiveSource:
    source = open_source(
        camera_config(**fields),
        input_size=input_size,
        input_resize=resize,
        keep_full=True,
    )
    assert isinstance(source, LiveSource)  # the Pi camera reconnects: a live source
    return source


def camera_of(source: LiveSource) -> Any:
    """The (fake) ``Picamera2`` behind an open Pi camera source."""
    device = source._device
    assert isinstance(device, PiCamera2Device)
    return device._camera


def frames_of(source: LiveSource) -> Generator[Frame, None, None]:
    """``iter(source)``: a generator, whose ``close()`` ends the capture thread."""
    frames = iter(source)
    assert isinstance(frames, Generator)
    return frames


# Red, green, blue thirds (the fake's "bars" scene) as BGR, as a frame must hold them.
BGR_BARS = [(0, 0, 255), (0, 255, 0), (255, 0, 0)]


def rgb_model_input(image: np.ndarray) -> np.ndarray:
    """What the real preprocessor feeds an RGB float model for this frame."""
    spec = InputSpec(
        width=image.shape[1],
        height=image.shape[0],
        channels=3,
        colour="rgb",
        resize="stretch",
        scale=1.0,
        offset=0.0,
    )
    tensor = TensorSpec("input", 0, (1, image.shape[0], image.shape[1], 3), "float32")
    values, _ = Preprocessor(spec, tensor)(image)
    return np.asarray(values[0])


@pytest.mark.parametrize(
    ("platform", "fmt", "size", "stride"),
    [
        ("PISP", "rgb", (320, 240), 960),  # Pi 5: RGB888 lores, B,G,R in memory
        ("PISP", "yuv420", (320, 240), 384),  # Pi 5: a 320-wide YUV420 comes back 384 wide
        ("PISP", "auto", (300, 300), 960),  # auto on Pi 5 = RGB
        ("VC4", "auto", (320, 240), 320),  # Pi 4: lores must be YUV420
        ("VC4", "yuv420", (300, 300), 320),  # Pi 4: 300 wide padded to 320
    ],
)
def test_lores_frames_have_the_right_colours_on_the_model_input(  # noqa: PLR0917
    fake: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    platform: str,
    fmt: str,
    size: tuple[int, int],
    stride: int,
) -> None:
    monkeypatch.setattr(fake.Picamera2, "platform", fake.Platform[platform])
    source = open_camera(size, format=fmt, width=640, height=480)
    frames = frames_of(source)
    frame = next(frames)
    camera = camera_of(source)
    assert camera.camera_config["lores"]["stride"] == stride
    assert frame.image.shape == (size[1], size[0], 3)
    assert frame.full is not None and frame.full.shape == (480, 640, 3)
    w = size[0]
    for third, bgr in enumerate(BGR_BARS):
        x = w * third // 3 + w // 6  # the middle of each bar, away from chroma edges
        np.testing.assert_allclose(frame.image[size[1] // 2, x], bgr, atol=3)
        np.testing.assert_allclose(frame.full[240, 640 * third // 3 + 100], bgr, atol=0)
    model_input = rgb_model_input(frame.image)
    red, blue = model_input[:, w // 6], model_input[:, w - w // 6]
    assert red[:, 0].min() > 250 and red[:, 2].max() < 5  # channel 0 is red for an RGB model
    assert blue[:, 2].min() > 250 and blue[:, 0].max() < 5
    # The stride padding (junk in the fake, as on a Pi) was cropped, not shown as pixels.
    np.testing.assert_allclose(frame.image[:, -1], np.tile(BGR_BARS[2], (size[1], 1)), atol=3)
    source.close()
    frames.close()  # the iterating thread releases the camera
    assert not camera.is_open


def test_rgb_lores_on_a_pi4_is_a_config_error(
    fake: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fake.Picamera2, "platform", fake.Platform.VC4)
    with pytest.raises(ConfigError, match="only in YUV"):
        open_camera((320, 240), format="rgb")


def test_timestamps_come_from_the_sensor(fake: ModuleType) -> None:
    import time

    source = open_camera((64, 48), fps=50)
    frames = iter(source)
    a, b = next(frames), next(frames)
    assert 0.015 < b.timestamp - a.timestamp < 0.2  # one or more 20 ms frame periods
    assert abs(time.time() - b.timestamp) < 1
    source.close()


def test_a_sensor_that_stops_is_reopened(fake: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_FRAMES", "3")
    source = open_camera(
        (64, 48),
        fps=100,
        capture_timeout=0.1,
        stall_timeout=0.2,
        reconnect_delay=0.02,
        reconnect_delay_max=0.05,
    )
    frames = []
    for frame in source:
        frames.append(frame)
        if len(frames) == 8:
            health = source.health()
            break
    source.close()
    # 3 sensor frames per opening, fewer delivered when the newest-frame queue skips one.
    assert health.reconnects >= 2 and health.state == "running"
    assert [f.index for f in frames] == list(range(8))


def test_camera_by_model_name(fake: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_CAMERAS", "imx708,imx296")
    source = open_camera((64, 48), camera="IMX296")
    assert camera_of(source)._num == 1
    source.close()
    with pytest.raises(
        SourceError,
        match=r"no camera with model 'imx477'; cameras found: "
        r"0: imx708, 1: imx296",
    ):
        open_camera((64, 48), camera="imx477")
    with pytest.raises(SourceError, match="camera index 2 does not exist"):
        open_camera((64, 48), camera=2)


def test_no_camera_and_busy_camera(fake: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_CAMERAS", "")
    with pytest.raises(SourceError, match="no Raspberry Pi camera was found") as info:
        open_camera((64, 48))
    assert "rpicam-hello --list-cameras" in str(info.value)
    monkeypatch.setenv("FAKE_PICAMERA2_CAMERAS", "imx708")
    monkeypatch.setenv("FAKE_PICAMERA2_BUSY", "1")
    with pytest.raises(SourceError, match="Device or resource busy") as info:
        open_camera((64, 48))
    assert "another program holds the camera" in str(info.value)


@pytest.mark.parametrize(
    ("model", "main", "resize", "expected"),
    [
        ((96, 96), (1280, 720), "stretch", (96, 96)),
        ((96, 96), (1280, 720), "letterbox", (172, 96)),  # 16:9 kept, no squeeze
        ((28, 28), (640, 480), "crop", (38, 28)),
        ((227, 227), (640, 480), "stretch", (228, 228)),  # rounded up to even
        ((640, 640), (640, 480), "stretch", (640, 480)),  # never larger than main
    ],
)
def test_lores_size(
    model: tuple[int, int], main: tuple[int, int], resize: str, expected: tuple[int, int]
) -> None:
    assert lores_size(model, main, resize) == expected


@pytest.mark.parametrize(
    ("spec", "camera"),
    [
        ("picamera2", 0),
        ("picamera2:1", 1),
        ("picamera2:imx708", "imx708"),
    ],
)
def test_picamera2_specs(spec: str, camera: object) -> None:
    assert parse_source_spec(spec) == {"kind": "picamera2", "camera": camera}


def fake_env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join([str(FAKES), str(REPO), os.environ.get("PYTHONPATH", "")])
    return {"PYTHONPATH": path, **extra}


@pytest.mark.parametrize("platform", ["pisp", "vc4"])
def test_edge_run_on_the_pi_camera(
    run_edge: RunEdge,
    tmp_path: Path,
    platform: str,
    result_validator: jsonschema.Draft202012Validator,
) -> None:
    done = run_edge(
        ["run", "--source", "picamera2", "--max-frames", "5", "--sink", "jsonl:pi.jsonl"],
        env=fake_env(FAKE_PICAMERA2_PLATFORM=platform, FAKE_PICAMERA2_SCENE="digits:1"),
    )
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "pi.jsonl")
    assert len(records) == 5
    for record in records:
        result_validator.validate(record)
        # The digits CNN takes 28x28 with a centre crop: lores keeps main's 16:9.
        assert record["source"] == {
            "name": "picamera2:0",
            "frame": record["source"]["frame"],
            "width": 50,
            "height": 28,
        }


def test_no_picamera2_installed(run_edge: RunEdge) -> None:
    done = run_edge(["run", "--source", "picamera2", "--max-frames", "1"])
    assert done.returncode == 78
    assert "the picamera2 source needs the picamera2 package" in done.stderr
    assert "sudo apt install python3-picamera2" in done.stderr
    assert "--system-site-packages" in done.stderr


def test_no_camera_attached(run_edge: RunEdge) -> None:
    done = run_edge(
        ["run", "--source", "picamera2", "--max-frames", "1"],
        env=fake_env(FAKE_PICAMERA2_CAMERAS=""),
    )
    assert done.returncode == 1
    assert "error: no Raspberry Pi camera was found" in done.stderr


def test_the_fake_starves_when_every_buffer_is_held(fake: ModuleType) -> None:
    camera = fake.Picamera2(0)
    camera.configure(camera.create_video_configuration(buffer_count=2, raw=None))
    camera.start()
    held = [camera.capture_request(wait=1.0), camera.capture_request(wait=1.0)]
    with pytest.raises(fake.TimeoutError):
        camera.capture_request(wait=0.2)
    held[0].release()
    with pytest.raises(RuntimeError, match="negative ref_count"):
        held[0].release()
    with pytest.raises(RuntimeError, match="is not defined"):
        held[0].make_array("main")
    camera.cancel_all_and_flush()  # else the timed-out job swallows the next frame
    held.append(camera.capture_request(wait=1.0))
    camera.close()


def test_the_on_pi_check_runs_against_the_fake(tmp_path: Path) -> None:
    """tests/hardware is meant for a real Pi; running it here keeps it from rotting."""
    import subprocess

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-m",
            "hardware",
            "-p",
            "no:cacheprovider",
            str(REPO / "tests" / "hardware"),
        ],
        cwd=tmp_path,
        env={**os.environ, **fake_env()},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "9 passed" in done.stdout


def test_odd_lores_sizes_are_rounded_down_by_picamera2(fake: ModuleType) -> None:
    source = open_camera((64, 48), lores_width=63, lores_height=48)
    frames = frames_of(source)
    assert next(frames).image.shape == (48, 62, 3)
    source.close()
    frames.close()


def test_lores_larger_than_main_is_a_config_error(fake: ModuleType) -> None:
    with pytest.raises(ConfigError, match="larger than the main stream"):
        open_camera((64, 48), width=640, height=480, lores_width=800, lores_height=600)


def test_detector_on_the_pi_camera_snapshots_the_main_stream(
    run_edge: RunEdge, tmp_path: Path
) -> None:
    detector = REPO / "models" / "zoo" / "digits-detector.int8.tflite"
    done = run_edge(
        [
            "run",
            "--source",
            "picamera2",
            "--model",
            str(detector),
            "--max-frames",
            "10",
            "--sink",
            "jsonl:d.jsonl",
            "--snapshot-dir",
            "shots",
        ],
        env=fake_env(FAKE_PICAMERA2_SCENE="digits:3"),
    )
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "d.jsonl")
    # The detector letterboxes 96x96: lores keeps main's 16:9 at 96 px high.
    assert {(r["source"]["width"], r["source"]["height"]) for r in records} == {(172, 96)}
    assert any(r["detections"] for r in records)
    shots = list((tmp_path / "shots").glob("*.jpg"))
    assert shots
    import cv2

    shot = cv2.imread(str(shots[0]))
    assert shot is not None and shot.shape == (720, 1280, 3)  # the main stream, not lores
