"""Retained count topics of a run with zones and lines, and their Home Assistant sensors.

Topics (retained, QoS 1, plain integers; docs/mqtt.md):
- ``<prefix>/zones/<zone>/count/<label>``: objects of that label in the zone now;
- ``<prefix>/zones/<zone>/total``: every object in the zone now;
- ``<prefix>/lines/<line>/in`` and ``/out``: crossings since the run started, and
  ``<prefix>/lines/<line>/in/<label>`` per label.
A value is sent when it changes (and at the first result, every configured zone's labels
as 0, so a count retained by an earlier run does not linger). Crossings are also events:
the ``edge.event/2`` ``cross`` records on ``<prefix>/events`` in event mode.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.sinks.base import Record
    from edge.sinks.mqtt.connection import Publisher

MAX_ZONE_LABELS = 100


def topic_label(label: str) -> str:
    """A label as one topic level: MQTT wildcards and separators become ``_``."""
    return re.sub(r"[/+#\x00]", "_", label) or "_"


class ZoneTopics:
    """Threads: ``publish`` runs on the sink's writer thread only; ``resend`` (after a
    reconnect) may come from paho's thread, hence the lock."""

    def __init__(
        self,
        connection: Publisher,
        *,
        prefix: str,
        zones: Sequence[tuple[str, Sequence[str]]],
        lines: Sequence[str],
    ) -> None:
        self._connection = connection
        self._prefix = prefix
        self._lock = threading.Lock()
        self._sent: dict[str, int] = {}
        self._zeros = {
            f"{prefix}/zones/{zone}/count/{topic_label(label)}": 0
            for zone, labels in zones
            for label in labels[:MAX_ZONE_LABELS]
        }
        self._zeros |= {f"{prefix}/zones/{zone}/total": 0 for zone, _ in zones}
        self._zeros |= {
            f"{prefix}/lines/{line}/{side}": 0 for line in lines for side in ("in", "out")
        }

    def publish(self, record: Record) -> None:
        zones, lines = record.get("zones"), record.get("lines")
        if not isinstance(zones, dict) or not isinstance(lines, dict):
            return  # an edge.result/1 record: no zones in this run
        values = dict(self._zeros)
        for zone, state in zones.items():
            for label, count in state["counts"].items():
                values[f"{self._prefix}/zones/{zone}/count/{topic_label(label)}"] = int(count)
            values[f"{self._prefix}/zones/{zone}/total"] = int(state["total"])
        for line, sides in lines.items():
            for side, counts in sides.items():
                values[f"{self._prefix}/lines/{line}/{side}"] = sum(counts.values())
                for label, count in counts.items():
                    values[f"{self._prefix}/lines/{line}/{side}/{topic_label(label)}"] = count
        with self._lock:
            if not self._connection.connected:
                return  # sent when connected again: the broker keeps only the newest anyway
            for topic, value in values.items():
                if self._sent.get(topic) != value:
                    self._connection.publish(topic, str(value), qos=1, retain=True)
                    self._sent[topic] = value

    def resend(self) -> None:
        """After a reconnect: send everything again at the next result."""
        with self._lock:
            self._sent.clear()


def zone_components(
    oid: str,
    prefix: str,
    zones: Sequence[tuple[str, Sequence[str]]],
    lines: Sequence[str],
) -> dict[str, dict[str, Any]]:
    """Home Assistant sensors: per zone and label, per zone in total, per line direction."""
    components: dict[str, dict[str, Any]] = {}
    for zone, labels in zones:
        for index, label in enumerate(labels[:MAX_ZONE_LABELS]):
            components[f"zone_{zone}_{index}"] = _sensor(
                oid,
                f"zone_{zone}_{index}",
                f"{zone} {label}",
                f"{prefix}/zones/{zone}/count/{topic_label(label)}",
                unit="objects",
                state_class="measurement",
            )
        components[f"zone_{zone}_total"] = _sensor(
            oid,
            f"zone_{zone}_total",
            f"{zone} all",
            f"{prefix}/zones/{zone}/total",
            unit="objects",
            state_class="measurement",
        )
    for line in lines:
        for side in ("in", "out"):
            components[f"line_{line}_{side}"] = _sensor(
                oid,
                f"line_{line}_{side}",
                f"{line} {side}",
                f"{prefix}/lines/{line}/{side}",
                unit="crossings",
                # Counted since the run started: HA reads a restart as a reset.
                state_class="total_increasing",
            )
    return components


def _sensor(
    oid: str, key: str, name: str, topic: str, *, unit: str, state_class: str
) -> dict[str, Any]:
    return {
        "platform": "sensor",
        "unique_id": f"{oid}_{key}",
        "name": name,
        "state_topic": topic,
        "value_template": "{{ value | int(0) }}",
        "unit_of_measurement": unit,
        "state_class": state_class,
    }
