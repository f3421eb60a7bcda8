"""Publish results to an MQTT broker without losing any: paho-mqtt 2.x behind a durable outbox.

Threads and their jobs:
- the caller (``BackgroundSink``'s thread) calls ``write``: the record is serialised and
  appended to an in-memory batch, nothing else (bounded; overflow counted in ``dropped``);
- the outbox thread commits the batch to SQLite at most every ``commit_interval`` (see
  ``edge.sinks.mqtt.outbox`` for the durability and SD-card reasoning), then hands committed
  rows to paho, oldest first, keeping at most ``max_inflight`` unacknowledged and at most
  ``drain_rate`` per second, so a reconnect with a large backlog does not flood the broker;
- paho's network thread (``loop_start``) runs the callbacks. ``on_publish(mid)`` is the one
  trustworthy delivery signal (``MQTTMessageInfo`` lies after a reconnect), so a row is
  deleted only once its mid comes back there;
- the frame loop calls ``tick`` (a pipeline tick hook) to publish ``<prefix>/stats``.

One client lives for the whole run and reconnects itself with backoff
(``reconnect_delay_set``); it is never recreated, which would throw away paho's in-flight
messages. Messages in flight at a disconnect are resent by paho after the reconnect (with
DUP set), so receivers may see a result twice: every record has a stable ``id`` to drop
duplicates by. Delivery is "accepted by the broker (PUBACK)", not "durable at the broker".

Connection failures: an unreachable broker is normal (the run goes on, results wait in the
outbox, it is logged once per outage). Two failures are configuration mistakes that
retrying cannot fix, and they stop the run with exit code 78 when they happen before the
first successful connection of the run: the broker refusing the credentials (CONNACK "not
authorised" / "bad user name or password") and a broker certificate that does not verify
against the configured CA. After a run has connected once, the same failures are logged
as errors (at most once a minute) and retried, since the broker's configuration changed
under a running device and the outbox keeps the results meanwhile.

The password is never logged, never part of an error message and never in a record.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import ssl
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from edge import __version__
from edge.errors import ConfigError, EdgeError, SinkError
from edge.events.writer import SCHEMA as EVENT_SCHEMA
from edge.sinks.base import Record
from edge.sinks.jsonl import encode_line
from edge.sinks.mqtt.homeassistant import discovery_payload, discovery_topic
from edge.sinks.mqtt.outbox import Outbox

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

    from edge.config.sinks import MqttSinkConfig
    from edge.pipeline.control import RunControl
    from edge.pipeline.loop import RunStats

log = logging.getLogger(__name__)

HA_STATUS_TOPIC_SUFFIX = "status"
_REPEAT_LOG = 60.0  # seconds between repeated connection-error log lines
_BATCH_CAP = 10_000  # results waiting for the next commit before write() drops (counted)
_AUTH_REFUSALS = {"Bad user name or password", "Not authorized", "Bad authentication method"}


class Command(BaseModel):
    """A command on ``<prefix>/set``: JSON with one or both keys."""

    model_config = ConfigDict(extra="forbid")

    # Strict: pydantic would otherwise read "yes" or 1 as true; a command is exact JSON.
    paused: StrictBool | None = Field(None, description="true pauses detection, false resumes")
    threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="minimum score; null restores the model's"
    )


def default_outbox_path(device: str) -> Path:
    """``$STATE_DIRECTORY`` (set by systemd's ``StateDirectory=``) or the working directory."""
    name = f"edge-outbox-{re.sub(r'[^A-Za-z0-9_.-]', '_', device)}.sqlite3"
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(state) / name if state else Path(name)


class MqttSink:
    """The sink: ``write(record)``, ``close()``, ``tick(stats)``, ``dropped``, ``state``."""

    def __init__(
        self,
        config: MqttSinkConfig,
        *,
        device: str,
        password: str | None,
        model_name: str,
        model_sha256: str,
        labels: Sequence[str] = (),
        control: RunControl | None = None,
    ) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError:
            raise ConfigError(
                "the MQTT sink needs paho-mqtt, which is not installed",
                hint="pip install 'edge-infer[mqtt]'",
            ) from None
        self._mqtt = mqtt
        self._config = config
        self.device = device
        tls = config.tls
        self.port = config.port or (8883 if tls is not None else 1883)
        self.name = f"{'mqtts' if tls is not None else 'mqtt'}://{config.host}:{self.port}"
        self.prefix = (config.prefix or f"edge/{device}").rstrip("/")
        (
            self.topic_results,
            self.topic_availability,
            self.topic_stats,
            self.topic_set,
            self.topic_state,
            self.topic_events,
        ) = (
            f"{self.prefix}/{name}"
            for name in ("results", "availability", "stats", "set", "state", "events")
        )
        self._ha_status = f"{config.discovery_prefix}/{HA_STATUS_TOPIC_SUFFIX}"
        self._model = {"name": model_name, "sha256": model_sha256}
        self._labels = list(labels)
        self._control = control
        self.state = "connecting"
        self._batch_dropped = 0
        self._fatal: EdgeError | None = None
        self._ever_connected = False
        self._awaiting_connack = False
        self._last_error_log: dict[str, float] = {}
        self._outage_logged = False
        # HA live label state (written on the caller's thread only).
        self._present: set[str] = set()
        self._labels_published = 0.0
        # Stats window (the frame loop's thread only).
        self._started = time.monotonic()
        self._next_stats = 0.0
        self._stats_mark = (time.monotonic(), 0)

        self.outbox = Outbox(
            config.outbox or default_outbox_path(device),
            max_rows=config.outbox_max_rows,
            max_bytes=config.outbox_max_bytes,
            max_age=config.outbox_max_age,
        )
        if self.outbox.rows:
            log.info(
                "%d results left in the outbox %s by an earlier run are sent first",
                self.outbox.rows,
                self.outbox.path,
            )
        self._lock = threading.Lock()  # guards _batch
        self._batch: list[tuple[str, bytes]] = []
        self._ack_lock = threading.Lock()  # guards _acked (paho's thread appends)
        self._acked: list[int] = []
        # Outbox-thread state: mid -> outbox row id, the send time of each mid, the last row
        # handed to paho, and the connection count it last saw (see _send).
        self._inflight: dict[int, int] = {}
        self._sent_at: dict[int, float] = {}
        self._last_sent = 0
        self._connects = 0  # incremented by on_connect before the state says "connected"
        self._seen_connects = 0
        self._hold = False
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._stuck_after = max(60.0, 4.0 * config.keepalive)
        self._writer = threading.Thread(target=self._run_outbox, name="mqtt-outbox", daemon=True)
        self._client = self._start(password)

    # ----------------------------------------------------------------- client set-up
    def _start(self, password: str | None) -> Any:
        """Make the one client, start the outbox thread, connect in the background."""
        try:
            client = self._make_client(password)
        except BaseException:
            self.outbox.close()
            raise
        self._client = client
        self._writer.start()
        client.connect_async(self._config.host, self.port, keepalive=self._config.keepalive)
        client.loop_start()
        return client

    def _make_client(self, password: str | None) -> Any:
        mqtt, config = self._mqtt, self._config
        protocol = mqtt.MQTTv5 if config.protocol == "5" else mqtt.MQTTv311
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=config.client_id or f"edge-{self.device}",
            protocol=protocol,
        )
        client.max_inflight_messages_set(config.max_inflight + 10)  # + stats/availability
        client.reconnect_delay_set(min_delay=1, max_delay=config.reconnect_max_delay)
        client.will_set(self.topic_availability, "offline", qos=1, retain=True)
        if config.username is not None:
            client.username_pw_set(config.username, password)
        if config.tls is not None:
            self._set_tls(client, config)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        # paho swallows the exception of a failed (re)connect and tells on_connect_fail
        # nothing about it; wrapping reconnect on this instance keeps the reason, so the
        # log can say "certificate verify failed" instead of "connection failed".
        original = client.reconnect

        def reconnect() -> Any:
            self._awaiting_connack = True
            try:
                return original()
            except OSError as exc:
                self._awaiting_connack = False
                self._connect_error(exc)
                raise

        setattr(client, "reconnect", reconnect)  # noqa: B010 - shadow the method, see above
        return client

    def _set_tls(self, client: mqtt.Client, config: MqttSinkConfig) -> None:
        tls = config.tls
        assert tls is not None
        for field in ("ca_file", "cert_file", "key_file"):
            path = getattr(tls, field)
            if path is not None and not Path(path).is_file():
                raise ConfigError(
                    f"tls.{field} {str(path)!r} does not exist",
                    hint="point it at a PEM file, or remove the key",
                )
        try:
            client.tls_set(
                ca_certs=str(tls.ca_file) if tls.ca_file else None,
                certfile=str(tls.cert_file) if tls.cert_file else None,
                keyfile=str(tls.key_file) if tls.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot load the TLS files for the MQTT broker: {exc}",
                hint="check tls.ca_file/cert_file/key_file are PEM files and "
                "the key matches the certificate",
            ) from exc
        if tls.insecure:
            log.warning("MQTT TLS: the broker's certificate is NOT verified (tls.insecure)")
            client.tls_insecure_set(True)

    # ------------------------------------------------------------- the sink contract
    @property
    def dropped(self) -> int:
        """Results that will never be sent: batch overflow + outbox overflow (this run)."""
        return self._batch_dropped + self.outbox.dropped

    def write(self, record: Record) -> None:
        if self._fatal is not None:
            raise self._fatal
        payload = encode_line(record)[:-1]  # the JSONL line without its newline: no NaN
        # Event mode's edge.event/1 records travel through the same outbox on their own
        # topic; only per-frame results drive the Home Assistant label state.
        is_event = record.get("schema") == EVENT_SCHEMA
        model = record.get("model")
        if isinstance(model, dict) and model.get("sha256") != self._model["sha256"]:
            # A SIGHUP reload swapped the model: the stats name the one now producing.
            self._model = {"name": str(model.get("name")), "sha256": str(model.get("sha256"))}
        with self._lock:
            if len(self._batch) >= _BATCH_CAP:
                self._batch_dropped += 1
                return
            self._batch.append((self.topic_events if is_event else self.topic_results, payload))
        if self._config.homeassistant and not is_event:
            self._publish_live(record)

    def tick(self, stats: RunStats) -> None:
        """Pipeline tick hook: publish ``<prefix>/stats`` every ``stats_interval`` seconds."""
        now = time.monotonic()
        if now < self._next_stats:
            return
        self._next_stats = now + self._config.stats_interval
        if self.state == "connected":
            payload = json.dumps(self._stats(stats, now), separators=(",", ":"))
            self._client.publish(self.topic_stats, payload, qos=0, retain=True)

    def close(self) -> None:
        """Commit what is batched, let the outbox drain up to ``close_timeout``, announce
        ``stopped`` and disconnect. Whatever is not acknowledged stays for the next run."""
        self._closing.set()
        self._wake.set()
        self._writer.join(self._config.close_timeout + 5.0)
        if self.state == "connected":
            info = self._client.publish(self.topic_availability, "stopped", qos=1, retain=True)
            # If the link dropped meanwhile, the will says "offline" instead.
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=2.0)
        self._client.disconnect()
        self._client.loop_stop()
        self.state = "disconnected"
        if self._writer.is_alive():  # stuck on the disk: closing under it is unsafe
            log.warning("the MQTT outbox thread did not stop; what it committed is kept")
            return
        if self.outbox.rows:
            log.info(
                "%d results stay in the outbox %s for the next run",
                self.outbox.rows,
                self.outbox.path,
            )
        self.outbox.close()

    # ------------------------------------------------------------ the outbox thread
    def _run_outbox(self) -> None:
        interval = self._config.commit_interval
        next_commit = time.monotonic() + interval
        tokens, last_refill = float(self._config.max_inflight), time.monotonic()
        to_delete: list[int] = []
        drain_deadline: float | None = None
        try:
            while True:
                now = time.monotonic()
                wait = next_commit - now
                if self.state == "connected" and tokens < 1:
                    wait = min(wait, 1.0 / self._config.drain_rate)
                self._wake.wait(max(0.0, wait))
                self._wake.clear()
                now = time.monotonic()
                closing = self._closing.is_set()
                with self._ack_lock:
                    acked, self._acked = self._acked, []
                for mid in acked:
                    row_id = self._inflight.pop(mid, None)
                    self._sent_at.pop(mid, None)
                    if row_id is not None:
                        to_delete.append(row_id)
                if now >= next_commit or closing:
                    with self._lock:
                        batch, self._batch = self._batch, []
                    if batch or to_delete or self.outbox.rows > self.outbox.max_rows:
                        self.outbox.commit(batch, to_delete, self._inflight.values())
                    to_delete = []
                    next_commit = now + interval
                tokens = min(
                    float(self._config.max_inflight),
                    tokens + (now - last_refill) * self._config.drain_rate,
                )
                last_refill = now
                if self.state == "connected":
                    tokens = self._send(tokens, now)
                if closing:
                    if drain_deadline is None:
                        drain_deadline = now + self._config.close_timeout
                    done = not self._inflight and not self.outbox.after(self._last_sent, 1)
                    if done or self.state != "connected" or now >= drain_deadline:
                        if to_delete or self._acked:
                            continue  # one more pass commits the last acknowledgements
                        return
        except EdgeError as exc:
            self._fatal = exc
            log.error("%s", exc)
        except Exception as exc:  # never die silently: the loop learns it at its next write
            self._fatal = SinkError(f"the MQTT outbox thread failed: {exc!r}")
            log.exception("the MQTT outbox thread failed")

    def _send(self, tokens: float, now: float) -> float:
        """Hand the next committed rows to paho, within the window and the rate."""
        if self._connects != self._seen_connects:
            # Reconnected. paho resends what was in flight right after on_connect returns;
            # a new row published in between would overtake them and break seq order.
            # The window is narrow (the link-drop test passes without this), so the hold
            # makes it certain: no new row until the old ones are acknowledged.
            self._seen_connects = self._connects
            self._hold = bool(self._inflight)
            self._sent_at = dict.fromkeys(self._sent_at, now)  # the outage does not count
        if self._inflight and now - min(self._sent_at.values()) > self._stuck_after:
            # Never seen with paho 2.x, but a lost in-flight message would otherwise block
            # the window for good: forget the window and send those rows again (receivers
            # drop a duplicate by id).
            log.warning(
                "MQTT: %d results unacknowledged for %.0f s; sending them again",
                len(self._inflight),
                self._stuck_after,
            )
            self._last_sent = min(self._inflight.values()) - 1
            self._inflight.clear()
            self._sent_at.clear()
        if self._hold and self._inflight:
            return tokens
        self._hold = False
        free = min(self._config.max_inflight - len(self._inflight), int(tokens))
        if free <= 0:
            return tokens
        for row_id, topic, payload in self.outbox.after(self._last_sent, free):
            info = self._client.publish(topic, payload, qos=1)
            if info.rc == self._mqtt.MQTT_ERR_QUEUE_SIZE:
                break  # cannot happen with an unlimited paho queue; retried next pass
            # Whatever rc says (NO_CONN after a drop), paho queued the QoS 1 message and
            # will report it through on_publish once the broker acknowledges it.
            self._inflight[info.mid] = row_id
            self._sent_at[info.mid] = now
            self._last_sent = row_id
            tokens -= 1
        return tokens

    # ------------------------------------------------------------- paho callbacks
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        self._awaiting_connack = False
        if reason_code.is_failure:
            self._refused(client, str(reason_code))
            return
        was = self.state
        self._connects += 1  # before the state flips: see _send
        self.state = "connected"
        self._ever_connected = True
        self._outage_logged = False
        log.info(
            "MQTT connected to %s (%s); outbox holds %d results",
            self.name,
            "reconnected" if was == "disconnected" else "first connection",
            self.outbox.rows,
        )
        client.publish(self.topic_availability, "online", qos=1, retain=True)
        if self._config.commands:
            client.subscribe(self.topic_set, qos=1)
            self._publish_state()
        if self._config.homeassistant:
            client.subscribe(self._ha_status, qos=1)
            self._publish_discovery()
        self._next_stats = 0.0  # fresh stats at the next tick
        self._wake.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if self._awaiting_connack:
            # TCP (and TLS) was up but the broker hung up before CONNACK: typically a plain
            # MQTT client talking to a TLS port.
            self._awaiting_connack = False
            if self._config.tls is None:
                cause = "if that port expects TLS, use mqtts:// (or a [sinks.tls] table)"
            else:  # with TLS 1.3 a missing client certificate shows up only here
                cause = (
                    "the broker may require a client certificate (tls.cert_file and "
                    "tls.key_file) or refuse this client id"
                )
            self._log_failure(
                "no-connack",
                f"MQTT broker {self.name} closed the connection "
                f"before answering CONNECT; {cause}; results wait in the outbox",
            )
        if self.state == "connected" and not self._closing.is_set():
            log.warning(
                "MQTT connection to %s lost (%s); results wait in the outbox and are "
                "sent after the reconnect",
                self.name,
                reason_code,
            )
            self._outage_logged = True  # that was this outage's one message
        if self.state == "connected":
            self.state = "disconnected"

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any, properties: Any
    ) -> None:
        with self._ack_lock:
            self._acked.append(mid)
        self._wake.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: Any) -> None:
        if message.topic == self._ha_status:
            if message.payload == b"online":
                log.info("Home Assistant came online; discovery republished")
                self._publish_discovery()
                self._next_stats = 0.0
            return
        if message.topic == self.topic_set:
            self._command(message)

    # ---------------------------------------------------------------- failures
    def _refused(self, client: mqtt.Client, reason: str) -> None:
        if reason in _AUTH_REFUSALS:
            message = (
                f"MQTT broker {self.name} refused the credentials (CONNACK: {reason}) "
                f"for user {self._config.username!r}"
            )
            hint = (
                "check username and the password source (password_file, password_env or "
                "password_credential) against the broker's password file"
            )
            self._fail_or_log("auth", message, hint, client)
        else:
            self._log_failure(
                "refused",
                f"MQTT broker {self.name} refused the connection (CONNACK: {reason}); retrying",
            )

    def _connect_error(self, exc: OSError) -> None:
        if isinstance(exc, ssl.SSLCertVerificationError):
            reason = exc.verify_message or "certificate verify failed"
            message = (
                f"the TLS certificate of MQTT broker {self.name} did not verify: "
                f"{reason} (certificate verify failed)"
            )
            hint = (
                "set tls.ca_file to the CA that signed the broker's certificate and use "
                "the host name the certificate names"
            )
            self._fail_or_log("tls-verify", message, hint, self._client)
        elif isinstance(exc, ssl.SSLError):
            self._log_failure(
                "tls",
                f"TLS handshake with MQTT broker {self.name} failed "
                f"({exc.reason or exc}); if that port is plain MQTT, use mqtt:// "
                "or the broker's TLS port; results wait in the outbox",
            )
        else:
            reason = exc.strerror or exc.__class__.__name__
            message = (
                f"MQTT broker {self.name} is not reachable ({reason}); results wait in "
                f"the outbox {self.outbox.path} and are sent when it is back"
            )
            # Said once per outage (the status line shows the state meanwhile).
            log.log(logging.DEBUG if self._outage_logged else logging.WARNING, "%s", message)
            self._outage_logged = True
        if self.state == "connected":
            self.state = "disconnected"

    def _fail_or_log(self, key: str, message: str, hint: str, client: mqtt.Client) -> None:
        if not self._ever_connected:
            self._fatal = ConfigError(message, hint=hint)
            log.error("%s\n  fix: %s", message, hint)
            self.state = "refused"
            client.disconnect()  # stops paho's retry loop: retrying cannot fix this
        else:
            self._log_failure(key, f"{message}; retrying (fix: {hint})", level=logging.ERROR)

    def _log_failure(self, key: str, message: str, level: int = logging.WARNING) -> None:
        now = time.monotonic()
        if now - self._last_error_log.get(key, -_REPEAT_LOG) >= _REPEAT_LOG:
            self._last_error_log[key] = now
            log.log(level, "%s", message)
        else:
            log.debug("%s", message)

    # -------------------------------------------------------------- commands
    def _command(self, message: Any) -> None:
        if message.retain:
            log.warning(
                "ignored a retained command on %s: commands must not be retained "
                "(clear it with: mosquitto_pub -r -n -t %s)",
                message.topic,
                message.topic,
            )
            return
        try:
            data = json.loads(message.payload)
            if not isinstance(data, dict) or not data:
                raise ValueError("expected a JSON object with paused and/or threshold")
            command = Command.model_validate(data)
        except (ValueError, ValidationError) as exc:
            log.warning(
                "ignored an invalid command on %s: %s; expected e.g. "
                '{"paused": true} or {"threshold": 0.6}',
                message.topic,
                str(exc).splitlines()[0][:200],
            )
            return
        if self._control is None:
            log.warning("ignored a command on %s: this run takes no commands", message.topic)
            return
        if "paused" in command.model_fields_set and command.paused is not None:
            self._control.set_paused(command.paused)
            log.info("command: detection %s", "paused" if command.paused else "resumed")
        if "threshold" in command.model_fields_set:
            self._control.set_threshold(command.threshold)
            log.info(
                "command: score threshold %s",
                command.threshold if command.threshold is not None else "restored to the model's",
            )
        self._publish_state()

    def _publish_state(self) -> None:
        state = self._control.snapshot() if self._control else {"paused": False, "threshold": None}
        self._client.publish(self.topic_state, json.dumps(state), qos=1, retain=True)

    # ---------------------------------------------------------- Home Assistant
    def _publish_discovery(self) -> None:
        payload = discovery_payload(
            device=self.device,
            prefix=self.prefix,
            labels=self._labels,
            model_name=self._model["name"],
            expire_after=self._config.expire_after,
        )
        self._client.publish(
            discovery_topic(self._config.discovery_prefix, self.device),
            json.dumps(payload),
            qos=1,
            retain=True,
        )
        self._labels_published = 0.0  # resend the label state right away

    def _publish_live(self, record: Record) -> None:
        """Label state for the binary sensors, and an event per newly seen label (QoS 0:
        live state, not results; the durable copy is the record on ``results``)."""
        present = {str(d.get("label")) for d in record.get("detections", [])}
        now = time.monotonic()
        changed = present != self._present
        if changed or now - self._labels_published >= self._config.expire_after / 3:
            if self.state == "connected":
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
                    self._client.publish(f"{self.prefix}/event", json.dumps(event), qos=0)
                self._client.publish(
                    f"{self.prefix}/labels", json.dumps({"present": sorted(present)}), qos=0
                )
                self._labels_published = now
            self._present = present

    # ------------------------------------------------------------------- stats
    def _stats(self, stats: RunStats, now: float) -> dict[str, Any]:
        mark_time, mark_frames = self._stats_mark
        self._stats_mark = (now, stats.frames)
        span = now - mark_time
        # The first message (or one right after a reconnect) has no window yet: use the
        # run's average instead of a rate over a few milliseconds.
        fps = (stats.frames - mark_frames) / span if span >= 0.5 else stats.fps
        infer = sorted(stats.infer_ms)
        return {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "device": self.device,
            "fps": round(fps, 2),
            "frames": stats.frames,
            "infer_ms_p50": _percentile(infer, 50),
            "infer_ms_p95": _percentile(infer, 95),
            "dropped_frames": stats.dropped,
            "paused_frames": stats.paused_frames,
            "paused": self._control.paused if self._control else False,
            "sink_drops": dict(stats.sink_dropped),
            "outbox": {
                "depth": self.outbox.rows,
                "bytes": self.outbox.bytes,
                "dropped": self.outbox.dropped,
                "dropped_total": self.outbox.dropped_total,
            },
            "uptime_s": round(now - self._started, 1),
            "model": self._model,
            "cpu_temp_c": cpu_temperature(),
            "version": __version__,
        }


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    index = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return round(values[index], 3)


def cpu_temperature(root: Path = Path("/sys/class/thermal")) -> float | None:
    """The SoC temperature in °C from the first CPU thermal zone (Linux, a Pi), else None."""
    zones = sorted(root.glob("thermal_zone*"))
    preferred = [z for z in zones if "cpu" in _read(z / "type").lower()] or zones
    for zone in preferred:
        text = _read(zone / "temp")
        if text.strip().lstrip("-").isdigit():
            return round(int(text) / 1000, 1)
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""
