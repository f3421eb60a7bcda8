"""The per-frame CPU cost of zones, masks and lines: 10 zones, 50 detections.

Measured with ``time.process_time`` (CPU time of this process, so other jobs on a shared
machine inflate it less than wall time would), over many frames of moving boxes:
- ``geometry``: the vectorised tests alone: detection masks (``keep``), zone membership
  with the per-zone filters (``test``, every anchor kind) and the line steps
  (``LineSet.crossed``, the lines prepared once as the engine does);
- ``engine``: a whole ``ZoneEngine.update`` (the IoU tracker, inertia, crossings, counts),
  which is what a frame of ``edge run`` pays;
- ``keep``, ``test``, ``lines``: the geometry's three parts alone (``lines`` is
  ``crossed`` without the anchor points). Its ``before`` is frame 0, so many steps change
  side and the segment test runs (the engine's steps are one frame long: mostly not).

    PYTHONPATH=$PWD python benchmarks/zones.py [--frames 2000] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from edge.config.zones import LineConfig, MaskConfig, ZoneConfig
from edge.types import Detections
from edge.zones.engine import ZoneEngine
from edge.zones.geometry import LineSet, anchor_points

LABELS = tuple(str(d) for d in range(10))


def _polygon(rng: np.random.Generator, corners: int = 6) -> list[list[float]]:
    cx, cy, r = rng.uniform(0.25, 0.75), rng.uniform(0.25, 0.75), rng.uniform(0.1, 0.25)
    angles = np.sort(rng.uniform(0, 2 * math.pi, corners))
    return [[cx + r * math.cos(a), cy + r * math.sin(a)] for a in angles]


def setup(
    zones: int = 10, detections: int = 50, seed: int = 0
) -> tuple[ZoneEngine, list[Detections]]:
    rng = np.random.default_rng(seed)
    anchors = ["bottom_center", "center", "any"]
    zone_configs = [
        ZoneConfig.model_validate(
            {"name": f"z{i}", "points": _polygon(rng), "anchor": anchors[i % 3], "inertia": 3}
        )
        for i in range(zones)
    ]
    lines = [
        LineConfig.model_validate({"name": f"l{i}", "points": [[0.1, y], [0.9, y + 0.05]]})
        for i, y in enumerate((0.3, 0.5, 0.7))
    ]
    masks = [
        MaskConfig.model_validate({"points": _polygon(rng, 5)}),
        MaskConfig.model_validate({"points": _polygon(rng, 5), "anchor": "center"}),
    ]
    engine = ZoneEngine(zone_configs, lines, masks, labels=LABELS)
    start = rng.uniform(0.05, 0.85, (detections, 2)).astype(np.float32)
    velocity = rng.uniform(-0.004, 0.004, (detections, 2)).astype(np.float32)
    classes = rng.integers(0, 10, detections)
    frames = []
    for i in range(200):
        corner = np.clip(start + i * velocity, 0, 0.9)
        boxes = np.concatenate([corner, corner + 0.08], axis=1).astype(np.float32)
        frames.append(Detections(classes, np.full(detections, 0.9, np.float32), boxes))
    return engine, frames


def _cpu_us(work: object, frames: int) -> float:
    assert callable(work)
    start = time.process_time()
    for i in range(frames):
        work(i)
    return (time.process_time() - start) / frames * 1e6


def measure(frames: int = 2000, zones: int = 10, detections: int = 50) -> dict[str, float]:
    engine, scenes = setup(zones, detections)
    lines = LineSet(np.asarray([line.points for line in engine.lines], np.float32))
    before = anchor_points(scenes[0].xyxy, "bottom_center")  # type: ignore[arg-type]

    def geometry(i: int) -> None:
        kept = engine.keep(scenes[i % len(scenes)])
        engine.test(kept, LABELS)
        lines.crossed(before[: len(kept)], anchor_points(kept.xyxy, "bottom_center"))  # type: ignore[arg-type]

    def whole(i: int) -> None:
        engine.update(engine.keep(scenes[i % len(scenes)]), i / 30, LABELS)

    # The geometry's parts on their own, for where the time goes (inputs prepared ahead).
    kept = [engine.keep(scene) for scene in scenes]
    after = [anchor_points(k.xyxy, "bottom_center") for k in kept]  # type: ignore[arg-type]
    parts = {
        "keep_us": lambda i: engine.keep(scenes[i % len(scenes)]),
        "test_us": lambda i: engine.test(kept[i % len(kept)], LABELS),
        "lines_us": lambda i: lines.crossed(before[: len(after[i % 200])], after[i % 200]),
    }

    geometry(0)
    whole(0)
    return {
        "zones": zones,
        "detections": detections,
        "frames": frames,
        "geometry_us": round(min(_cpu_us(geometry, frames) for _ in range(3)), 1),
        "engine_us": round(min(_cpu_us(whole, frames) for _ in range(3)), 1),
    } | {
        name: round(min(_cpu_us(work, frames) for _ in range(3)), 1) for name, work in parts.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.frames)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['zones']} zones, {result['detections']} detections: "
            f"geometry {result['geometry_us']} us/frame, whole engine "
            f"{result['engine_us']} us/frame (CPU time, best of 3 x {args.frames} frames); "
            f"geometry's parts: keep {result['keep_us']}, test {result['test_us']}, "
            f"crossed {result['lines_us']} us"
        )


if __name__ == "__main__":
    main()
