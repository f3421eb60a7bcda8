"""``edge run`` with zones: the shipped detector on the 4-digit synthetic camera, records
and events against the /2 schemas, what a /1 reader sees, and the count accuracy."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema

from edge.model.zoo import zoo_file
from edge.sources.synthetic import SceneTruth, SyntheticCamera
from tests.conftest import REPO, RunEdge, read_jsonl
from tests.edge.zones.scenes import QUADRANTS, crossing_camera, truth_counts, truth_crossings

DETECTOR = zoo_file("digits-detector.int8.tflite")
# The detector's second stage (docs/refine.md): it names the boxes it was unsure of again.
CROPS = zoo_file("digits-crops.int8.tflite")
# 400 scenes of 4 held-out digits (1,600 draws from the 1,000): one wrongly named digit
# moves the figure by a quarter of a point, so a bar at the 95 % does not hang
# on one digit that another CPU's rounding might flip (at 200 scenes it was half a point).
FRAMES, HOLD, INERTIA = 4000, 10, 3


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((REPO / "edge" / "schemas" / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _config(tmp_path: Path) -> Path:
    zones = "".join(
        f'[[zones]]\nname = "{name}"\nanchor = "center"\ninertia = {INERTIA}\n'
        f"points = [[{x}, {y}], [{x + 0.5}, {y}], [{x + 0.5}, {y + 0.5}], [{x}, {y + 0.5}]]\n\n"
        for name, (x, y) in QUADRANTS.items()
    )
    zones += (
        '[[zones]]\nname = "left_odd"\nanchor = "center"\n'
        f'inertia = {INERTIA}\nlabels = ["1", "3", "5", "7", "9"]\n'
        "points = [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]\n\n"
        '[[lines]]\nname = "middle"\npoints = [[0.5, 0], [0.5, 1]]\n\n'
    )
    path = tmp_path / "edge.toml"
    path.write_text(
        f"max_frames = {FRAMES}\n[model]\npath = {json.dumps(str(DETECTOR))}\n"
        f"[refine]\npath = {json.dumps(str(CROPS))}\n"
        f'[source]\nkind = "synthetic"\ndigits = 4\non_demand = true\nhold_frames = {HOLD}\n'
        '[events]\nenabled = true\n[[sinks]]\nkind = "jsonl"\npath = "out.jsonl"\n\n' + zones
    )
    return path


def test_run_counts_zones_and_old_readers_see_the_version(
    run_edge: RunEdge, tmp_path: Path
) -> None:
    done = run_edge(["run", "--config", str(_config(tmp_path))], timeout=180)
    assert done.returncode == 0, done.stderr
    lines = read_jsonl(tmp_path / "out.jsonl")
    results = [r for r in lines if r["schema"].startswith("edge.result/")]
    events = [r for r in lines if r["schema"].startswith("edge.event/")]
    assert len(results) == FRAMES
    new, old = _validator("result-2.schema.json"), _validator("result-1.schema.json")
    for record in results:
        new.validate(record)
    # What a strict /1 reader sees: the schema const and the new fields, refused loudly.
    refusals = {e.message for e in old.iter_errors(results[0])}
    assert refusals == {
        "'edge.result/1' was expected",
        "Additional properties are not allowed ('lines', 'zones' were unexpected)",
        "Additional properties are not allowed ('zones' was unexpected)",  # per detection
    }
    # A lenient reader that only reads /1's fields still finds them with their meaning.
    assert {"label", "class_id", "score", "box"} <= set(results[0]["detections"][0])
    ev2, ev1 = _validator("event-2.schema.json"), _validator("event-1.schema.json")
    kinds = Counter(e["event"] for e in events)
    assert kinds["enter"] > 0 and kinds["leave"] > 0 and kinds["new"] > 0
    for event in events:
        (ev2 if event["schema"] == "edge.event/2" else ev1).validate(event)
    assert {e["event"] for e in events if e["schema"] == "edge.event/2"} <= {
        "enter",
        "leave",
        "cross",
    }
    # Counts against the truth, once inertia has settled after each scene change; and
    # against the detector's own boxes in the same record, which is what the zone logic
    # alone is answerable for.
    camera = SyntheticCamera(fps=None, digit_count=4, hold_frames=HOLD)
    right = settled = agree = zone_right = 0
    for record in results:
        frame = record["source"]["frame"]
        if frame % HOLD < INERTIA - 1:
            continue
        truth = camera.truth(frame)
        assert isinstance(truth, SceneTruth)
        expected = {k: dict(v) for k, v in truth_counts(truth).items()}
        found = {k: v["counts"] for k, v in record["zones"].items()}
        settled += 1
        right += found == expected
        zone_right += sum(found[name] == counts for name, counts in expected.items())
        agree += found == _counts_of_boxes(record)
    accuracy, agreement = right / settled, agree / settled
    print(
        f"zone counts equal the truth on {right}/{settled} settled frames ({accuracy:.1%}), "
        f"the detector's own boxes on {agree}/{settled} ({agreement:.1%}); per zone "
        f"{zone_right}/{settled * len(expected)} ({zone_right / (settled * len(expected)):.1%})"
    )
    assert agreement >= 0.98
    # All five zones and every label right at once, the goal: 96.0 % measured on
    # 2026-12-07 with the second stage (the detector alone: 95.2 %; on the first 200
    # scenes 95.3 % and 94.5 %; docs/zones.md). Of what is left, about a third are digits
    # the detector does not find at all, which no renaming mends.
    assert accuracy >= 0.95


def _counts_of_boxes(record: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Counts per zone from the record's detections alone (centre in the quadrant)."""
    counts: dict[str, Counter[str]] = {name: Counter() for name in [*QUADRANTS, "left_odd"]}
    for item in record["detections"]:
        x0, y0, x1, y1 = item["box"]
        left, top = (x0 + x1) / 2 < 0.5, (y0 + y1) / 2 < 0.5
        counts[("top" if top else "bottom") + ("_left" if left else "_right")][item["label"]] += 1
        if left and item["label"] in ("1", "3", "5", "7", "9"):
            counts["left_odd"][item["label"]] += 1
    return {k: dict(v) for k, v in counts.items()}


def test_a_run_without_zones_still_writes_result_1(run_edge: RunEdge, tmp_path: Path) -> None:
    done = run_edge(["run", "--max-frames", "3", "--sink", "jsonl:out.jsonl"])
    assert done.returncode == 0, done.stderr
    for record in read_jsonl(tmp_path / "out.jsonl"):
        assert record["schema"] == "edge.result/1"
        _validator("result-1.schema.json").validate(record)
        assert "zones" not in record


def test_the_shipped_detector_counts_line_crossings_as_the_truth(
    run_edge: RunEdge, tmp_path: Path
) -> None:
    """The moving scene rendered to a folder, run through the detector: two digits cross
    the middle line back and forth, a third jitters beside it. The crossing counts per
    direction and label equal the truth's, and each crossing is one ``cross`` event."""
    import cv2

    camera, frames = crossing_camera(), 300
    (tmp_path / "frames").mkdir()
    for i in range(frames):
        cv2.imwrite(str(tmp_path / "frames" / f"{i:04d}.png"), camera.render(i))
    (tmp_path / "edge.toml").write_text(
        f"[model]\npath = {json.dumps(str(DETECTOR))}\n"
        '[source]\nkind = "images"\npath = "frames"\n[events]\nenabled = true\n'
        '[[sinks]]\nkind = "jsonl"\npath = "out.jsonl"\n'
        '[[lines]]\nname = "middle"\npoints = [[0.5, 0], [0.5, 1]]\nanchor = "center"\n'
    )
    done = run_edge(["run", "--config", "edge.toml"], timeout=180)
    assert done.returncode == 0, done.stderr
    lines = read_jsonl(tmp_path / "out.jsonl")
    results = [r for r in lines if r["schema"] == "edge.result/2"]
    assert len(results) == frames
    expected = truth_crossings(camera, frames)
    found = results[-1]["lines"]["middle"]
    assert found == {side: dict(counts) for side, counts in expected.items()}
    crossings = [e for e in lines if e.get("event") == "cross"]
    assert len(crossings) == sum(sum(c.values()) for c in expected.values()) == 9
    ev2 = _validator("event-2.schema.json")
    for event in crossings:
        ev2.validate(event)
