"""MJPEG frames decoded at the size the model needs (``edge.sources.mjpeg``) and the
preprocessing buffer that is allocated once. Real OpenCV, real MJPG files, the shipped
detector; nothing here is timed (the gain is measured in docs/benchmarks.md)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.processing.preprocess import Preprocessor, prepare_pixels
from edge.sources.mjpeg import reduction
from edge.sources.opencv import VideoFile
from edge.sources.synthetic import SyntheticCamera
from edge.types import TensorSpec
from tests.conftest import RunEdge, read_jsonl
from tests.edge.processing.test_preprocess import spec

ZOO = Path(__file__).resolve().parents[3] / "models" / "zoo"
DETECTOR = ZOO / "digits-detector.int8.tflite"


def write_clip(
    path: Path, fourcc: str = "MJPG", frames: int = 12, size: tuple[int, int] = (640, 480)
) -> list[np.ndarray]:
    camera = SyntheticCamera(width=size[0], height=size[1], fps=None, seed=3, digit_count=2)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), 30.0, size)
    assert writer.isOpened()
    images: list[np.ndarray] = []
    for frame in camera:
        if len(images) == frames:
            break
        writer.write(frame.image)
        images.append(frame.image)
    writer.release()
    camera.close()
    return images


@pytest.mark.parametrize(
    ("frame", "model", "factor"),
    [
        ((640, 480), (96, 96), 4),  # the detector: 160x120 still covers 96x96
        ((640, 480), (28, 28), 8),  # the CNN
        ((640, 480), (320, 240), 2),
        ((640, 480), (321, 240), 1),  # 1/2 would be 1 px too narrow: full decode
        ((640, 480), None, 1),  # model size unknown: full decode
        ((1920, 1080), (300, 300), 2),
    ],
)
def test_reduction_keeps_at_least_the_models_input(
    frame: tuple[int, int], model: tuple[int, int] | None, factor: int
) -> None:
    assert reduction(frame, model) == factor


def test_mjpeg_file_is_decoded_reduced_and_drops_nothing(tmp_path: Path) -> None:
    clip = tmp_path / "clip.avi"
    originals = write_clip(clip)
    source = VideoFile(str(clip), input_size=(96, 96))
    try:
        assert source.reduction == 4
        frames = list(source)
    finally:
        source.close()
    assert [f.index for f in frames] == list(range(len(originals)))
    for frame, original in zip(frames, originals, strict=True):
        assert frame.image.shape == (120, 160, 3)
        assert (frame.width, frame.height) == (640, 480)  # the record names the source's size
        shrunk = cv2.resize(original, (160, 120), interpolation=cv2.INTER_AREA)
        assert np.abs(frame.image.astype(int) - shrunk.astype(int)).mean() < 6


def test_without_a_model_size_the_file_is_decoded_in_full(tmp_path: Path) -> None:
    clip = tmp_path / "clip.avi"
    write_clip(clip, frames=3)
    source = VideoFile(str(clip))
    try:
        assert source.reduction == 1
        assert [f.image.shape for f in source] == [(480, 640, 3)] * 3
    finally:
        source.close()


def test_a_codec_other_than_mjpeg_is_decoded_in_full(tmp_path: Path) -> None:
    clip = tmp_path / "clip.avi"
    write_clip(clip, fourcc="FFV1", frames=3)
    source = VideoFile(str(clip), input_size=(96, 96))
    try:
        assert source.reduction == 1
        assert [f.image.shape for f in source] == [(480, 640, 3)] * 3
    finally:
        source.close()


def test_edge_run_on_mjpeg_reports_the_source_size_and_every_frame(
    run_edge: RunEdge, tmp_path: Path
) -> None:
    clip = tmp_path / "clip.avi"
    write_clip(clip, frames=10)
    done = run_edge(
        ["run", "--model", str(DETECTOR), "--source", str(clip), "--sink", "jsonl:out.jsonl"]
    )
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "out.jsonl")
    assert [r["source"]["frame"] for r in records] == list(range(10))
    assert {(r["source"]["width"], r["source"]["height"]) for r in records} == {(640, 480)}
    assert sum(len(r["detections"]) for r in records) > 0


def test_recording_keeps_the_full_picture(run_edge: RunEdge, tmp_path: Path) -> None:
    clip = tmp_path / "clip.avi"
    write_clip(clip, frames=5)
    done = run_edge(
        [
            "run",
            "--model",
            str(DETECTOR),
            "--source",
            str(clip),
            "--sink",
            "jsonl:out.jsonl",
            "--record",
            "annotated.avi",
        ]
    )
    assert done.returncode == 0, done.stderr
    video = cv2.VideoCapture(str(tmp_path / "annotated.avi"))
    size = (video.get(cv2.CAP_PROP_FRAME_WIDTH), video.get(cv2.CAP_PROP_FRAME_HEIGHT))
    video.release()
    assert size == (640, 480)
    assert (
        json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])["source"]["width"] == 640
    )


def test_preprocessing_writes_into_the_same_buffer_every_frame() -> None:
    tensor = TensorSpec("x", 0, (1, 28, 28, 1), "int8", 1.0, -128)
    preprocess = Preprocessor(spec(), tensor)
    rng = np.random.default_rng(1)
    first_frame = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    second_frame = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    first, _ = preprocess(first_frame)
    first_values = first.copy()
    second, _ = preprocess(second_frame)
    assert second is first and second is preprocess.buffer  # one array, allocated once
    assert second.shape == (1, 28, 28, 1) and second.dtype == np.int8
    assert not np.array_equal(second, first_values)  # and it holds the new frame's values
    pixels, _ = prepare_pixels(second_frame, spec())
    np.testing.assert_array_equal(second[0].astype(int), pixels.astype(int) - 128)


# --- live devices: webcams (V4L2) and streams ---------------------------------------------


def test_a_live_mjpeg_device_is_decoded_reduced(tmp_path: Path) -> None:
    """``OpenCVDevice`` is what a webcam and a stream are read through. No webcam exists
    here, so a real ``VideoCapture`` on an MJPG clip stands in for V4L2: the same
    ``CAP_PROP_FOURCC`` / ``CAP_PROP_FORMAT = -1`` calls, the same compressed frames."""
    from edge.sources.opencv import OpenCVDevice

    clip = tmp_path / "clip.avi"
    originals = write_clip(clip, frames=4)
    device = OpenCVDevice(cv2.VideoCapture(str(clip)), input_size=(96, 96))
    try:
        assert device.reduction == 4
        captures = [device.read() for _ in originals]
    finally:
        device.release()
    for capture, original in zip(captures, originals, strict=True):
        assert capture is not None and capture.image.shape == (120, 160, 3)
        assert capture.source_size == (640, 480)
        shrunk = cv2.resize(original, (160, 120), interpolation=cv2.INTER_AREA)
        assert np.abs(capture.image.astype(int) - shrunk.astype(int)).mean() < 6


def test_a_live_device_without_a_model_size_is_decoded_in_full(tmp_path: Path) -> None:
    from edge.sources.opencv import OpenCVDevice

    clip = tmp_path / "clip.avi"
    write_clip(clip, frames=2)
    device = OpenCVDevice(cv2.VideoCapture(str(clip)))
    try:
        capture = device.read()
        assert device.reduction == 1 and capture is not None
        assert capture.image.shape == (480, 640, 3) and capture.source_size is None
    finally:
        device.release()


def test_an_mjpeg_stream_is_decoded_reduced_in_edge_run(run_edge: RunEdge, tmp_path: Path) -> None:
    """A real MJPEG-over-HTTP camera on loopback (320x240), read by ``edge run`` with the
    28x28 CNN: decoded at 1/8 (40x30), the records still name the stream's size."""
    from edge.sources.opencv import open_stream
    from tests.edge.sources.test_live_sources import start_server, stop_process

    server, port = start_server(0, fps=60)
    url = f"http://127.0.0.1:{port}/stream.mjpg"
    try:
        device = open_stream(url, timeout=5, input_size=(28, 28))
        try:
            capture = device.read()
            assert device.reduction == 8 and capture is not None
            assert capture.image.shape == (30, 40, 3) and capture.source_size == (320, 240)
        finally:
            device.release()
        done = run_edge(["run", "--source", url, "--max-frames", "20", "--sink", "jsonl:out.jsonl"])
        assert done.returncode == 0, done.stderr
    finally:
        stop_process(server)
    records = read_jsonl(tmp_path / "out.jsonl")
    assert len(records) == 20
    assert {(r["source"]["width"], r["source"]["height"]) for r in records} == {(320, 240)}
    assert all(r["detections"] for r in records)


def test_a_grey_model_gets_the_jpeg_decoded_straight_to_grey(tmp_path: Path) -> None:
    """libjpeg skips the colour planes for a grey model: the frame is (h, w), and the
    model's input from it matches the one from the colour decode (grey conversion of the
    same picture) to within JPEG's chroma rounding."""
    clip = tmp_path / "clip.avi"
    write_clip(clip, frames=6)
    grey = VideoFile(str(clip), input_size=(96, 96), grey=True)
    colour = VideoFile(str(clip), input_size=(96, 96))
    try:
        grey_frames, colour_frames = list(grey), list(colour)
    finally:
        grey.close()
        colour.close()
    tensor = TensorSpec("x", 0, (1, 96, 96, 1), "int8", 1.0, -128)
    gray_spec = spec(width=96, height=96)
    for g, c in zip(grey_frames, colour_frames, strict=True):
        assert g.image.shape == (120, 160) and (g.width, g.height) == (640, 480)
        from_grey, _ = Preprocessor(gray_spec, tensor)(g.image)
        from_colour, _ = Preprocessor(gray_spec, tensor)(c.image)
        assert np.abs(from_grey.astype(int) - from_colour.astype(int)).mean() < 2


def test_a_grey_frame_feeds_a_colour_model_and_the_motion_gate() -> None:
    from edge.processing.motion import MotionGate
    from edge.types import Frame

    grey = np.full((30, 40), 200, np.uint8)
    rgb = spec(width=8, height=8, channels=3, colour="rgb")
    pixels, _ = prepare_pixels(grey, rgb)
    assert pixels.shape == (8, 8, 3) and (pixels == 200).all()
    gate = MotionGate()
    assert gate.should_infer(Frame(grey, 0, 0.0, "t"))  # the first frame always runs
    with pytest.raises(ValueError, match="grey"):
        Frame(np.zeros((4, 4, 4), np.uint8), 0, 0.0, "t")
