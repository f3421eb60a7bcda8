"""The comparisons of scripts/test-pi.sh, run on the host with the dev venv.

    python scripts/pi_check/compare.py records X86_DIR ARM_DIR [--frames 300]
        every MODEL.jsonl in X86_DIR (``edge run`` on x86) against ARM_DIR/MODEL.jsonl
        (the same clip in the arm64 root): they agree when at least 98 % of the frames
        have equal labels and the scores of those frames are within 0.05
    python scripts/pi_check/compare.py figures EVAL_DIR
        every MODEL.json in EVAL_DIR (``edge eval --json`` in the arm64 root) against the
        quantized column of the README's "The shipped models", within its printed rounding
    python scripts/pi_check/compare.py lock PIP_LIST_JSON LOCK
        the device venv (``pip list --format=json``) has every pin of LOCK installed at
        its version, and no TensorFlow

Each prints one line per model (or one summary line) and exits 1 when anything disagrees.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

MIN_LABELS_EQUAL = 0.98
MAX_SCORE_DIFF = 0.05


def read_records(path: Path) -> dict[int, dict[str, Any]]:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {int(r["source"]["frame"]): r for r in records}


def frame_view(record: dict[str, Any]) -> tuple[tuple[str, ...], list[float], list[list[float]]]:
    """Labels (detections sorted by label, then score; the anomaly verdict), their scores,
    and boxes where there are any."""
    detections = sorted(record["detections"], key=lambda d: (d["label"], -d["score"]))
    labels = [d["label"] for d in detections]
    scores = [float(d["score"]) for d in detections]
    boxes = [list(d["box"]) for d in detections if "box" in d]
    anomaly = record.get("anomaly")
    if anomaly is not None:
        labels.append("anomalous" if anomaly["anomalous"] else "normal")
        scores.append(float(anomaly["score"]))
    return tuple(labels), scores, boxes


def compare_records(name: str, x86: Path, arm: Path, frames: int) -> bool:
    if not arm.exists():
        print(f"{name}: no arm64 records ({arm.name} missing) — FAILED")
        return False
    a, b = read_records(x86), read_records(arm)
    problems = []
    if len(a) != frames or len(b) != frames or set(a) != set(b):
        problems.append(f"frames: x86 {len(a)}, arm64 {len(b)}, expected {frames} each")
    shas = {r["model"]["sha256"] for r in (*a.values(), *b.values())}
    if len(shas) != 1:
        problems.append(f"the two runs used different model files ({len(shas)} digests)")
    common = sorted(set(a) & set(b))
    equal = 0
    score_diff = 0.0
    box_diff = 0.0
    for frame in common:
        labels_a, scores_a, boxes_a = frame_view(a[frame])
        labels_b, scores_b, boxes_b = frame_view(b[frame])
        if labels_a != labels_b:
            continue
        equal += 1
        diffs = [abs(x - y) for x, y in zip(scores_a, scores_b, strict=True)]
        score_diff = max([score_diff, *diffs])
        for box_a, box_b in zip(boxes_a, boxes_b, strict=True):
            box_diff = max([box_diff, *(abs(x - y) for x, y in zip(box_a, box_b, strict=True))])
    share = equal / max(len(common), 1)
    if share < MIN_LABELS_EQUAL:
        problems.append(f"fewer than {MIN_LABELS_EQUAL:.0%} of labels equal")
    if score_diff > MAX_SCORE_DIFF:
        problems.append(f"scores differ by more than {MAX_SCORE_DIFF}")
    boxes = f", max box diff {box_diff:.3f}" if any(frame_view(r)[2] for r in a.values()) else ""
    verdict = "ok" if not problems else "FAILED: " + "; ".join(problems)
    print(
        f"{name}: {equal}/{len(common)} labels equal ({100 * share:.1f} %), "
        f"max score diff {score_diff:.3f}{boxes} — {verdict}"
    )
    return not problems


def readme_table() -> tuple[Any, Any, Any]:
    """The README table parser of the repo's tests (tests/models/readme_table.py)."""
    sys.path.insert(0, str(REPO))
    from tests.models.readme_table import first_number, first_number_text, readme_rows

    return readme_rows, first_number, first_number_text


UNITS = {"accuracy": " %", "psnr": " dB"}


def compare_figures(eval_dir: Path) -> bool:
    readme_rows, first_number, first_number_text = readme_table()
    rows = readme_rows()
    ok = True
    results = sorted(eval_dir.glob("*.json"))
    if not results:
        print(f"no edge eval results in {eval_dir} — FAILED")
        return False
    seen = set()
    for path in results:
        result = json.loads(path.read_text())
        model = str(result["model"])
        stem = Path(model).name.removesuffix(".tflite").removesuffix(".int8")
        seen.add(stem)
        if stem not in rows:
            print(f"{stem}: not in the README's table — FAILED")
            ok = False
            continue
        printed, tolerance = first_number(rows[stem]["quantized"])
        value = float(result["value"])
        metric = str(result["metric"])
        unit = UNITS.get(metric, "")
        decimals = max(0, round(-math.log10(2 * tolerance)))  # the printed ones
        within = abs(value - printed) <= tolerance + 1e-9
        print(
            f"{stem}: arm64 {metric} {value:.{decimals + 2}f}{unit} on {result['samples']} "
            f"held-out samples ({Path(str(result['data'])).name}) vs README "
            f"{first_number_text(rows[stem]['quantized'])}{unit} (±{tolerance:g}) — "
            + ("ok" if within else "FAILED: outside the printed rounding")
        )
        ok = ok and within
    missing = sorted(set(rows) - seen)
    if missing:
        print(f"no arm64 figure for {', '.join(missing)} — FAILED")
        ok = False
    return ok


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def compare_lock(pip_list: Path, lock: Path) -> bool:
    installed = {canonical(p["name"]): p["version"] for p in json.loads(pip_list.read_text())}
    pins = {}
    for line in lock.read_text().splitlines():
        if (m := re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line)) is not None:
            pins[canonical(m[1])] = m[2]
    wrong = [
        f"{name} {installed.get(name, 'missing')} (lock: {version})"
        for name, version in sorted(pins.items())
        if installed.get(name) != version
    ]
    heavy = sorted(name for name in installed if name.startswith(("tensorflow", "keras")))
    shown = ", ".join(
        f"{name} {pins[name]}"
        for name in ("numpy", "opencv-python-headless", "ai-edge-litert", "pydantic", "paho-mqtt")
        if name in pins
    )
    if wrong or heavy:
        print(
            f"device venv vs {lock.name} — FAILED: "
            + "; ".join([*wrong, *(f"{name} installed" for name in heavy)])
        )
        return False
    print(
        f"device venv = {lock.name}: all {len(pins)} pins installed at their versions "
        f"({shown}, ...); no TensorFlow, no Keras — ok"
    )
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    records = commands.add_parser("records")
    records.add_argument("x86", type=Path)
    records.add_argument("arm", type=Path)
    records.add_argument("--frames", type=int, default=300)
    figures = commands.add_parser("figures")
    figures.add_argument("eval_dir", type=Path)
    lock = commands.add_parser("lock")
    lock.add_argument("pip_list", type=Path)
    lock.add_argument("lock", type=Path)
    args = parser.parse_args()
    if args.command == "records":
        paths = sorted(args.x86.glob("*.jsonl"))
        if not paths:
            print(f"no x86 records in {args.x86} — FAILED")
            return 1
        results = [compare_records(p.stem, p, args.arm / p.name, args.frames) for p in paths]
        return 0 if all(results) else 1
    if args.command == "figures":
        return 0 if compare_figures(args.eval_dir) else 1
    return 0 if compare_lock(args.pip_list, args.lock) else 1


if __name__ == "__main__":
    sys.exit(main())
