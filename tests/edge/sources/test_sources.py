from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.errors import SourceError
from edge.pipeline.readers import LatestFrameReader
from edge.sources.images import ImageFolder
from edge.sources.opencv import VideoFile, open_camera
from edge.sources.synthetic import SyntheticCamera
from edge.types import Frame
from tests.conftest import RunEdge, digit_truth, read_jsonl


def tiny_digits() -> tuple[np.ndarray, np.ndarray]:
    images = np.zeros((3, 28, 28), np.uint8)
    for i in range(3):
        images[i, 8:20, 10 + i : 14 + i] = 255
    return images, np.asarray([4, 7, 9])


def test_synthetic_is_deterministic_and_knows_its_truth() -> None:
    a = SyntheticCamera(fps=None, seed=3, hold_frames=2, digits=tiny_digits())
    b = SyntheticCamera(fps=None, seed=3, hold_frames=2, digits=tiny_digits())
    frames = list(itertools.islice(a, 6))
    for frame in frames:
        assert frame.image.shape == (240, 320, 3)
        np.testing.assert_array_equal(frame.image, b.render(frame.index))
        assert frame.truth == b.truth(frame.index)
    labels = [f.truth.label for f in frames]
    assert labels[0] == labels[1] and labels[2] == labels[3]  # held for 2 frames
    assert set(labels) <= {4, 7, 9}


def test_synthetic_box_covers_the_bright_digit() -> None:
    camera = SyntheticCamera(fps=None, digits=tiny_digits())
    image, truth = camera.render(5), digit_truth(camera, 5)
    x0, y0, x1, y1 = (round(v * s) for v, s in zip(truth.box, (320, 240, 320, 240), strict=True))
    inside = image[y0:y1, x0:x1].max()
    outside = image.copy()
    outside[y0 - 3 : y1 + 3, x0 - 3 : x1 + 3] = 0  # bilinear scaling blurs the edge a little
    assert inside > 200 and outside.max() < 120


def test_synthetic_paces_at_its_frame_rate() -> None:
    camera = SyntheticCamera(fps=50, digits=tiny_digits())
    start = time.monotonic()
    list(itertools.islice(camera, 11))
    assert time.monotonic() - start >= 0.19  # 10 intervals of 20 ms


def test_shipped_holdout_digits_load() -> None:
    camera = SyntheticCamera(fps=None)
    assert 0 <= digit_truth(camera, 0).label <= 9


def write_images(folder: Path, count: int) -> None:
    folder.mkdir(exist_ok=True)
    for i in range(count):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.full((10, 12, 3), i * 10, np.uint8))


def test_image_folder_in_name_order_and_skips_broken(tmp_path: Path) -> None:
    write_images(tmp_path, 3)
    (tmp_path / "001b.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    source = ImageFolder(tmp_path)
    frames = list(source)
    assert [f.source for f in frames] == ["000.png", "001.png", "002.png"]
    assert [f.index for f in frames] == [0, 1, 2]
    assert source.skipped == 1 and not source.live


@pytest.mark.parametrize("make", [lambda p: None, lambda p: p.mkdir()])
def test_image_folder_errors(tmp_path: Path, make: object) -> None:
    folder = tmp_path / "imgs"
    make(folder)  # type: ignore[operator]
    with pytest.raises(SourceError, match="imgs"):
        ImageFolder(folder)


def write_video(path: Path, frames: int) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (64, 48))
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((48, 64, 3), (i * 9) % 255, np.uint8))
    writer.release()


def test_video_file_is_read_to_the_end(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    write_video(path, 25)
    source = VideoFile(str(path))
    frames = list(source)
    source.close()
    assert not source.live
    assert len(frames) == 25
    assert frames[0].image.shape == (48, 64, 3)


def test_missing_video_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        VideoFile(str(tmp_path / "nope.mp4"))


def test_undecodable_video_file(tmp_path: Path) -> None:
    path = tmp_path / "fake.mp4"
    path.write_bytes(b"\x00" * 1000)
    with pytest.raises(SourceError, match="could not open"):
        VideoFile(str(path))


def test_webcam_index_with_no_camera() -> None:
    with pytest.raises(SourceError) as info:
        open_camera(57)
    assert "no camera could be opened at index 57" in str(info.value)
    assert "fix:" in str(info.value)


def test_missing_video_device_path() -> None:
    with pytest.raises(SourceError, match="/dev/video57"):
        open_camera("/dev/video57")


class FastSource:
    """A live source faster than its reader, to show that only the newest frame is kept."""

    name, live = "fast", True

    def __init__(self, count: int) -> None:
        self.count = count
        self.produced = 0  # frames asked of this source so far (the reader thread asks)

    def __iter__(self) -> Iterator[Frame]:
        for i in range(self.count):
            time.sleep(0.001)
            self.produced = i + 1
            yield Frame(np.zeros((2, 2, 3), np.uint8), i, time.time(), self.name)

    def close(self) -> None:
        pass


def test_latest_frame_reader_drops_stale_frames() -> None:
    import threading

    source = FastSource(200)
    reader = LatestFrameReader(source)
    seen = []
    for frame in reader.frames(threading.Event()):
        if frame is None:
            continue  # an idle tick
        seen.append(frame.index)
        # A model slower than the camera, by construction rather than by timing: it
        # finishes only once the camera has asked for frame + 3, so frame + 2 has been
        # handed over and replaced frame + 1, which was never read.
        deadline = time.monotonic() + 10
        while source.produced < min(frame.index + 4, source.count):
            assert time.monotonic() < deadline, f"the camera stopped at {source.produced}"
            time.sleep(0.001)
    reader.close()
    assert seen == sorted(seen) and seen[-1] == 199  # in order, ends with the newest
    assert reader.dropped == 200 - len(seen) > 0


def test_latest_frame_reader_reraises_source_errors() -> None:
    import threading

    class Broken(FastSource):
        def __iter__(self) -> Iterator[Frame]:
            yield from super().__iter__()
            raise SourceError("camera unplugged")

    reader = LatestFrameReader(Broken(3))
    with pytest.raises(SourceError, match="unplugged"):
        for _ in reader.frames(threading.Event()):
            time.sleep(0.01)


def test_the_synthetic_camera_on_demand_drops_nothing(run_edge: RunEdge, tmp_path: Path) -> None:
    """``on_demand``: a frame each time the pipeline takes one, like a file (edge bench)."""
    (tmp_path / "edge.toml").write_text("[source]\nkind = 'synthetic'\non_demand = true\n")
    done = run_edge(
        ["run", "--config", "edge.toml", "--max-frames", "200", "--sink", "jsonl:o.jsonl"]
    )
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "o.jsonl")
    assert [r["source"]["frame"] for r in records] == list(range(200))
    assert "dropped 0" in done.stderr
