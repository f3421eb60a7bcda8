"""Home Assistant MQTT device-based discovery for one device, and its live label state.

One retained message on ``<discovery prefix>/device/<object id>/config`` describes the
device and all its entities (HA's "device discovery payload": ``device``, ``origin`` and
``components``, each component with its ``platform`` and ``unique_id``). Key names are
HA's documented full names (the abbreviations are optional); tests check the payload
against the documented key lists.

Entities:
- ``event`` "Detection": fires when a label appears (``event_type`` = the label), with
  the score, record id and time as attributes; from ``<prefix>/event``.
- ``binary_sensor`` per label (up to ``MAX_LABEL_SENSORS`` labels): on while the label
  is detected, from ``<prefix>/labels`` (``{"present": [...]}``), which is republished at
  least every ``expire_after / 3`` s while the device runs, so ``expire_after`` turns the
  sensors unavailable (not stuck "on") when the device dies.
- ``sensor`` frame rate, inference p50/p95 and outbox depth, from the retained
  ``<prefix>/stats``.
- ``switch`` "Detection enabled" and ``number`` "Score threshold", which send commands to
  ``<prefix>/set`` and read ``<prefix>/state`` (retained).
Availability: ``<prefix>/availability``; ``stopped`` (a clean exit) shows as unavailable
like ``offline``.

``HomeAssistant`` publishes the discovery message (on connect, and again when HA's own
``<discovery prefix>/status`` says ``online``) and the live label state and events, which
are QoS 0 live state, not results: the durable copy is the record on ``results``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
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


def object_id(device: str) -> str:
    """HA ids must match ``[a-zA-Z0-9_-]``; anything else becomes ``_`` (the config's rule,
    which also warns about it and refuses sinks that would collide)."""
    return ha_object_id(device)


def discovery_topic(discovery_prefix: str, device: str) -> str:
    return f"{discovery_prefix}/device/{object_id(device)}/config"


def discovery_payload(
    *, device: str, prefix: str, labels: Sequence[str], model_name: str, expire_after: int
) -> dict[str, Any]:
    oid = object_id(device)
    components: dict[str, dict[str, Any]] = {
        "detection": {
            "platform": "event",
            "unique_id": f"{oid}_detection",
            "name": "Detection",
            "state_topic": f"{prefix}/event",
            "event_types": [str(x) for x in labels],
        },
        "fps": _sensor(
            oid, "fps", "Frame rate", prefix, template="{{ value_json.fps }}", unit="fps"
        ),
        "infer_p50": _sensor(
            oid,
            "infer_p50",
            "Inference p50",
            prefix,
            template="{{ value_json.infer_ms_p50 }}",
            unit="ms",
            device_class="duration",
        ),
        "infer_p95": _sensor(
            oid,
            "infer_p95",
            "Inference p95",
            prefix,
            template="{{ value_json.infer_ms_p95 }}",
            unit="ms",
            device_class="duration",
        ),
        "outbox": _sensor(
            oid,
            "outbox",
            "Outbox depth",
            prefix,
            template="{{ value_json.outbox.depth }}",
            unit="results",
        ),
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
        "threshold": {
            "platform": "number",
            "unique_id": f"{oid}_threshold",
            "name": "Score threshold",
            "command_topic": f"{prefix}/set",
            "state_topic": f"{prefix}/state",
            "command_template": '{"threshold": {{ value }}}',
            "value_template": "{{ value_json.threshold if value_json.threshold is not none "
            "else 0 }}",
            "min": 0,
            "max": 1,
            "step": 0.01,
            "mode": "box",
        },
    }
    # A binary sensor per label suits tens of labels; an ImageNet classifier's thousand
    # would flood Home Assistant, so past MAX_LABEL_SENSORS only the event entity remains.
    for index, label in enumerate(labels if len(labels) <= MAX_LABEL_SENSORS else ()):
        components[f"label_{index}"] = {
            "platform": "binary_sensor",
            "unique_id": f"{oid}_label_{index}",
            "name": f"Label {label}",
            "state_topic": f"{prefix}/labels",
            # json.dumps makes a valid Jinja string literal of any label.
            "value_template": f"{{{{ 'ON' if {json.dumps(str(label))} in value_json.present "
            "else 'OFF' }}",
            "payload_on": "ON",
            "payload_off": "OFF",
            "expire_after": expire_after,
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


def _sensor(
    oid: str,
    key: str,
    name: str,
    prefix: str,
    *,
    template: str,
    unit: str,
    device_class: str | None = None,
) -> dict[str, Any]:
    sensor: dict[str, Any] = {
        "platform": "sensor",
        "unique_id": f"{oid}_{key}",
        "name": name,
        "state_topic": f"{prefix}/stats",
        "value_template": template,
        "unit_of_measurement": unit,
        "state_class": "measurement",
    }
    if device_class:
        sensor["device_class"] = device_class
    return sensor


class HomeAssistant:
    """Discovery for one device and the live state of its label entities.

    Threads: discovery goes out on paho's network thread (``on_connect``, ``on_status``);
    the label state on the caller's thread (``publish_live``, from ``write``), which alone
    owns ``_present`` and ``_labels_sent``. Discovery asks for the label state to be sent
    again through ``_resend`` (an Event) instead of touching ``_labels_sent``.
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
    ) -> None:
        self.status_topic = f"{discovery_prefix}/status"
        self._connection = connection
        self._device, self._prefix, self._labels = device, prefix, list(labels)
        self._model_name = model_name
        self._discovery_prefix = discovery_prefix
        self._expire_after = expire_after
        self._resend = threading.Event()
        self._present: set[str] = set()
        self._labels_sent = 0.0

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
        )
        self._connection.publish(
            discovery_topic(self._discovery_prefix, self._device),
            json.dumps(payload),
            qos=1,
            retain=True,
        )
        self._resend.set()  # the label state right after, at the next record

    # ------------------------------------------------------------ caller's thread
    def publish_live(self, record: Record) -> None:
        """Label state for the binary sensors, and an event per newly seen label."""
        present = {str(d.get("label")) for d in record.get("detections", [])}
        now = time.monotonic()
        connected = self._connection.connected
        resend = connected and self._resend.is_set()
        if resend:
            self._resend.clear()  # a request made after this is served at the next record
        changed = present != self._present
        if changed or resend or now - self._labels_sent >= self._expire_after / 3:
            if connected:
                for label in sorted(present - self._present):
                    best = max(
                        (d for d in record["detections"] if str(d.get("label")) == label),
                        key=lambda d: float(d.get("score", 0.0)),
                    )
                    event = {
                        "event_type": label,
                        "score": best.get("score"),
                        "id": record.get("id"),
                        "ts": record.get("ts"),
                    }
                    self._connection.publish(f"{self._prefix}/event", json.dumps(event), qos=0)
                self._connection.publish(
                    f"{self._prefix}/labels", json.dumps({"present": sorted(present)}), qos=0
                )
                self._labels_sent = now
            self._present = present
