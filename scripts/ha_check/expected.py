"""What Home Assistant should make of an edge-infer device: the one table to adjust.

``ENTITIES[kind]`` maps the unique_id suffix (``<object id>_<key>``, the key here) to
``(domain, entity_category, state)``. A key containing ``{i}`` stands for one entity per
label index of the model (``label_{i}`` -> ``label_0`` .. ``label_9``).

``state`` says what the recorded states must look like (``unavailable`` and ``unknown``,
which every entity has before its first message and after the device stops, are
ignored unless said otherwise):

- ``event``: an event entity (its state is the time of the last event); at least one
  event was recorded.
- ``event_any``: an event entity that may not fire during the run.
- ``on_off``: a binary_sensor or switch: only ``on``/``off``, at least one of them.
- ``number``: every state parses as a float, at least one does.
- ``number_or_unknown``: as ``number``, but only ``unknown`` is fine too (``cpu_temp``
  on a machine without a thermal zone).
- ``fps``: ``number``, and never above 1.5 x the camera's frame rate.
- ``status``: ``running`` or ``paused``; ``paused`` recorded while the device was paused.
- ``threshold``: ``number``, equal to the model's effective threshold (its decoder's
  score threshold).
- ``image``: an image entity (its state is the time of the last image); it changed at
  least once after the first image.
- ``image_any``: an image entity that may get no picture during the run (the anomaly
  model sends one only for an anomalous frame).
"""

from __future__ import annotations

DIAGNOSTIC = "diagnostic"

# Entities every device has.
_COMMON: dict[str, tuple[str, str | None, str]] = {
    "fps": ("sensor", DIAGNOSTIC, "fps"),
    "infer_p50": ("sensor", DIAGNOSTIC, "number"),
    "infer_p95": ("sensor", DIAGNOSTIC, "number"),
    "outbox": ("sensor", DIAGNOSTIC, "number"),
    "cpu_temp": ("sensor", DIAGNOSTIC, "number_or_unknown"),
    "status": ("sensor", None, "status"),
    "enabled": ("switch", None, "on_off"),
}

ENTITIES: dict[str, dict[str, tuple[str, str | None, str]]] = {
    "detector": {
        "detection": ("event", None, "event"),
        "label_{i}": ("binary_sensor", None, "on_off"),
        "count_{i}": ("sensor", None, "number"),
        "count_all": ("sensor", None, "number"),
        "snapshot": ("image", None, "image"),
        "threshold": ("number", "config", "threshold"),
        # scripts/test-ha.sh gives the detector a zone "left" (every label) and a line
        # "middle": retained count topics (edge.sinks.mqtt.zones).
        "zone_left_{i}": ("sensor", None, "number"),
        "zone_left_total": ("sensor", None, "number"),
        "line_middle_in": ("sensor", None, "number"),
        "line_middle_out": ("sensor", None, "number"),
        **_COMMON,
    },
    "anomaly": {
        "detection": ("event", None, "event_any"),
        "anomaly_score": ("sensor", None, "number"),
        "anomalous": ("binary_sensor", None, "on_off"),
        "snapshot": ("image", None, "image_any"),
        # No threshold number: an anomaly model's threshold is on its score's own scale,
        # and the run's threshold command filters detection scores, which it has none of.
        **_COMMON,
    },
}

# The camera may deliver a little faster than its nominal rate over a short window, but
# not this much faster (HA once recorded 77 on a 30 fps camera: the first stats window).
MAX_FPS_FACTOR = 1.5
