"""Event mode: the IoU tracker, and ``edge run`` on a video of one object that moves
and then leaves, giving one ``new``, throttled ``update``s and one ``end``."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from edge.events.tracker import IouTracker
from edge.model.zoo import zoo_file
from edge.types import Detections
from tests.conftest import REPO, RunEdge, read_jsonl
from tests.edge.scene_videos import write_video

DETECTOR = zoo_file("digits-detector.int8.tflite")
INTERVAL = 0.01


@pytest.fixture(scope="session")
def event_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((REPO / "edge" / "schemas" / "event-1.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _one(x: float, cls: int = 0, score: float = 0.9) -> Detections:
    return Detections(
        np.asarray([cls]),
        np.asarray([score], np.float32),
        np.asarray([[x, 0.2, x + 0.2, 0.5]], np.float32),
    )


def test_tracker_new_throttled_updates_end() -> None:
    tracker = IouTracker(iou_threshold=0.3, max_missed=3, update_interval=1.0)
    kinds: list[tuple[float, str, int]] = []
    for i in range(30):  # 3 s at 10 fps, moving 0.01 a frame, then 5 empty frames
        t = 0.1 * i
        seen = _one(0.1 + 0.01 * i) if i < 25 else Detections.empty()
        kinds += [(round(t, 1), e.kind, e.track.id) for e in tracker.update(seen, t)]
    assert kinds == [(0.0, "new", 1), (1.0, "update", 1), (2.0, "update", 1), (2.7, "end", 1)]


def test_tracker_keeps_classes_and_objects_apart() -> None:
    tracker = IouTracker(update_interval=10.0)
    two = Detections(
        np.asarray([0, 1]),
        np.asarray([0.9, 0.8], np.float32),
        np.asarray([[0.1, 0.1, 0.3, 0.3], [0.1, 0.1, 0.3, 0.3]], np.float32),
    )
    assert [e.kind for e in tracker.update(two, 0.0)] == ["new", "new"]
    assert tracker.update(two, 0.1) == []  # both continue, updates throttled
    far = _one(0.7)  # class 0 far away from track 1: a new object
    events = tracker.update(far, 0.2)
    assert [(e.kind, e.track.id) for e in events] == [("new", 3)]
    assert [(e.kind, e.reason) for e in tracker.finish()] == [("end", "stopped")] * 3
    assert tracker.update(_one(0.1), 0.3)[0].track.id == 4  # ids are never reused


def test_a_track_keeps_its_own_copy_of_the_box() -> None:
    """The tracker copies each frame's boxes once: a caller reusing its array for the next
    frame does not move the tracks it already has."""
    tracker = IouTracker()
    seen = _one(0.1)
    assert seen.xyxy is not None
    track = tracker.update(seen, 0.0)[0].track
    seen.xyxy[:] = 0.9
    assert track.box.tolist() == pytest.approx([0.1, 0.2, 0.3, 0.5])


def _ts(stamp: str) -> float:
    return (
        dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
        .replace(tzinfo=dt.timezone.utc)
        .timestamp()
    )


def test_one_object_moving_then_leaving(
    run_edge: RunEdge,
    tmp_path: Path,
    result_validator: jsonschema.Draft202012Validator,
    event_validator: jsonschema.Draft202012Validator,
) -> None:
    write_video(tmp_path / "walk.avi", 70, {i: (10 + 5 * i, 70) for i in range(45)})
    settings = f"[events]\nenabled = true\nupdate_interval = {INTERVAL}\nmax_missed = 5\n"
    (tmp_path / "edge.toml").write_text(settings)
    done = run_edge(
        [
            "run",
            "--config",
            "edge.toml",
            "--model",
            str(DETECTOR),
            "--source",
            "walk.avi",
            "--sink",
            "jsonl:out.jsonl",
        ]
    )
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "out.jsonl")
    frames = [r for r in records if r["schema"] == "edge.result/1"]
    events = [r for r in records if r["schema"] == "edge.event/1"]
    assert len(frames) == 70  # per-frame records beside the events (the default)
    for record in frames:
        result_validator.validate(record)
    for event in events:
        event_validator.validate(event)
    kinds = [e["event"] for e in events]
    assert kinds.count("new") == 1 and kinds.count("end") == 1, kinds
    assert kinds[0] == "new" and kinds[-1] == "end", kinds
    assert {e["track"]["id"] for e in events} == {1}
    assert {e["track"]["label"] for e in events} == {"0"}
    end = events[-1]
    assert end["reason"] == "gone" and 45 <= end["source"]["frame"] <= 45 + 5
    updates = [e for e in events if e["event"] == "update"]
    assert updates, kinds
    # Throttled: at most one update per interval of the track's life, never two closer.
    life = _ts(end["track"]["last_seen"]) - _ts(end["track"]["first_seen"])
    assert len(updates) <= life / INTERVAL + 1, (len(updates), life)
    assert len(updates) < end["track"]["frames"] - 1, (len(updates), end["track"])
    times = [_ts(e["ts"]) for e in events[:-1]]
    assert all(b - a >= INTERVAL - 0.0015 for a, b in itertools.pairwise(times)), times
    # The box follows the object: the last update is right of the first sighting.
    assert updates[-1]["track"]["box"][0] > events[0]["track"]["box"][0]


def test_events_instead_of_per_frame_records(
    run_edge: RunEdge,
    tmp_path: Path,
    event_validator: jsonschema.Draft202012Validator,
) -> None:
    write_video(tmp_path / "walk.avi", 40, {i: (10 + 5 * i, 70) for i in range(20)})
    (tmp_path / "edge.toml").write_text(
        "[events]\nenabled = true\nper_frame = false\nmax_missed = 3\nupdate_interval = 60\n"
    )
    done = run_edge(
        [
            "run",
            "--config",
            "edge.toml",
            "--model",
            str(DETECTOR),
            "--source",
            "walk.avi",
            "--sink",
            "jsonl:out.jsonl",
        ]
    )
    assert done.returncode == 0, done.stderr
    records: list[dict[str, Any]] = read_jsonl(tmp_path / "out.jsonl")
    for record in records:
        event_validator.validate(record)
    assert [r["event"] for r in records] == ["new", "end"]  # a 60 s interval: no update
    assert "events: 2 written" in done.stderr


def test_parked_object_with_the_motion_gate(
    run_edge: RunEdge,
    tmp_path: Path,
    event_validator: jsonschema.Draft202012Validator,
) -> None:
    """The parked car: an object that never moves gives one ``new`` and, when the run
    stops, one ``end`` (reason ``stopped``); the gate skips the frames between, and
    skipped frames do not count as missed sightings."""
    write_video(tmp_path / "parked.avi", 60, {i: (100, 70) for i in range(60)})
    (tmp_path / "edge.toml").write_text(
        "[motion]\nenabled = true\nheartbeat = 0\n"
        "[events]\nenabled = true\nper_frame = false\nmax_missed = 2\nupdate_interval = 0\n"
    )
    done = run_edge(
        [
            "run",
            "--config",
            "edge.toml",
            "--model",
            str(DETECTOR),
            "--source",
            "parked.avi",
            "--sink",
            "jsonl:out.jsonl",
        ]
    )
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "out.jsonl")
    for record in records:
        event_validator.validate(record)
    assert [(r["event"], r.get("reason")) for r in records] == [("new", None), ("end", "stopped")]
    assert "motion gate: 59 frames skipped; events: 2 written" in done.stderr
