"""Preview, record and snapshots: what the model saw, drawn from its records.

The recorded video is read back by OpenCV and checked against the JSON records of the
same run: same frame count, and each recorded box drawn where its record says. The
preview runs under Xvfb with a GUI build of OpenCV (``opencv-python``) when both are
available; the shared venv has the headless build, whose clear error is tested too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.observers.annotate import annotate, colour_of
from edge.observers.preview import check_display
from edge.observers.snapshots import triggers
from tests.conftest import RunEdge, read_jsonl

REPO = Path(__file__).resolve().parents[3]
DETECTOR = REPO / "models" / "zoo" / "digits-detector.int8.tflite"
# Where the test command puts the GUI build of OpenCV (see scripts/test.sh).
GUI_OPENCV = Path(os.environ.get("EDGE_TEST_OPENCV_GUI", str(REPO / ".venv" / "opencv-gui")))

SCENE = (
    "status_interval = 0.5\n[source]\nkind = 'synthetic'\ndigits = 3\nfps = 10\n"
    "[model]\npath = '{model}'\n"
)


def edge_box(
    record: dict[str, object], width: int, height: int
) -> list[tuple[int, int, int, int, int]]:
    boxes = []
    for item in record["detections"]:  # type: ignore[attr-defined]
        x0, y0, x1, y1 = item["box"]
        boxes.append(
            (
                round(x0 * width),
                round(y0 * height),
                round(x1 * width),
                round(y1 * height),
                int(item["class_id"]),
            )
        )
    return boxes


def test_annotate_draws_boxes_where_the_record_says() -> None:
    image = np.zeros((120, 160, 3), np.uint8)
    record = {
        "detections": [{"label": "7", "class_id": 7, "score": 0.9, "box": [0.25, 0.5, 0.75, 0.9]}]
    }
    drawn = annotate(image, record, fps=12.5)
    assert (image == 0).all()  # the input is not changed
    x0, y0, x1, y1 = 40, 60, 120, 108
    colour = np.asarray(colour_of(7))
    for x, y in ((x0, (y0 + y1) // 2), (x1, (y0 + y1) // 2), ((x0 + x1) // 2, y1)):
        np.testing.assert_array_equal(drawn[y, x], colour)
    assert (drawn[y0 + 10 : y1 - 3, x0 + 3 : x1 - 3] == 0).all()  # inside left clear
    assert drawn[:24, :70].max() > 200  # the frame rate text in the corner


def test_record_matches_the_records(run_edge: RunEdge, tmp_path: Path) -> None:
    (tmp_path / "scene.toml").write_text(SCENE.format(model=DETECTOR))
    done = run_edge(
        [
            "run",
            "--config",
            "scene.toml",
            "--max-frames",
            "20",
            "--sink",
            "jsonl:r.jsonl",
            "--record",
            "out.mp4",
        ]
    )
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "r.jsonl")
    video = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    frames = []
    while True:
        ok, image = video.read()
        if not ok:
            break
        frames.append(image)
    video.release()
    assert len(frames) == len(records) == 20
    assert frames[0].shape == (240, 320, 3)  # the source's frame size
    checked = 0
    for image, record in zip(frames, records, strict=True):
        boxes = edge_box(record, 320, 240)
        for x0, y0, x1, y1, _ in boxes:
            ym = (y0 + y1) // 2
            # The box's left and right edges carry its colour (mp4v is lossy: a tolerance).
            # NMS may keep two classes on one box: the one drawn last shows.
            for x in (x0, x1):
                colours = [
                    np.asarray(colour_of(c), np.float64)
                    for bx0, by0, bx1, by1, c in boxes
                    if min(abs(bx0 - x), abs(bx1 - x)) <= 2 and by0 <= ym <= by1
                ]
                patch = image[ym - 2 : ym + 3, max(0, x - 1) : x + 2].reshape(-1, 3)
                patch = patch.astype(np.float64)
                distance = min(np.abs(patch - c).sum(axis=1).min() for c in colours)
                assert distance < 90, (record["seq"], x, patch)
            checked += 1
    assert checked >= 20  # three digits per frame: most frames have boxes


def test_snapshots_once_per_label_per_interval(run_edge: RunEdge, tmp_path: Path) -> None:
    (tmp_path / "scene.toml").write_text(SCENE.format(model=DETECTOR))
    done = run_edge(
        [
            "run",
            "--config",
            "scene.toml",
            "--max-frames",
            "15",
            "--sink",
            "jsonl:s.jsonl",
            "--snapshot-dir",
            "snaps",
        ]
    )
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "s.jsonl")
    labels = {d["label"] for r in records for d in r["detections"]}
    shots = sorted((tmp_path / "snaps").glob("*.jpg"))
    named = {label for shot in shots for label in shot.stem.split("_", 2)[2].split("-")}
    assert named == labels  # each label saved once within the 10 s interval
    assert len(shots) <= len(labels)
    shot = cv2.imread(str(shots[0]))
    assert shot is not None and shot.shape == (240, 320, 3)


def test_snapshot_triggers() -> None:
    assert triggers({"detections": [{"label": "3"}]}) == ["3"]
    assert triggers({"detections": [], "anomaly": {"score": 0.9, "threshold": 0.5}}) == ["anomaly"]
    assert triggers({"detections": [], "anomaly": {"score": 0.1, "threshold": 0.5}}) == []


def test_preview_without_gui_is_a_config_error(run_edge: RunEdge) -> None:
    done = run_edge(["run", "--preview", "--max-frames", "3"], env={"DISPLAY": ":0"})
    assert done.returncode == 78
    assert "--preview cannot open a window: this OpenCV has no GUI support" in done.stderr
    assert "pip uninstall -y opencv-python-headless && pip install opencv-python" in done.stderr


def test_preview_without_a_display_is_a_config_error() -> None:
    from edge.errors import ConfigError

    with pytest.raises(ConfigError, match="needs a display"):
        check_display("linux", {})
    check_display("linux", {"WAYLAND_DISPLAY": "wayland-0"})
    check_display("darwin", {})


@pytest.fixture
def xvfb() -> Iterator[str]:
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt install xvfb; scripts/test.sh does)")
    if not (GUI_OPENCV / "cv2").is_dir():
        pytest.skip(
            f"no GUI build of OpenCV at {GUI_OPENCV} (scripts/test.sh installs one: "
            f"pip install --target {GUI_OPENCV} opencv-python --no-deps)"
        )
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "640x480x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()
        assert number.isdigit(), "Xvfb did not report its display"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def gui_env(display: str) -> dict[str, str]:
    path = os.pathsep.join([str(GUI_OPENCV), str(REPO), os.environ.get("PYTHONPATH", "")])
    return {"DISPLAY": display, "PYTHONPATH": path, "QT_QPA_FONTDIR": "/usr/share/fonts"}


def start_edge_on_display(display: str, args: list[str], cwd: Path) -> subprocess.Popen[str]:
    """The real ``edge`` command with a window on ``display`` (GUI OpenCV), output piped."""
    return subprocess.Popen(
        [sys.executable, "-c", "from edge.cli import entry; entry()", *args],
        cwd=cwd,
        env={**os.environ, **gui_env(display)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_preview_under_xvfb(run_edge: RunEdge, xvfb: str, tmp_path: Path) -> None:
    (tmp_path / "scene.toml").write_text(SCENE.format(model=DETECTOR))
    done = run_edge(
        [
            "run",
            "--config",
            "scene.toml",
            "--preview",
            "--max-frames",
            "15",
            "--sink",
            "jsonl:p.jsonl",
        ],
        env=gui_env(xvfb),
    )
    assert done.returncode == 0, done.stderr
    assert len(read_jsonl(tmp_path / "p.jsonl")) == 15


@pytest.mark.parametrize("key", ["q", "Escape"])
def test_preview_key_stops_the_run(xvfb: str, tmp_path: Path, key: str) -> None:
    """A real key press (XTEST through the X server and Qt) in the preview window ends a
    run that has no frame limit, cleanly (exit 0, summary printed)."""
    from edge.observers.preview import WINDOW
    from tests.edge import xkeys

    if xkeys.load() is None:
        pytest.skip("libX11/libXtst are not installed (apt install libxtst6)")
    run = start_edge_on_display(xvfb, ["run", "--preview", "--sink", "jsonl:k.jsonl"], tmp_path)
    try:
        assert xkeys.press(xvfb, WINDOW, key), "the preview window never appeared"
        _, stderr = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 0, stderr
    assert "done:" in stderr
    assert read_jsonl(tmp_path / "k.jsonl")


def test_record_to_an_unknown_format_is_a_config_error(run_edge: RunEdge) -> None:
    done = run_edge(["run", "--record", "out.xyz", "--max-frames", "1"])
    assert done.returncode == 78
    assert "cannot tell which video format to record" in done.stderr


def test_output_table_in_the_config(tmp_path: Path) -> None:
    from edge.config.load import load_config

    path = tmp_path / "c.toml"
    path.write_text("[output]\nrecord = 'a.avi'\nsnapshot_dir = 'shots'\nsnapshot_interval = 2\n")
    config = load_config(path)
    # relative paths in a config file are relative to its folder
    assert config.output.record == tmp_path / "a.avi" and config.output.snapshot_interval == 2
    flags = load_config(path, {"output": {"preview": True}})
    assert flags.output.preview and flags.output.record == tmp_path / "a.avi"
    time.sleep(0)  # keep the import of time used when the file grows


def test_preview_and_recording_share_one_drawing_per_frame(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import edge.observers.annotate
    from edge.observers.annotate import FrameAnnotator
    from edge.observers.recorder import VideoRecorder
    from edge.types import Frame

    drawn: list[int] = []
    real = edge.observers.annotate.annotate

    def counting(
        image: np.ndarray, record: dict[str, object], fps: float | None = None
    ) -> np.ndarray:
        drawn.append(1)
        return real(image, record, fps)

    monkeypatch.setattr(edge.observers.annotate, "annotate", counting)
    annotator = FrameAnnotator()
    first = VideoRecorder(tmp_path / "a.avi", annotator=annotator)
    second = VideoRecorder(tmp_path / "b.avi", annotator=annotator)
    try:
        for index in range(5):
            frame = Frame(np.zeros((48, 64, 3), np.uint8), index, 0.0, "t")
            record = {
                "detections": [
                    {"label": "7", "score": 0.9, "class_id": 7, "box": [0.1, 0.1, 0.5, 0.5]}
                ]
            }
            first.observe(frame, record)
            second.observe(frame, record)
    finally:
        first.close()
        second.close()
    assert len(drawn) == 5 and first.frames == second.frames == 5


def test_annotate_draws_the_best_label_last() -> None:
    """Two boxes at the same corner: the higher score's label is the one on top,
    whatever the record's order."""
    image = np.zeros((120, 160, 3), np.uint8)
    box = [0.25, 0.5, 0.75, 0.9]
    best = {"label": "7", "class_id": 7, "score": 0.9, "box": box}
    worse = {"label": "1", "class_id": 1, "score": 0.4, "box": box}
    for order in ([best, worse], [worse, best]):
        drawn = annotate(image, {"detections": order})
        label_background = drawn[60 - 3, 40 + 1]  # just above the box's top-left corner
        np.testing.assert_array_equal(label_background, np.asarray(colour_of(7)))
