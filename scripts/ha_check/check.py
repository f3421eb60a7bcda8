"""What a real Home Assistant made of our MQTT discovery (scripts/test-ha.sh), read after
HA stopped: its registries, its recorded states and its log.

    python scripts/ha_check/check.py --config-dir HA_CONFIG \\
        --device hatest-det=detector:DET_INSPECT.json \\
        --device hatest-anom=anomaly:ANOM_INSPECT.json \\
        --camera-fps 30 --pause-ts P --resume-ts R --paused-device hatest-det \\
        --snapshot SNAPSHOT.bin --proxy PROXY.jpg --proxy-status "api 200, proxy 200"

``--device NAME=KIND:INSPECT`` names a device, its kind (a key of ``expected.ENTITIES``)
and ``edge inspect --json`` of its model (labels, name, decoder threshold).

Checks, each printed as ``ok`` or ``FAIL`` with what was found:
- the device exists (manufacturer edge-infer, model = the model's name);
- every expected entity exists (by unique_id, on the mqtt platform, of that device) with
  the expected domain and entity_category; unexpected ones are listed;
- the recorded states of each entity look as ``expected.py`` says;
- no entity of the paused device was recorded ``unavailable`` between pause and resume;
- the snapshot the run received on ``<prefix>/snapshot`` is a JPEG OpenCV decodes, and so
  is what HA served at ``/api/image_proxy/<entity_id>``;
- HA's log has no ERROR mentioning mqtt or discovery and no "Attempting install"; its
  warnings about our devices are printed.

Standard library only, except OpenCV (the host .venv's) to decode the JPEGs. Exit 1 when
any check fails.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sqlite3
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from expected import ENTITIES, MAX_FPS_FACTOR

GONE = {"unavailable", "unknown"}
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ (?P<level>[A-Z]+) ")


@dataclass
class Device:
    name: str
    kind: str
    model: str
    labels: list[str]
    threshold: float | None

    @property
    def object_id(self) -> str:
        return re.sub(r"[^a-zA-Z0-9_-]", "_", self.name)


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    passed: int = 0

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        line = f"{what}{': ' + detail if detail else ''}"
        if ok:
            self.passed += 1
            print(f"  ok    {line}")
        else:
            self.failures.append(line)
            print(f"  FAIL  {line}")
        return ok


def effective_threshold(manifest: dict[str, Any]) -> float | None:
    params = manifest.get("decoder", {}).get("params", {})
    for key in ("score_threshold", "threshold"):
        if isinstance(params.get(key), int | float):
            return float(params[key])
    return None


def read_device(spec: str) -> Device:
    name, _, rest = spec.partition("=")
    kind, _, inspect = rest.partition(":")
    if kind not in ENTITIES:
        raise SystemExit(f"--device {spec}: kind must be one of {sorted(ENTITIES)}")
    manifest = json.loads(Path(inspect).read_text())["manifest"]
    return Device(
        name=name,
        kind=kind,
        model=str(manifest["name"]),
        labels=[str(x) for x in manifest.get("labels") or []],
        threshold=effective_threshold(manifest),
    )


def expected_entities(device: Device) -> dict[str, tuple[str, str | None, str]]:
    """unique_id -> (domain, entity_category, state kind), per-label keys expanded."""
    out: dict[str, tuple[str, str | None, str]] = {}
    for key, value in ENTITIES[device.kind].items():
        indices = range(len(device.labels)) if "{i}" in key else [None]
        for i in indices:
            out[f"{device.object_id}_{key.replace('{i}', str(i))}"] = value
    return out


def load_store(config: Path, key: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((config / ".storage" / key).read_text())["data"]
    return data


def recorded_states(db: Path) -> dict[str, list[tuple[float, str]]]:
    """entity_id -> [(last_updated_ts, state)] in time order."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT m.entity_id, s.last_updated_ts, s.state FROM states s "
            "JOIN states_meta m ON s.metadata_id = m.metadata_id "
            "ORDER BY s.last_updated_ts, s.state_id"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[tuple[float, str]]] = {}
    for entity_id, ts, state in rows:
        out.setdefault(str(entity_id), []).append((float(ts), str(state)))
    return out


def as_float(state: str) -> float | None:
    try:
        value = float(state)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def check_states(
    report: Report,
    uid: str,
    kind: str,
    states: list[tuple[float, str]],
    *,
    device: Device,
    camera_fps: float,
    window: tuple[float, float] | None,
) -> None:
    values = [s for _, s in states if s not in GONE]
    what = f"{uid} recorded states ({kind})"
    if kind in {"number", "number_or_unknown", "fps", "threshold"}:
        bad = sorted({s for s in values if as_float(s) is None})
        numbers = [v for s in values if (v := as_float(s)) is not None]
        if bad:
            report.check(False, what, f"not numbers: {bad[:5]}")
            return
        if not numbers:
            if kind == "number_or_unknown" and any(s == "unknown" for _, s in states):
                report.check(True, what, "only 'unknown' (no value on this machine)")
            else:
                report.check(False, what, f"no numeric state in {len(states)} recorded")
            return
        if kind == "fps":
            limit = MAX_FPS_FACTOR * camera_fps
            start = states[0][0]
            over = [
                f"{v:g} at +{ts - start:.0f} s"
                for ts, s in states
                if (v := as_float(s) or 0.0) > limit
            ]
            report.check(
                not over,
                what,
                f"{len(numbers)} values, max {max(numbers):g} (limit {limit:g} = "
                f"{MAX_FPS_FACTOR} x the camera's {camera_fps:g} fps)"
                + (
                    f"; over it: {', '.join(over[:5])} (after the entity's first state)"
                    if over
                    else ""
                ),
            )
        elif kind == "threshold":
            want = device.threshold
            wrong = sorted({v for v in numbers if want is None or abs(v - want) > 1e-6})
            report.check(
                want is not None and want != 0 and not wrong,
                what,
                f"model's effective threshold {want}; recorded {sorted(set(numbers))[:5]}",
            )
        else:
            report.check(True, what, f"{len(numbers)} numbers, last {numbers[-1]:g}")
    elif kind == "on_off":
        bad = sorted({s for s in values if s not in {"on", "off"}})
        report.check(
            not bad and bool(values),
            what,
            f"{values.count('on')} on, {values.count('off')} off"
            + (f", unexpected {bad[:5]}" if bad else ""),
        )
    elif kind == "status":
        bad = sorted({s for s in values if s not in {"running", "paused"}})
        detail = f"{values.count('running')} running, {values.count('paused')} paused"
        ok = not bad and "running" in values
        if window is not None:
            # What the entity showed in the window: the state in effect when it opened (HA
            # may record "paused" a moment before the script notes the time) and changes.
            before = [s for ts, s in sorted(states) if ts < window[0]][-1:]
            during = before + [s for ts, s in states if window[0] <= ts <= window[1]]
            ok = ok and "paused" in during and during[-1] == "paused"
            detail += f"; during the pause: {during or 'nothing'}"
        report.check(ok, what, detail + (f", unexpected {bad[:5]}" if bad else ""))
    elif kind in {"event", "event_any", "image", "image_any"}:
        times = [s for s in values if _is_time(s)]
        bad = sorted({s for s in values if not _is_time(s)})
        if kind == "event":
            ok, detail = bool(times) and not bad, f"{len(times)} events recorded"
        elif kind in {"event_any", "image_any"}:
            ok, detail = not bad, f"{len(times)} recorded (none needed)"
        else:
            ok = len(set(times)) >= 2 and not bad
            detail = f"{len(set(times))} distinct image times (the image changed: >= 2)"
        report.check(ok, what, detail + (f", not times: {bad[:5]}" if bad else ""))
    else:
        raise SystemExit(f"expected.py: unknown state kind {kind!r} for {uid}")


def _is_time(state: str) -> bool:
    try:
        datetime.fromisoformat(state)
    except ValueError:
        return False
    return True


def check_jpeg(report: Report, what: str, path: Path | None, note: str = "") -> None:
    data = path.read_bytes() if path is not None and path.exists() else b""
    if not data:
        report.check(False, what, f"nothing received{'; ' + note if note else ''}")
        return
    import cv2  # the host .venv's OpenCV, only here
    import numpy as np

    markers = data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    shape = "not decodable" if image is None else f"{image.shape[1]}x{image.shape[0]}"
    report.check(
        markers and image is not None,
        what,
        f"{len(data)} bytes, starts {data[:2].hex()} ends {data[-2:].hex()}, OpenCV: {shape}"
        + (f"; {note}" if note else ""),
    )


def check_log(report: Report, log: Path, devices: list[Device]) -> None:
    names = {d.name for d in devices} | {d.object_id for d in devices}
    errors, warnings, installs = [], [], []
    current: list[str] = []
    entries: list[list[str]] = []
    for line in log.read_text(errors="replace").splitlines():
        if LOG_LINE.match(line):
            current = [line]
            entries.append(current)
        elif current:
            current.append(line)
    for entry in entries:
        head = entry[0]
        text = "\n".join(entry)
        level = LOG_LINE.match(head)
        if "Attempting install of" in head or "Unable to install" in head:
            installs.append(head)
        if level is None:
            continue
        if level["level"] in {"ERROR", "CRITICAL"} and re.search(
            r"mqtt|discovery", text, re.IGNORECASE
        ):
            errors.append(text)
        elif level["level"] == "WARNING" and any(n in text for n in names):
            warnings.append(head)
    for w in warnings:
        print(f"  warning in HA's log: {w[:300]}")
    report.check(
        not installs,
        "HA installed no package at start (requirements/ha.lock has them all)",
        "; ".join(i[:200] for i in installs[:5]),
    )
    report.check(
        not errors,
        "no ERROR about mqtt or discovery in HA's log",
        f"{len(errors)} errors:\n" + "\n".join(e[:1500] for e in errors[:10]) if errors else "",
    )


def check_device(
    report: Report,
    device: Device,
    dev_reg: list[dict[str, Any]],
    by_uid: dict[str, dict[str, Any]],
    states: dict[str, list[tuple[float, str]]],
    *,
    camera_fps: float,
    window: tuple[float, float] | None,
) -> None:
    """The device, its entities and their recorded states; ``window`` (pause, resume)
    for the paused device only."""
    print(
        f"\n{device.name} ({device.kind}, model {device.model}, "
        f"{len(device.labels)} labels, threshold {device.threshold}):"
    )
    found = [d for d in dev_reg if d.get("name") == device.name]
    dev = found[0] if found else None
    report.check(
        dev is not None
        and dev.get("manufacturer") == "edge-infer"
        and dev.get("model") == device.model,
        f"device {device.name!r} in the device registry",
        "none"
        if dev is None
        else f"manufacturer {dev.get('manufacturer')!r}, model "
        f"{dev.get('model')!r}, sw {dev.get('sw_version')!r}, identifiers "
        f"{dev.get('identifiers')}",
    )
    dev_id = dev.get("id") if dev else None
    expected = expected_entities(device)
    ours = {
        uid: e
        for uid, e in by_uid.items()
        if e.get("device_id") == dev_id or uid.startswith(device.object_id + "_")
    }
    rows = []
    for uid, (domain, category, kind) in expected.items():
        entry = ours.get(uid)
        if entry is None:
            report.check(False, f"{uid}: entity exists", "missing")
            continue
        got_domain = str(entry["entity_id"]).split(".", 1)[0]
        got_cat = entry.get("entity_category")
        report.check(
            got_domain == domain and got_cat == category and entry.get("device_id") == dev_id,
            f"{uid}: {domain}, category {category}",
            f"{entry['entity_id']}, category {got_cat}"
            + ("" if entry.get("device_id") == dev_id else ", NOT on the device"),
        )
        recorded = states.get(str(entry["entity_id"]), [])
        check_states(
            report,
            uid,
            kind,
            recorded,
            device=device,
            camera_fps=camera_fps,
            window=window,
        )
    for uid in sorted(set(ours) - set(expected)):
        print(f"  note  {uid}: not in expected.py ({ours[uid]['entity_id']})")
    for uid, entry in sorted(ours.items()):
        recorded = states.get(str(entry["entity_id"]), [])
        rows.append(
            (
                uid,
                str(entry["entity_id"]).split(".", 1)[0],
                str(entry.get("entity_category") or "-"),
                str(len(recorded)),
                recorded[-1][1][:32] if recorded else "-",
            )
        )
    if window:
        span = f"{_clock(window[0])} to {_clock(window[1])} UTC"
        hits = []
        for uid, entry in sorted(ours.items()):
            recorded = states.get(str(entry["entity_id"]), [])
            before = [s for ts, s in recorded if ts < window[0]]
            during = [s for ts, s in recorded if window[0] <= ts <= window[1]]
            if (before and before[-1] == "unavailable") or "unavailable" in during:
                hits.append(uid)
        report.check(
            not hits,
            f"paused {span} ({window[1] - window[0]:.0f} s): no entity of "
            f"{device.name} recorded unavailable",
            f"unavailable: {', '.join(hits)}" if hits else "",
        )
    print_table(rows)


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config-dir", type=Path, required=True)
    parser.add_argument("--device", action="append", required=True)
    parser.add_argument("--camera-fps", type=float, required=True)
    parser.add_argument("--pause-ts", type=float)
    parser.add_argument("--resume-ts", type=float)
    parser.add_argument("--paused-device")
    parser.add_argument("--snapshot", type=Path)
    parser.add_argument("--proxy", type=Path)
    parser.add_argument("--proxy-status", default="")
    args = parser.parse_args()

    devices = [read_device(spec) for spec in args.device]
    report = Report()
    dev_reg = load_store(args.config_dir, "core.device_registry")["devices"]
    ent_reg = load_store(args.config_dir, "core.entity_registry")["entities"]
    states = recorded_states(args.config_dir / "home-assistant_v2.db")
    by_uid = {e["unique_id"]: e for e in ent_reg if e.get("platform") == "mqtt"}
    window = (args.pause_ts, args.resume_ts) if args.pause_ts and args.resume_ts else None

    for device in devices:
        check_device(
            report,
            device,
            dev_reg,
            by_uid,
            states,
            camera_fps=args.camera_fps,
            window=window if device.name == args.paused_device else None,
        )
    print("\nsnapshot and image:")
    check_jpeg(report, "a message on <prefix>/snapshot is a JPEG", args.snapshot)
    if args.proxy is not None:
        check_jpeg(report, "HA's /api/image_proxy serves a JPEG", args.proxy, args.proxy_status)
    print("\nHA's log:")
    check_log(report, args.config_dir / "home-assistant.log", devices)
    total = report.passed + len(report.failures)
    print(f"\nha-check: {report.passed} of {total} checks passed, {len(report.failures)} failed")
    return 1 if report.failures else 0


def print_table(rows: list[tuple[str, str, str, str, str]]) -> None:
    header = ("unique_id", "domain", "category", "states", "last state")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    print()
    for row in [header, *rows]:
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    sys.exit(main())
