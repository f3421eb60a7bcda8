"""``edge run`` imports only what the chosen path needs (cold start on a Pi).

Each probe runs in a fresh interpreter and lists ``sys.modules`` after the run, so a
module imported at the top of a file that the path touches shows up here. The positive
checks (a decoder or source module *is* imported when chosen) keep the lists honest:
a probe that imported nothing at all would pass the negative checks too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ZOO = Path(__file__).resolve().parents[2] / "models" / "zoo"

PROBE = """
import json, sys
from edge.cli import main
assert main(sys.argv[1:]) == 0
print('MODULES:' + json.dumps(sorted(sys.modules)))
"""

# Never needed by a classifier on the synthetic camera into a JSONL file.
NOT_NEEDED = (
    "paho",
    "edge.sinks.mqtt.client",
    "edge.sinks.mqtt.outbox",
    "edge.sinks.mqtt.homeassistant",
    "edge.sources.picamera",
    "edge.sources.opencv",
    "edge.sources.live",
    "edge.sources.images",
    "edge.observers.preview",
    "edge.observers.recorder",
    "edge.observers.snapshots",
    "edge.observers.annotate",
    "edge.service.install",
    "edge.service.unit",
    "edge.decoders.centernet",
    "edge.decoders.ssd",
    "edge.decoders.yolo",
    "edge.processing.geometry",
    "edge.decoders.heads",
    "edge.decoders.anomaly",
    "edge.processing.motion",
    "edge.events.tracker",
    "edge.events.writer",
    "edge.bench.run",
    "edge.bench.compiled_model",
    "sqlite3",
    "jsonschema",
    "edge.http",  # the web server: only with [http] enabled / --http
    "prometheus_client",
    "http.server",
)


def modules_after(args: list[str], cwd: Path) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip().splitlines()[-1]
    assert line.startswith("MODULES:")
    return set(json.loads(line[len("MODULES:") :]))


def imported(modules: set[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


def test_default_run_imports_only_its_own_path(tmp_path: Path) -> None:
    modules = modules_after(["run", "--max-frames", "1", "--sink", "jsonl:out.jsonl"], tmp_path)
    assert "edge.sources.synthetic" in modules and "edge.sinks.jsonl" in modules
    assert "edge.decoders.registry" in modules and "edge.decoders.classify" in modules
    loaded = [name for name in NOT_NEEDED if imported(modules, name)]
    assert loaded == []


@pytest.mark.parametrize(
    ("model", "decoder_module"),
    [
        ("digits-detector.int8.tflite", "edge.decoders.centernet"),
        ("digits-anomaly.int8.tflite", "edge.decoders.anomaly"),
    ],
)
def test_a_decoder_is_imported_only_when_chosen(
    tmp_path: Path, model: str, decoder_module: str
) -> None:
    modules = modules_after(
        ["run", "--model", str(ZOO / model), "--max-frames", "1", "--sink", "jsonl:out.jsonl"],
        tmp_path,
    )
    assert decoder_module in modules
    others = {
        "edge.decoders.ssd",
        "edge.decoders.yolo",
        "edge.decoders.centernet",
        "edge.decoders.anomaly",
    } - {decoder_module}
    assert sorted(m for m in others if m in modules) == []


def test_a_video_file_run_imports_the_opencv_source(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"MJPG"), 10, (64, 48))
    for i in range(3):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    modules = modules_after(
        ["run", "--source", str(clip), "--max-frames", "1", "--sink", "jsonl:out.jsonl"], tmp_path
    )
    assert "edge.sources.opencv" in modules
    assert not imported(modules, "edge.sources.picamera") and not imported(modules, "paho")
