"""Home Assistant MQTT device-based discovery for one device, and its live label state.

One retained message on ``<discovery prefix>/device/<object id>/config`` describes the
device and all its entities (HA's "device discovery payload": ``device``, ``origin`` and
``components``, each component with its ``platform`` and ``unique_id``). Key names are
HA's documented full names (the abbreviations are optional); tests check the payload
against the documented key lists.

Entities (the table in docs/mqtt.md says the same):
- ``event`` "Detection": fires when a label appears (``event_type`` = the label; an
  anomaly model's is ``anomaly``), with the score, record id and time as attributes;
  from ``<prefix>/event``.
- per label (up to ``MAX_LABEL_SENSORS`` labels; detectors and classifiers): a
  ``binary_sensor`` on while the label is detected and, for detectors, a ``sensor`` with
  its count; plus "All objects", the count of every detection.
- anomaly models: ``sensor`` "Anomaly score" and ``binary_sensor`` "Anomalous"
  (``device_class: problem``).
  All of these read ``<prefix>/labels`` (``live_state``), sent when a count or the
  verdict changes and at least every ``expire_after / 3`` s while the device runs, also
  while it is paused (the paused state: nothing detected), so ``expire_after`` turns
  them unavailable (not stuck "on") only when the device dies.
- ``image`` "Last detection": the annotated JPEG on ``<prefix>/snapshot``
  (``edge.sinks.mqtt.snapshot``), when ``snapshot_interval`` is not 0.
- with ``[[zones]]`` and ``[[lines]]``: a ``sensor`` per zone and label, per zone in
  total, and per line direction, on the retained count topics (``edge.sinks.mqtt.zones``);
- diagnostic ``sensor``s (``entity_category: diagnostic``): frame rate, inference
  p50/p95, outbox depth, CPU temperature, from the retained ``<prefix>/stats``.
- ``sensor`` "Status" (``running`` / ``paused``), ``switch`` "Detection enabled" and,
  for models with a score threshold, ``number`` "Score threshold" (the threshold in
  effect: the model's until a command raises it); they read ``<prefix>/state``
  (retained) and send commands to ``<prefix>/set``.
Availability: ``<prefix>/availability``; ``stopped`` (a clean exit) shows as unavailable
like ``offline``.

``HomeAssistant`` publishes the discovery message (on connect, and again when HA's own
``<discovery prefix>/status`` says ``online``) and the live label state and events, which
are QoS 0 live state, not results: the durable copy is the record on ``results``.
Every result drives the live state, whatever the sink's ``publish`` sends on ``results``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from edge import __version__
from edge.config.sinks import ha_object_id

if TYPE_CHECKING:
    from edge.sinks.base import Record
    from edge.sinks.mqtt.connection import Publisher

log = logging.getLogger(__name__)

MAX_LABEL_SENSORS = 100
ORIGIN = {
    "name": "edge-infer",
    "sw_version": __version__,
    "support_url": "https://pypi.org/project/edge-infer/",
}


# The device's health from the retained stats: key, name, stats field, unit, device class.
DIAGNOSTICS: tuple[tuple[str, str, str, str, str | None], ...] = (
    ("fps", "Frame rate", "fps", "fps", None),
    ("infer_p50", "Inference p50", "infer_ms_p50", "ms", "duration"),
    ("infer_p95", "Inference p95", "infer_ms_p95", "ms", "duration"),
    ("outbox", "Outbox depth", "outbox.depth", "results", None),
    ("cpu_temp", "CPU temperature", "cpu_temp_c", "°C", "temperature"),
)


def object_id(device: str) -> str:
    """HA ids must match ``[a-zA-Z0-9_-]``; anything else becomes ``_`` (the config's rule,
    which also warns about it and refuses sinks that would collide)."""
    return ha_object_id(device)


def discovery_topic(discovery_prefix: str, device: str) -> str:
    return f"{discovery_prefix}/device/{object_id(device)}/config"


def discovery_payload(
    *,
    device: str,
    prefix: str,
    labels: Sequence[str],
    model_name: str,
    expire_after: int,
    task: str = "detect",
    snapshot: bool = False,
    threshold: bool = True,
    zones: Sequence[tuple[str, Sequence[str]]] = (),
    lines: Sequence[str] = (),
) -> dict[str, Any]:
    """The device discovery message. ``task`` picks the live entities (counts for
    detectors, score and verdict for anomaly models), ``snapshot`` adds the image entity
    and ``threshold`` the threshold number (a model whose results have a score to filter)."""
    oid = object_id(device)
    anomaly = task == "anomaly"
    components: dict[str, dict[str, Any]] = {
        "detection": {
            "platform": "event",
            "unique_id": f"{oid}_detection",
            "name": "Detection",
            "state_topic": f"{prefix}/event",
            "event_types": ["anomaly"] if anomaly else [str(x) for x in labels],
        },
    }
    live = f"{prefix}/labels"
    per_label = labels if len(labels) <= MAX_LABEL_SENSORS and not anomaly else ()
    # A binary sensor per label suits tens of labels; an ImageNet classifier's thousand
    # would flood Home Assistant, so past MAX_LABEL_SENSORS only the event entity remains.
    for index, label in enumerate(per_label):
        literal = json.dumps(str(label))  # a valid Jinja string literal of any label
        components[f"label_{index}"] = {
            "platform": "binary_sensor",
            "unique_id": f"{oid}_label_{index}",
            "name": f"Label {label}",
            "state_topic": live,
            "value_template": f"{{{{ 'ON' if {literal} in value_json.present else 'OFF' }}}}",
            "payload_on": "ON",
            "payload_off": "OFF",
            "expire_after": expire_after,
        }
        if task == "detect":
            components[f"count_{index}"] = _live_sensor(
                oid,
                f"count_{index}",
                f"Count {label}",
                live,
                expire_after,
                template=f"{{{{ value_json.counts.get({literal}, 0) }}}}",
                unit="objects",
            )
    if task == "detect" and per_label:
        components["count_all"] = _live_sensor(
            oid,
            "count_all",
            "All objects",
            live,
            expire_after,
            template="{{ value_json.all }}",
            unit="objects",
        )
    if anomaly:
        components["anomaly_score"] = _live_sensor(
            oid,
            "anomaly_score",
            "Anomaly score",
            live,
            expire_after,
            template="{{ value_json.anomaly_score }}",
            unit=None,
        )
        components["anomalous"] = {
            "platform": "binary_sensor",
            "unique_id": f"{oid}_anomalous",
            "name": "Anomalous",
            "device_class": "problem",
            "state_topic": live,
            "value_template": "{{ 'ON' if value_json.anomalous else 'OFF' }}",
            "payload_on": "ON",
            "payload_off": "OFF",
            "expire_after": expire_after,
        }
    if zones or lines:  # [[zones]] and [[lines]]: edge.sinks.mqtt.zones
        from edge.sinks.mqtt.zones import zone_components

        components |= zone_components(oid, prefix, zones, lines)
    if snapshot:
        components["snapshot"] = {
            "platform": "image",
            "unique_id": f"{oid}_snapshot",
            "name": "Last detection",
            "image_topic": f"{prefix}/snapshot",
            "content_type": "image/jpeg",
        }
    for key, name, field, unit, device_class in DIAGNOSTICS:
        components[key] = _diagnostic(
            oid,
            key,
            name,
            f"{prefix}/stats",
            template=f"{{{{ value_json.{field} }}}}",
            unit=unit,
            device_class=device_class,
        )
    components |= {
        "status": {
            "platform": "sensor",
            "unique_id": f"{oid}_status",
            "name": "Status",
            "state_topic": f"{prefix}/state",
            "value_template": "{{ 'paused' if value_json.paused else 'running' }}",
            "device_class": "enum",
            "options": ["running", "paused"],
        },
        "enabled": {
            "platform": "switch",
            "unique_id": f"{oid}_enabled",
            "name": "Detection enabled",
            "command_topic": f"{prefix}/set",
            "state_topic": f"{prefix}/state",
            "payload_on": '{"paused": false}',
            "payload_off": '{"paused": true}',
            "value_template": "{{ 'OFF' if value_json.paused else 'ON' }}",
            "state_on": "ON",
            "state_off": "OFF",
        },
    }
    if threshold:
        components["threshold"] = {
            "platform": "number",
            "unique_id": f"{oid}_threshold",
            "name": "Score threshold",
            "entity_category": "config",
            "command_topic": f"{prefix}/set",
            "state_topic": f"{prefix}/state",
            "command_template": '{"threshold": {{ value }}}',
            # The threshold in effect: the model's until a command raises it.
            "value_template": "{{ value_json.effective_threshold }}",
            "min": 0,
            "max": 1,
            "step": 0.01,
            "mode": "box",
        }
    return {
        "device": {
            "identifiers": [f"edge-infer-{oid}"],
            "name": device,
            "manufacturer": "edge-infer",
            "model": model_name,
            "sw_version": __version__,
        },
        "origin": ORIGIN,
        "availability": [
            {
                "topic": f"{prefix}/availability",
                "value_template": "{{ 'online' if value == 'online' else 'offline' }}",
            }
        ],
        "components": components,
    }


def _live_sensor(
    oid: str,
    key: str,
    name: str,
    topic: str,
    expire_after: int,
    *,
    template: str,
    unit: str | None,
) -> dict[str, Any]:
    """A sensor of the live state: unavailable after ``expire_after`` without news."""
    sensor: dict[str, Any] = {
        "platform": "sensor",
        "unique_id": f"{oid}_{key}",
        "name": name,
        "state_topic": topic,
        "value_template": template,
        "state_class": "measurement",
        "expire_after": expire_after,
    }
    if unit:
        sensor["unit_of_measurement"] = unit
    return sensor


def _diagnostic(
    oid: str,
    key: str,
    name: str,
    topic: str,
    *,
    template: str,
    unit: str,
    device_class: str | None = None,
) -> dict[str, Any]:
    """A sensor of the device's health from the retained stats (Diagnostic in HA's UI)."""
    sensor: dict[str, Any] = {
        "platform": "sensor",
        "unique_id": f"{oid}_{key}",
        "name": name,
        "entity_category": "diagnostic",
        "state_topic": topic,
        "value_template": template,
        "unit_of_measurement": unit,
        "state_class": "measurement",
    }
    if device_class:
        sensor["device_class"] = device_class
    return sensor


def live_state(record: Record) -> dict[str, Any]:
    """``<prefix>/labels`` for one result: the labels present, the count of each and of
    all, and an anomaly model's score and verdict."""
    counts = Counter(str(item.get("label")) for item in record.get("detections", ()))
    state: dict[str, Any] = {
        "present": sorted(counts),
        "counts": dict(sorted(counts.items())),
        "all": sum(counts.values()),
        "paused": False,
    }
    anomaly = record.get("anomaly")
    if isinstance(anomaly, dict):
        state["anomaly_score"] = anomaly.get("score")
        state["anomalous"] = bool(anomaly.get("anomalous"))
    return state


def _paused_state(task: str) -> dict[str, Any]:
    """The live state while paused: nothing is detected, and every entity stays
    available (the Status sensor says paused)."""
    state: dict[str, Any] = {"present": [], "counts": {}, "all": 0, "paused": True}
    if task == "anomaly":
        state |= {"anomaly_score": None, "anomalous": False}
    return state


_PAUSED = ("paused",)  # the live-state key of the paused state


class HomeAssistant:
    """Discovery for one device and the live state of its entities.

    Threads: discovery goes out on paho's network thread (``on_connect``, ``on_status``);
    the live state on the sink's writer thread (``publish_live``, from ``write``) and, while
    the run is paused and writes nothing, on the frame loop's thread (``tick``). The live
    fields (``_present``, ``_live_sent``) are guarded by ``_lock``; discovery asks for the
    live state to be sent again through ``_resend`` (an Event).
    """

    def __init__(
        self,
        connection: Publisher,
        *,
        device: str,
        prefix: str,
        labels: Sequence[str],
        model_name: Callable[[], str],
        discovery_prefix: str,
        expire_after: int,
        task: str = "detect",
        snapshot: bool = False,
        threshold: bool = True,
        paused: Callable[[], bool] = lambda: False,
        zones: Sequence[tuple[str, Sequence[str]]] = (),
        lines: Sequence[str] = (),
    ) -> None:
        self.status_topic = f"{discovery_prefix}/status"
        self._connection = connection
        self._device, self._prefix, self._labels = device, prefix, list(labels)
        self._model_name = model_name
        self._discovery_prefix = discovery_prefix
        self._expire_after = expire_after
        self._task, self._snapshot, self._threshold = task, snapshot, threshold
        self._paused = paused
        self._zones, self._lines = zones, lines
        self._resend = threading.Event()
        self._lock = threading.Lock()
        self._present: set[str] = set()
        self._sent_key: object = None  # what the last live state said (see publish_live)
        self._live_sent = 0.0

    # ------------------------------------------------------ paho's network thread
    def on_connect(self) -> None:
        self._connection.subscribe(self.status_topic)
        self.publish_discovery()

    def on_status(self, payload: bytes) -> bool:
        """HA's birth/last-will message; True when HA came (back) online and discovery
        was republished."""
        if payload != b"online":
            return False
        log.info("Home Assistant came online; discovery republished")
        self.publish_discovery()
        return True

    def publish_discovery(self) -> None:
        payload = discovery_payload(
            device=self._device,
            prefix=self._prefix,
            labels=self._labels,
            model_name=self._model_name(),
            expire_after=self._expire_after,
            task=self._task,
            snapshot=self._snapshot,
            threshold=self._threshold,
            zones=self._zones,
            lines=self._lines,
        )
        self._connection.publish(
            discovery_topic(self._discovery_prefix, self._device),
            json.dumps(payload),
            qos=1,
            retain=True,
        )
        self._resend.set()  # the live state right after, at the next record or tick

    # ------------------------------------------------------------ writer thread
    def publish_live(self, record: Record) -> None:
        """The live state when it changed (or is due), and an event per newly seen label
        (``anomaly`` when an anomaly model's verdict turns anomalous)."""
        state = live_state(record)
        present = set(state["present"]) | ({"anomaly"} if state.get("anomalous") else set())
        # A change is a label or a count appearing or going, or the verdict flipping; the
        # anomaly score rides along (refreshed with every change, and when due).
        key = (state["counts"], state.get("anomalous"))
        with self._lock:
            now = time.monotonic()
            connected = self._connection.connected
            if not self._due(now, changed=key != self._sent_key, connected=connected):
                return
            if connected:
                for label in sorted(present - self._present):
                    self._publish_event(label, record)
                self._publish_state(state, now)
            self._present, self._sent_key = present, key

    # ------------------------------------------------------- frame loop's thread
    def tick(self) -> None:
        """While paused no result is written: keep the entities available by sending the
        paused state at least every ``expire_after / 3`` s."""
        if not self._paused():
            return
        with self._lock:
            now = time.monotonic()
            connected = self._connection.connected
            if self._due(now, changed=self._sent_key != _PAUSED, connected=connected) and connected:
                self._publish_state(_paused_state(self._task), now)
                self._present, self._sent_key = set(), _PAUSED

    # ------------------------------------------------------------- under _lock
    def _due(self, now: float, *, changed: bool, connected: bool) -> bool:
        resend = connected and self._resend.is_set()
        if resend:
            self._resend.clear()  # a request made after this is served next time
        return changed or resend or now - self._live_sent >= self._expire_after / 3

    def _publish_state(self, state: dict[str, Any], now: float) -> None:
        self._connection.publish(f"{self._prefix}/labels", json.dumps(state), qos=0)
        self._live_sent = now

    def _publish_event(self, label: str, record: Record) -> None:
        anomaly = record.get("anomaly")
        if label == "anomaly" and isinstance(anomaly, dict):
            score = anomaly.get("score")
        else:
            score = max(
                float(d.get("score", 0.0))
                for d in record.get("detections", ())
                if str(d.get("label")) == label
            )
        event = {
            "event_type": label,
            "score": score,
            "id": record.get("id"),
            "ts": record.get("ts"),
        }
        self._connection.publish(f"{self._prefix}/event", json.dumps(event), qos=0)
