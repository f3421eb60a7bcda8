"""Video files as users have them, written by OpenCV itself: MJPG in AVI, mp4v in MP4, and
H.264 in MP4 where this OpenCV build can encode it. Each runs to the end with every
frame recorded; ``loop`` wraps around; ``pace`` plays at the file's frame rate."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.sources.opencv import VideoFile
from edge.sources.synthetic import SyntheticCamera
from tests.conftest import RunEdge, read_jsonl

FRAMES = 24


def write_clip(path: Path, fourcc: str, frames: int = FRAMES, fps: float = 25.0) -> bool:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, (320, 240))
    if not writer.isOpened():
        return False
    camera = SyntheticCamera(fps=None)
    for i in range(frames):
        writer.write(camera.render(i))
    writer.release()
    return True


@pytest.mark.parametrize(
    ("name", "fourcc"),
    [
        ("clip.avi", "MJPG"),
        ("clip.mp4", "mp4v"),
        ("clip-h264.mp4", "avc1"),
    ],
)
def test_video_file_runs_to_the_end_with_every_frame(
    run_edge: RunEdge, tmp_path: Path, name: str, fourcc: str
) -> None:
    if not write_clip(tmp_path / name, fourcc):
        pytest.skip(
            f"this OpenCV build ({cv2.__version__}) has no {fourcc} encoder, so it "
            "cannot write the H.264 test clip (the pip wheels bundle an LGPL FFmpeg "
            "without the x264 encoder)"
        )
    done = run_edge(["run", "--source", name, "--sink", "jsonl:v.jsonl"])
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "v.jsonl")
    assert [r["source"]["frame"] for r in records] == list(range(FRAMES))
    assert all(r["source"]["name"] == name for r in records)
    assert "dropped 0" in done.stderr


def test_loop_wraps_around(run_edge: RunEdge, tmp_path: Path) -> None:
    assert write_clip(tmp_path / "short.avi", "MJPG", frames=5)
    (tmp_path / "loop.toml").write_text(
        "[source]\nkind = 'video'\nuri = 'short.avi'\nloop = true\n"
    )
    done = run_edge(
        ["run", "--config", "loop.toml", "--max-frames", "12", "--sink", "jsonl:l.jsonl"]
    )
    assert done.returncode == 0, done.stderr
    assert [r["source"]["frame"] for r in read_jsonl(tmp_path / "l.jsonl")] == list(range(12))
    source = VideoFile(str(tmp_path / "short.avi"), loop=True)
    frames = list(itertools.islice(source, 11))
    source.close()
    for i in range(5, 11):  # the second pass shows the same pictures as the first
        np.testing.assert_array_equal(frames[i].image, frames[i - 5].image)


def test_pace_plays_at_the_files_frame_rate(tmp_path: Path) -> None:
    assert write_clip(tmp_path / "paced.avi", "MJPG", frames=11, fps=50.0)
    for pace, slowest in ((True, None), (False, 0.18)):
        source = VideoFile(str(tmp_path / "paced.avi"), pace=pace)
        start = time.monotonic()
        assert len(list(source)) == 11
        took = time.monotonic() - start
        source.close()
        assert source.fps == pytest.approx(50.0)
        if pace:
            assert took >= 0.19  # 10 intervals of 20 ms
        else:
            assert slowest is not None and took < slowest
