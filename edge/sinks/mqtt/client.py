"""Publish results to an MQTT broker without losing any: paho-mqtt 2.x behind a durable outbox.

``MqttSink`` is the sink the run sees (``write``, ``close``, ``tick``, ``dropped``,
``state``, ``failure``) and wires the parts, each with one job:
- ``connection``: the one paho client, its state, availability and failure policy;
- ``pump``: the outbox thread (batch -> SQLite -> paho, within the in-flight window);
- ``commands``: ``<prefix>/set``;
- ``publish``: which results go to ``<prefix>/results`` (``publish``, ``max_rate``);
- ``homeassistant``: discovery and the live label state;
- ``snapshot``: the image entity's JPEG, from the frame loop's frames;
- ``stats``: ``<prefix>/stats``, from the frame loop's tick.

Which thread calls what: the caller (``BackgroundSink``'s thread) calls ``write``; the
outbox thread commits and sends; paho's network thread (``loop_start``) runs the
callbacks; the frame loop calls ``tick``; the run's own thread calls ``close``. Each
part's docstring says which of its fields which thread owns.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from edge.config.preflight import require_paho_mqtt
from edge.events.writer import SCHEMA as EVENT_SCHEMA
from edge.sinks.base import Record
from edge.sinks.jsonl import encode_line
from edge.sinks.mqtt.commands import Commands
from edge.sinks.mqtt.connection import Connection
from edge.sinks.mqtt.homeassistant import HomeAssistant
from edge.sinks.mqtt.outbox import Outbox
from edge.sinks.mqtt.publish import PublishPolicy
from edge.sinks.mqtt.pump import OutboxPump
from edge.sinks.mqtt.snapshot import SnapshotPublisher
from edge.sinks.mqtt.stats import Stats
from edge.sinks.mqtt.zones import ZoneTopics

if TYPE_CHECKING:
    from edge.config.sinks import MqttSinkConfig
    from edge.pipeline.control import RunControl
    from edge.pipeline.stats import RunStats

log = logging.getLogger(__name__)

__all__ = ["MqttSink", "default_outbox_path"]


def default_outbox_path(device: str) -> Path:
    """``$STATE_DIRECTORY`` (set by systemd's ``StateDirectory=``) or the working directory."""
    name = f"edge-outbox-{re.sub(r'[^A-Za-z0-9_.-]', '_', device)}.sqlite3"
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(state) / name if state else Path(name)


class MqttSink:
    """The sink: ``write(record)``, ``close()``, ``tick(stats)``, ``dropped``, ``state``,
    ``failure``.

    Threads: ``_model`` (the model now producing, replaced by ``write`` after a SIGHUP
    reload, read by the stats and discovery) is guarded by ``_lock``; every other field
    is set in ``__init__`` and only read afterwards. The parts guard their own.
    """

    def __init__(
        self,
        config: MqttSinkConfig,
        *,
        device: str,
        password: str | None,
        model_name: str,
        model_sha256: str,
        labels: Sequence[str] = (),
        task: str = "detect",
        control: RunControl | None = None,
        zones: Sequence[tuple[str, Sequence[str]]] = (),
        lines: Sequence[str] = (),
    ) -> None:
        # The check `edge check-config` makes too, so both give the same answer.
        require_paho_mqtt()
        import paho.mqtt.client as mqtt

        tls = config.tls
        self.device = device
        self.port = config.port or (8883 if tls is not None else 1883)
        self.name = f"{'mqtts' if tls is not None else 'mqtt'}://{config.host}:{self.port}"
        self.prefix = (config.prefix or f"edge/{device}").rstrip("/")
        self.topic_results = f"{self.prefix}/results"
        self.topic_events = f"{self.prefix}/events"
        self._lock = threading.Lock()
        self._model = {"name": model_name, "sha256": model_sha256}
        self._homeassistant = config.homeassistant
        self._commands_on = config.commands

        outbox = Outbox(
            config.outbox or default_outbox_path(device),
            max_rows=config.outbox_max_rows,
            max_bytes=config.outbox_max_bytes,
            max_age=config.outbox_max_age,
        )
        if outbox.rows:
            log.info(
                "%d results left in the outbox %s by an earlier run are sent first",
                outbox.rows,
                outbox.path,
            )
        try:
            self._connection = Connection(
                mqtt,
                config,
                name=self.name,
                port=self.port,
                client_id=config.client_id or f"edge-{device}",
                password=password,
                availability=f"{self.prefix}/availability",
                outbox_path=outbox.path,
                backlog=lambda: self._pump.counts.depth,
                on_connect=self._on_connect,
                on_message=self._on_message,
                on_publish=self._on_publish,
            )
        except BaseException:
            outbox.close()
            raise
        self._pump = OutboxPump(
            outbox,
            self._connection,
            commit_interval=config.commit_interval,
            max_inflight=config.max_inflight,
            drain_rate=config.drain_rate,
            stuck_after=max(60.0, 4.0 * config.keepalive),
            close_timeout=config.close_timeout,
        )
        self._policy = PublishPolicy(
            config.publish, max_rate=config.max_rate, heartbeat=config.heartbeat
        )
        self._commands = Commands(self._connection, prefix=self.prefix, control=control)
        self._ha = HomeAssistant(
            self._connection,
            device=device,
            prefix=self.prefix,
            labels=labels,
            model_name=lambda: self.model["name"],
            discovery_prefix=config.discovery_prefix,
            expire_after=config.expire_after,
            task=task,
            snapshot=config.snapshot_interval > 0,
            threshold=control is not None and control.model_threshold is not None,
            paused=lambda: control is not None and control.paused,
            zones=zones,
            lines=lines,
        )
        self._zones = (
            ZoneTopics(self._connection, prefix=self.prefix, zones=zones, lines=lines)
            if zones or lines
            else None
        )
        self._snapshot = (
            SnapshotPublisher(
                self._connection,
                topic=f"{self.prefix}/snapshot",
                interval=config.snapshot_interval,
                width=config.snapshot_width,
            )
            if config.homeassistant and config.snapshot_interval > 0
            else None
        )
        self._stats = Stats(
            self._connection,
            topic=f"{self.prefix}/stats",
            interval=config.stats_interval,
            device=device,
            control=control,
            outbox=lambda: self._pump.counts,
            model=lambda: self.model,
            faults=lambda: self.faults,
        )
        self._pump.start()
        self._connection.start()

    # ------------------------------------------------------------- the sink contract
    @property
    def state(self) -> str:
        """``connecting`` / ``connected`` / ``disconnected`` / ``refused`` /
        ``failed (<why>)`` (status line)."""
        failure = self.failure
        return f"failed ({failure})" if failure else self._connection.state

    @property
    def failure(self) -> str | None:
        """Why this sink can no longer deliver (paho's network thread or the outbox
        thread ended), else None: the run is then unhealthy and the watchdog unfed."""
        return self._connection.failure or self._pump.failure

    @property
    def faults(self) -> dict[str, int]:
        """Incoming messages refused (too large, invalid commands) and callback errors."""
        return {**self._connection.faults, "rejected_commands": self._commands.rejected}

    @property
    def dropped(self) -> int:
        """Results that will never be sent: batch overflow + outbox overflow (this run)."""
        return self._pump.dropped

    @property
    def backlog(self) -> int:
        """Results in the outbox, waiting for the broker (after the latest commit)."""
        return self._pump.counts.depth

    @property
    def model(self) -> dict[str, str]:
        """The model now producing results: ``{"name", "sha256"}``."""
        with self._lock:
            return dict(self._model)

    def write(self, record: Record) -> None:
        error = self._connection.error or self._pump.error
        if error is not None:
            raise error
        # Event mode's edge.event/1 records travel through the same outbox on their own
        # topic, always; per-frame results go as ``publish`` chooses, and every one of them
        # drives the Home Assistant live state.
        # edge.event/2: the zone events of a run with zones, on the same topic.
        is_event = str(record.get("schema", "")).startswith(EVENT_SCHEMA.split("/", 1)[0] + "/")
        model = record.get("model")
        if isinstance(model, dict):
            with self._lock:
                swapped = model.get("sha256") != self._model["sha256"]
                if swapped:
                    # A SIGHUP reload swapped the model: the stats name the one now producing.
                    self._model = {
                        "name": str(model.get("name")),
                        "sha256": str(model.get("sha256")),
                    }
            if swapped:
                # ... and the retained state its threshold (``RunControl.model_threshold``).
                self._commands.publish_state()
        if is_event:
            self._pump.add(self.topic_events, _payload(record))
            return
        for chosen in self._policy.offer(record):
            self._pump.add(self.topic_results, _payload(chosen))
        if self._homeassistant:
            self._ha.publish_live(record)
        if self._zones is not None:
            self._zones.publish(record)

    def tick(self, stats: RunStats) -> None:
        """Pipeline tick hook: ``<prefix>/stats`` every ``stats_interval`` seconds, and the
        Home Assistant live state while paused."""
        self._stats.tick(stats)
        if self._homeassistant:
            self._ha.tick()

    @property
    def frame_observer(self) -> SnapshotPublisher | None:
        """The image entity's publisher, which needs the frames (the run adds it to its
        frame observers and closes it before this sink)."""
        return self._snapshot

    def close(self) -> None:
        """Commit what is batched, let the outbox drain up to ``close_timeout``, announce
        ``stopped`` and disconnect. Whatever is not acknowledged stays for the next run."""
        for chosen in self._policy.flush():  # the writer thread has ended: ours now
            self._pump.add(self.topic_results, _payload(chosen))
        self._connection.closing()
        self._pump.drain()
        self._connection.close()
        self._pump.close()

    # ------------------------------------------------- paho's network thread
    def _on_connect(self) -> None:
        if self._commands_on:
            self._commands.on_connect()
        if self._homeassistant:
            self._ha.on_connect()
        self._stats.refresh()
        if self._zones is not None:
            self._zones.resend()
        self._pump.wake()

    def _on_publish(self, mid: int) -> None:
        self._pump.acked(mid)

    def _on_message(self, topic: str, payload: bytes, retain: bool) -> None:
        if topic == self._ha.status_topic:
            if self._ha.on_status(payload):
                self._stats.refresh()
        elif topic == self._commands.topic_set:
            self._commands.on_message(topic, payload, retain)


def _payload(record: Record) -> bytes:
    """The JSONL line without its newline (no NaN: the same encoder as the log)."""
    return encode_line(record)[:-1]
