"""The zone logic against the synthetic camera's ground truth: counts per zone and label,
inertia against flicker, line crossings from tracked movement, masks."""

from __future__ import annotations

from collections import Counter

import numpy as np

from edge.config.zones import LineConfig, MaskConfig, ZoneConfig
from edge.sources.synthetic import SceneTruth, SyntheticCamera
from edge.types import Detections
from edge.zones.engine import ZoneEngine
from tests.edge.zones.scenes import (
    LABELS,
    MIDDLE,
    crossing_camera,
    quadrant_zones,
    truth_counts,
    truth_crossings,
    truth_detections,
)


def _scene(camera: SyntheticCamera, i: int) -> SceneTruth:
    truth = camera.truth(i)
    assert isinstance(truth, SceneTruth)
    return truth


def test_counts_equal_the_truth_on_every_frame_of_300() -> None:
    camera = SyntheticCamera(fps=None, digit_count=4)
    engine = ZoneEngine(quadrant_zones(inertia=1), labels=LABELS)
    for i in range(300):
        truth = _scene(camera, i)
        found = engine.update(truth_detections(truth), i / 30, LABELS)
        expected = truth_counts(truth)
        assert {k: +v for k, v in found.counts.items()} == expected, f"frame {i}"
        for digit, zones in zip(truth.digits, found.detection_zones, strict=True):
            alone = SceneTruth((digit,))  # the zones of this digit only
            assert set(zones) == {z for z, c in truth_counts(alone).items() if c}


def test_bottom_centre_and_any_overlap_anchors() -> None:
    box = Detections(
        np.asarray([3]),
        np.asarray([0.9], np.float32),
        np.asarray([[0.4, 0.1, 0.6, 0.45]], np.float32),
    )

    def zone(anchor: str) -> ZoneConfig:
        return ZoneConfig.model_validate(
            {"name": anchor, "points": [[0.5, 0.4], [1, 0.4], [1, 1], [0.5, 1]], "anchor": anchor}
        )

    engine = ZoneEngine([zone("bottom_center"), zone("center"), zone("any")], labels=LABELS)
    # bottom centre (0.5, 0.45): on the left edge, inside by the even-odd rule's half-open
    # edges; centre (0.5, 0.275): above the zone; the box overlaps its top-left corner.
    assert engine.test(box, LABELS).tolist() == [[True, False, True]]
    away = Detections(
        np.asarray([3]),
        np.asarray([0.9], np.float32),
        np.asarray([[0.1, 0.1, 0.45, 0.39]], np.float32),
    )
    assert engine.test(away, LABELS).tolist() == [[False, False, False]]


def test_zone_filters_labels_score_and_area() -> None:
    zone = ZoneConfig.model_validate(
        {
            "name": "z",
            "points": [[0, 0], [1, 0], [1, 1], [0, 1]],
            "labels": ["7"],
            "min_score": 0.5,
            "min_area": 0.01,
        }
    )
    boxes = np.asarray([[0.1, 0.1, 0.3, 0.3]] * 3 + [[0.1, 0.1, 0.15, 0.15]], np.float32)
    det = Detections(np.asarray([7, 7, 2, 7]), np.asarray([0.9, 0.4, 0.9, 0.9], np.float32), boxes)
    assert ZoneEngine([zone], labels=LABELS).test(det, LABELS)[:, 0].tolist() == [
        True,
        False,
        False,
        False,
    ]


def test_inertia_suppresses_a_one_frame_flicker() -> None:
    """The jittering digit is hidden on frame 40 only: without inertia its zone count
    drops for that frame and it leaves and enters again; with inertia 3 nothing changes."""
    camera = crossing_camera(hidden=frozenset({40}))
    left = ZoneConfig.model_validate(
        {"name": "left", "points": [[0, 0.5], [0.5, 0.5], [0.5, 1], [0, 1]], "anchor": "center"}
    )
    for inertia, expected_dip, expected_events in ((1, True, 2), (3, False, 0)):
        engine = ZoneEngine([left.model_copy(update={"inertia": inertia})], labels=LABELS)
        totals, events = [], 0
        for i in range(80):
            found = engine.update(truth_detections(_scene(camera, i)), i / 30, LABELS)
            totals.append(sum(found.counts["left"].values()))
            events += sum(e.track.class_id == 7 for e in found.events if e.kind != "cross")
        assert all(t == 1 for t in totals[10:40] + totals[41:]), totals
        assert (totals[40] == 0) is expected_dip
        assert events == expected_events + 1  # its first enter, then leave + enter or none


def test_crossings_equal_the_truth_and_a_jittering_object_counts_zero() -> None:
    camera = crossing_camera()
    engine = ZoneEngine([], [MIDDLE], labels=LABELS)
    frames = 400
    for i in range(frames):
        found = engine.update(truth_detections(_scene(camera, i)), i / 30, LABELS)
    expected = truth_crossings(camera, frames)
    assert found.lines["middle"] == expected
    assert sum(expected["in"].values()) >= 5 and sum(expected["out"].values()) >= 5
    jitter_label = str(_scene(camera, 0).digits[2].label)
    assert jitter_label not in found.lines["middle"]["in"] + found.lines["middle"]["out"]


def test_a_horizontal_jitter_line_next_to_an_object_counts_zero() -> None:
    """A line right beside the jittering digit (but not under it): 400 frames, 0 counts."""
    camera = crossing_camera()
    box = _scene(camera, 0).digits[2].box
    x = (box[0] + box[2]) / 2 + 0.025  # jitter is +/-0.01: it never reaches the line
    line = LineConfig.model_validate(
        {"name": "beside", "points": [[x, 0.55], [x, 1.0]], "anchor": "center"}
    )
    engine = ZoneEngine([], [line], labels=LABELS)
    for i in range(400):
        found = engine.update(truth_detections(_scene(camera, i)), i / 30, LABELS)
    assert found.lines["beside"] == {"in": Counter(), "out": Counter()}


def test_appearing_on_the_far_side_is_no_crossing() -> None:
    engine = ZoneEngine([], [MIDDLE], labels=LABELS)
    left = Detections(
        np.asarray([1]),
        np.asarray([0.9], np.float32),
        np.asarray([[0.1, 0.1, 0.3, 0.3]], np.float32),
    )
    right = Detections(
        np.asarray([1]),
        np.asarray([0.9], np.float32),
        np.asarray([[0.7, 0.1, 0.9, 0.3]], np.float32),
    )
    for i, det in enumerate([left, Detections.empty(), right]):
        found = engine.update(det, float(i), LABELS)
    assert found.events == [] and found.lines["middle"]["in"] == Counter()


def test_detection_masks_drop_boxes_before_anything_else() -> None:
    mask = MaskConfig.model_validate({"points": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]})
    motion_only = MaskConfig.model_validate(
        {"points": [[0.5, 0], [1, 0], [1, 1]], "applies_to": "motion"}
    )
    engine = ZoneEngine([], masks=[mask, motion_only], labels=LABELS)
    boxes = np.asarray(
        [[0.1, 0.1, 0.3, 0.3], [0.6, 0.1, 0.9, 0.3], [0.4, 0.1, 0.7, 0.3]], np.float32
    )
    det = Detections(np.asarray([1, 2, 3]), np.asarray([0.9, 0.9, np.nan], np.float32), boxes)
    kept = engine.keep(det)
    assert kept.class_id.tolist() == [2]  # masked, kept, NaN score (unwritable) dropped


def test_frames_without_boxes_let_objects_leave() -> None:
    """``Detections.empty()`` (no box array at all) is a frame where nothing was seen."""
    zone = ZoneConfig.model_validate({"name": "all", "points": [[0, 0], [1, 0], [1, 1], [0, 1]]})
    engine = ZoneEngine([zone.model_copy(update={"inertia": 2})], labels=LABELS)
    seen = Detections(
        np.asarray([4]),
        np.asarray([0.9], np.float32),
        np.asarray([[0.2, 0.2, 0.4, 0.4]], np.float32),
    )
    totals = [
        engine.update(det, float(i), LABELS).counts["all"].total()
        for i, det in enumerate([seen, seen, seen, Detections.empty(), Detections.empty()])
    ]
    assert totals == [0, 1, 1, 1, 0]


def test_each_zone_column_equals_that_zone_alone() -> None:
    """Zones of every anchor kind, in mixed order, with their own labels, scores and areas:
    the engine tests the point zones and the overlap zones in two calls and reorders the
    columns; each column must be what an engine with only that zone says."""
    rng = np.random.default_rng(11)
    zones = [
        ZoneConfig.model_validate(
            {
                "name": f"z{i}",
                "points": rng.uniform(0, 1, (int(rng.integers(3, 8)), 2)).round(3).tolist(),
                "anchor": anchor,
                "labels": [["1", "2"], None, ["3"]][i % 3],
                "min_score": [0.0, 0.5][i % 2],
                "min_area": [0.0, 0.01, 0.0, 0.005][i % 4],
            }
        )
        for i, anchor in enumerate(["any", "center", "bottom_center", "any", "center", "any"])
    ]
    corner = rng.uniform(0, 0.9, (60, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(0, 0.2, (60, 2))], 1)
    det = Detections(
        rng.integers(-1, 12, 60), rng.uniform(0, 1, 60).astype(np.float32), boxes.astype(np.float32)
    )
    together = ZoneEngine(zones, labels=LABELS).test(det, LABELS)
    assert together.shape == (60, 6) and together.any()
    for z, zone in enumerate(zones):
        alone = ZoneEngine([zone], labels=LABELS).test(det, LABELS)[:, 0]
        assert together[:, z].tolist() == alone.tolist(), zone.name


def test_a_mask_drops_infinite_and_nan_boxes_without_a_warning() -> None:
    """Rows that cannot be written are dropped before the mask test sees them as zeros, so
    an infinity never meets the polygon arithmetic (filterwarnings = error would fail)."""
    mask = MaskConfig.model_validate({"points": [[0.6, 0.6], [1, 0.6], [1, 1], [0.6, 1]]})
    engine = ZoneEngine([], masks=[mask], labels=LABELS)
    boxes = np.asarray(
        [
            [0.1, 0.1, 0.3, np.inf],
            [0.1, 0.1, 0.3, 0.3],
            [np.nan, 0, 0.1, 0.1],
            [0.7, 0.7, 0.8, 0.8],
        ],
        np.float32,
    )
    det = Detections(np.asarray([1, 2, 3, 4]), np.full(4, 0.9, np.float32), boxes)
    assert engine.keep(det).class_id.tolist() == [2]
