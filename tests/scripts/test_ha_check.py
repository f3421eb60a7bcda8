"""scripts/ha_check/check.py (the checks of scripts/test-ha.sh) on hand-made Home
Assistant data: what HA would hold if every entity of scripts/ha_check/expected.py were
there and behaved, and one fault at a time, each of which must fail with its message.

The real run needs root and a Debian root with HA; this keeps the checks themselves
honest (a check that cannot fail is no check) in the ordinary suite, in about a second.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
CHECK = REPO / "scripts" / "ha_check" / "check.py"
T0, PAUSE, RESUME, END = 1000.0, 1010.0, 1040.0, 1060.0
THRESHOLDS = {"detector": 0.4, "anomaly": 0.1}


def table() -> dict[str, dict[str, tuple[str, str | None, str]]]:
    spec = importlib.util.spec_from_file_location("expected", CHECK.with_name("expected.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    entities: dict[str, dict[str, tuple[str, str | None, str]]] = module.ENTITIES
    return entities


def good_states(kind: str, device_kind: str) -> list[tuple[float, str]]:
    iso = "2026-12-07T08:00:0{}+00:00"
    states = {
        "event": [(T0, "unknown"), (T0 + 2, iso.format(2))],
        "event_any": [(T0, "unknown")],
        "on_off": [(T0, "off"), (T0 + 2, "on"), (RESUME + 5, "off")],
        "number": [(T0, "unknown"), (T0 + 2, "1"), (RESUME + 5, "2")],
        "number_or_unknown": [(T0, "unknown")],
        "fps": [(T0 + 1, "29.9"), (T0 + 6, "30.0")],
        # HA may record "paused" a moment before the script notes the pause's time.
        "status": [(T0 + 1, "running"), (PAUSE - 0.2, "paused"), (RESUME + 1, "running")],
        "threshold": [(T0 + 1, str(THRESHOLDS[device_kind]))],
        "image": [(T0 + 2, iso.format(2)), (T0 + 4, iso.format(4))],
        "image_any": [(T0, "unknown")],
    }[kind]
    return [*states, (END, "unavailable")]


def make_ha(tmp: Path, fault: str) -> list[str]:
    """HA's config folder, inspect files, snapshot; returns check.py's arguments."""
    cfg = tmp / "ha"
    (cfg / ".storage").mkdir(parents=True)
    devices: list[dict[str, Any]] = []
    entities: list[dict[str, Any]] = []
    states: list[tuple[str, float, str]] = []
    args = ["--config-dir", str(cfg), "--camera-fps", "30"]
    for name, kind, model in (
        ("hatest-det", "detector", "digits-detector"),
        ("hatest-anom", "anomaly", "digits-anomaly"),
    ):
        labels = ["0", "1"] if kind == "detector" else []
        key = "score_threshold" if kind == "detector" else "threshold"
        manifest = {
            "name": model,
            "labels": labels,
            "decoder": {"params": {key: THRESHOLDS[kind]}},
        }
        (tmp / f"{model}.json").write_text(json.dumps({"manifest": manifest}))
        args += ["--device", f"{name}={kind}:{tmp / f'{model}.json'}"]
        devices.append({"id": name, "name": name, "manufacturer": "edge-infer", "model": model})
        for key_, (domain, category, state_kind) in table()[kind].items():
            for i in range(len(labels)) if "{i}" in key_ else [0]:
                uid = f"{name}_{key_.replace('{i}', str(i))}"
                if fault == "missing" and uid == "hatest-det_count_all":
                    continue
                got_category = None if fault == "category" and uid == "hatest-det_fps" else category
                eid = f"{domain}.{uid.replace('-', '_')}"
                entities.append(
                    {
                        "entity_id": eid,
                        "unique_id": uid,
                        "platform": "mqtt",
                        "device_id": name,
                        "entity_category": got_category,
                    }
                )
                recorded = good_states(state_kind, kind)
                if fault == "fps" and uid == "hatest-det_fps":
                    recorded.insert(0, (T0 + 0.5, "77.0"))
                if fault == "threshold" and uid == "hatest-det_threshold":
                    recorded = [(T0 + 1, "0.0")]
                if fault == "unavailable" and uid == "hatest-det_label_0":
                    recorded.insert(1, (PAUSE + 12, "unavailable"))
                if fault == "never_paused" and uid == "hatest-det_status":
                    recorded = [(T0 + 1, "running")]
                if fault == "not_a_number" and uid == "hatest-anom_anomaly_score":
                    recorded.insert(1, (T0 + 3, "None"))
                states += [(eid, ts, s) for ts, s in recorded]
    store = {"version": 1, "minor_version": 1}
    (cfg / ".storage" / "core.device_registry").write_text(
        json.dumps({**store, "key": "core.device_registry", "data": {"devices": devices}})
    )
    (cfg / ".storage" / "core.entity_registry").write_text(
        json.dumps({**store, "key": "core.entity_registry", "data": {"entities": entities}})
    )
    con = sqlite3.connect(cfg / "home-assistant_v2.db")
    con.execute("CREATE TABLE states_meta (metadata_id INTEGER PRIMARY KEY, entity_id TEXT)")
    con.execute(
        "CREATE TABLE states (state_id INTEGER PRIMARY KEY, metadata_id INTEGER, "
        "state TEXT, last_updated_ts REAL)"
    )
    ids = {eid: n for n, eid in enumerate(sorted({e for e, _, _ in states}), 1)}
    con.executemany("INSERT INTO states_meta VALUES (?, ?)", [(n, e) for e, n in ids.items()])
    con.executemany(
        "INSERT INTO states (metadata_id, state, last_updated_ts) VALUES (?, ?, ?)",
        [(ids[e], s, ts) for e, ts, s in states],
    )
    con.commit()
    con.close()
    log = "2026-12-07 08:00:01.000 INFO (MainThread) [homeassistant.components.mqtt.client] ok\n"
    if fault == "log":
        log += (
            "2026-12-07 08:00:02.000 ERROR (MainThread) [homeassistant.components.mqtt."
            "discovery] Invalid discovery payload\nTraceback: ...\n"
        )
    (cfg / "home-assistant.log").write_text(log)
    jpeg = cv2.imencode(".jpg", np.full((24, 32, 3), 99, np.uint8))[1].tobytes()
    (tmp / "snapshot.bin").write_bytes(b"not a jpeg" if fault == "jpeg" else jpeg)
    (tmp / "proxy.jpg").write_bytes(jpeg)
    return [
        *args,
        *("--pause-ts", str(PAUSE), "--resume-ts", str(RESUME)),
        *("--paused-device", "hatest-det", "--snapshot", str(tmp / "snapshot.bin")),
        *("--proxy", str(tmp / "proxy.jpg"), "--proxy-status", "proxy 200"),
    ]


def run_check(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECK), *args], capture_output=True, text=True, check=False
    )


def test_everything_as_expected_passes(tmp_path: Path) -> None:
    done = run_check(make_ha(tmp_path, fault=""))
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"ha-check: \d+ of \d+ checks passed, 0 failed", done.stdout)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("missing", "FAIL  hatest-det_count_all: entity exists: missing"),
        ("category", "FAIL  hatest-det_fps: sensor, category diagnostic"),
        ("fps", "max 77 (limit 45 = 1.5 x the camera's 30 fps); over it: 77 at +0 s"),
        ("threshold", "model's effective threshold 0.4; recorded [0.0]"),
        ("unavailable", "recorded unavailable: unavailable: hatest-det_label_0"),
        ("not_a_number", "hatest-anom_anomaly_score recorded states (number): not numbers"),
        ("never_paused", "during the pause: ['running']"),
        ("log", "FAIL  no ERROR about mqtt or discovery in HA's log: 1 errors"),
        ("jpeg", "FAIL  a message on <prefix>/snapshot is a JPEG: 10 bytes, starts 6e6f"),
    ],
)
def test_each_fault_fails_with_its_message(tmp_path: Path, fault: str, message: str) -> None:
    done = run_check(make_ha(tmp_path, fault))
    assert done.returncode == 1, done.stdout + done.stderr
    assert message in done.stdout, done.stdout
    assert "1 failed" in done.stdout, done.stdout
