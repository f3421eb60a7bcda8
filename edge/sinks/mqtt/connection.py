"""The one paho client of a run: its set-up, its connection state and availability.

One client lives for the whole run and reconnects itself with backoff
(``reconnect_delay_set``); it is never recreated, which would throw away paho's in-flight
messages. Messages in flight at a disconnect are resent by paho after the reconnect (with
DUP set), so receivers may see a result twice: every record has a stable ``id`` to drop
duplicates by. Delivery is "accepted by the broker (PUBACK)", not "durable at the broker".

Availability is this module's: the last will says ``offline`` (QoS 1, retained), every
connect publishes ``online``, a clean close ``stopped``. What a failure means (retry or
stop the run) is ``edge.sinks.mqtt.failures``'.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from edge.errors import ConfigError, EdgeError
from edge.sinks.mqtt.failures import ConnectionFailures

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

    from edge.config.sinks import MqttSinkConfig, MqttTlsConfig

log = logging.getLogger(__name__)

# The largest incoming payload taken (a command is a few dozen bytes). A larger one is
# refused before any callback sees it; with MQTT 5 the broker is told never to send one
# (CONNECT's Maximum Packet Size: the payload plus room for the topic and properties).
# paho reads a whole packet into memory before it calls back, so with 3.1.1 only the
# broker's own limit keeps a 50 MB message out of the process (docs/mqtt.md, "Limits").
MAX_MESSAGE_BYTES = 64 * 1024
MAX_PACKET_BYTES = MAX_MESSAGE_BYTES + 4096


class Publisher(Protocol):
    """What the parts other than the pump need of the connection."""

    @property
    def connected(self) -> bool: ...

    def publish(self, topic: str, payload: str | bytes, qos: int, retain: bool = False) -> Any: ...

    def subscribe(self, topic: str) -> None: ...


class Connection:
    """The paho client and ``state``: ``connecting`` / ``connected`` / ``disconnected`` /
    ``refused`` (a configuration error stopped it: ``error``) / ``failed`` (paho's network
    thread ended while the run still needs it: ``failure`` says why).

    Every paho callback runs inside ``_guarded``: an exception is logged and counted
    (``faults``) and the network thread carries on; one that is not an ``Exception``
    (none should ever be) is recorded for ``failure`` and ends the thread.

    Threads: paho's network thread (``loop_start``) runs the callbacks and the reconnect
    wrapper; it alone touches ``_awaiting_connack`` and ``_failures``. ``_state``,
    ``_session`` (connections made so far) and ``_error`` are read from every thread and
    written by paho's thread and by ``close`` (the closing thread), so they are guarded
    by ``_lock``; so are ``_network`` (paho's thread, noted at its first connect attempt),
    ``_fatal`` and the ``faults`` counters, written by paho's thread. ``publish`` and
    ``subscribe`` may be called from any thread (paho locks its own queues).
    """

    def __init__(
        self,
        mqtt: Any,
        config: MqttSinkConfig,
        *,
        name: str,
        port: int,
        client_id: str,
        password: str | None,
        availability: str,
        outbox_path: Path,
        backlog: Callable[[], int],
        on_connect: Callable[[], None],
        on_message: Callable[[str, bytes, bool], None],
        on_publish: Callable[[int], None],
    ) -> None:
        self.name = name
        self._config, self._port, self._mqtt = config, port, mqtt
        self._availability = availability
        self._backlog = backlog
        self._connected_hook = on_connect
        self._message_hook = on_message
        self._acked_hook = on_publish
        self._lock = threading.Lock()
        self._state = "connecting"
        self._session = 0
        self._error: EdgeError | None = None
        self._closing = threading.Event()
        self._awaiting_connack = False
        self._network: threading.Thread | None = None
        self._fatal: str | None = None
        self._faults = {"oversized": 0, "callback_errors": 0}
        self._failures = ConnectionFailures(
            name,
            username=config.username,
            tls=config.tls is not None,
            outbox_path=outbox_path,
            client_id=client_id,
        )
        self._client = self._make_client(client_id, password)

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> str:
        if self.failure is not None:
            return "failed"
        with self._lock:
            return self._state

    @property
    def failure(self) -> str | None:
        """Why paho's network thread ended while the run still needs it, else None."""
        with self._lock:
            network, fatal, state = self._network, self._fatal, self._state
        if network is None or network.is_alive() or self._closing.is_set() or state == "refused":
            return None  # not started yet, running, or stopped on purpose
        return f"the MQTT network thread ended ({fatal or 'no exception seen'})"

    @property
    def faults(self) -> dict[str, int]:
        """Messages refused for their size and callback exceptions caught, this run."""
        with self._lock:
            return dict(self._faults)

    @property
    def connected(self) -> bool:
        return self.state == "connected"

    @property
    def error(self) -> EdgeError | None:
        """A configuration error that stops the run (set before the first connection)."""
        with self._lock:
            return self._error

    def session(self) -> int | None:
        """The number of the current connection (1 for the first), None while not connected:
        one read, so a caller never sees "connected" with an older connection's number."""
        with self._lock:
            return self._session if self._state == "connected" else None

    # ---------------------------------------------------------------- sending
    def publish(self, topic: str, payload: str | bytes, qos: int, retain: bool = False) -> Any:
        return self._client.publish(topic, payload, qos=qos, retain=retain)

    def send(self, topic: str, payload: bytes) -> int | None:
        """Hand one result to paho at QoS 1: its mid, or None when paho's queue is full."""
        info = self._client.publish(topic, payload, qos=1)
        if info.rc == self._mqtt.MQTT_ERR_QUEUE_SIZE:
            return None  # cannot happen with an unlimited paho queue; retried next pass
        # Whatever rc says (NO_CONN after a drop), paho queued the QoS 1 message and
        # will report it through on_publish once the broker acknowledges it.
        return int(info.mid)

    def subscribe(self, topic: str) -> None:
        self._client.subscribe(topic, qos=1)

    # -------------------------------------------------------------- lifecycle
    def start(self) -> None:
        properties = None
        if self._config.protocol == "5":
            # The broker then never delivers a packet larger than this (MQTT 5, 3.1.2.11.4).
            properties = self._mqtt.Properties(self._mqtt.PacketTypes.CONNECT)
            properties.MaximumPacketSize = MAX_PACKET_BYTES
        self._client.connect_async(
            self._config.host,
            self._port,
            keepalive=self._config.keepalive,
            properties=properties,
        )
        self._client.loop_start()

    def closing(self) -> None:
        """The run is stopping: a connection lost from now on is not worth a warning."""
        self._closing.set()

    def close(self) -> None:
        """Announce ``stopped`` (if connected), disconnect and stop paho's thread."""
        self._closing.set()
        if self.connected:
            info = self._client.publish(self._availability, "stopped", qos=1, retain=True)
            # If the link dropped meanwhile, the will says "offline" instead.
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=2.0)
        self._client.disconnect()
        self._client.loop_stop()
        # paho keeps a socket pair to wake its loop and closes it only in __del__; a client
        # held in a reference cycle is collected later, with a ResourceWarning per socket.
        # The thread has ended, so close them now (private, hence looked up).
        reset = getattr(self._client, "_reset_sockets", None)
        if callable(reset):
            reset()
        with self._lock:
            self._state = "disconnected"

    # ----------------------------------------------------------------- set-up
    def _make_client(self, client_id: str, password: str | None) -> Any:
        mqtt, config = self._mqtt, self._config
        protocol = mqtt.MQTTv5 if config.protocol == "5" else mqtt.MQTTv311
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol
        )
        client.max_inflight_messages_set(config.max_inflight + 10)  # + stats/availability
        client.reconnect_delay_set(min_delay=1, max_delay=config.reconnect_max_delay)
        client.will_set(self._availability, "offline", qos=1, retain=True)
        if config.username is not None:
            client.username_pw_set(config.username, password)
        if config.tls is not None:
            _set_tls(client, config.tls)
        client.on_connect = self._guarded("connect", self._on_connect)
        client.on_disconnect = self._guarded("disconnect", self._on_disconnect)
        client.on_publish = self._guarded("publish", self._on_publish)
        client.on_message = self._guarded("message", self._on_message)
        # paho swallows the exception of a failed (re)connect and tells on_connect_fail
        # nothing about it; wrapping reconnect on this instance keeps the reason, so the
        # log can say "certificate verify failed" instead of "connection failed".
        original = client.reconnect

        def reconnect() -> Any:
            with self._lock:  # always called on paho's network thread
                self._network = threading.current_thread()
            self._awaiting_connack = True
            try:
                return original()
            except OSError as exc:
                self._awaiting_connack = False
                self._stop_if(self._failures.connect_error(exc), client)
                self._lost()
                raise

        setattr(client, "reconnect", reconnect)  # noqa: B010 - shadow the method, see above
        return client

    # --------------------------------------------------------- paho callbacks
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        self._awaiting_connack = False
        if reason_code.is_failure:
            self._stop_if(self._failures.refused(str(reason_code)), client)
            return
        with self._lock:
            was = self._state
            self._session += 1
            self._state = "connected"
        self._failures.connected()
        log.info(
            "MQTT connected to %s (%s); outbox holds %d results",
            self.name,
            "reconnected" if was == "disconnected" else "first connection",
            self._backlog(),
        )
        client.publish(self._availability, "online", qos=1, retain=True)
        self._connected_hook()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if self._awaiting_connack:
            self._awaiting_connack = False
            self._failures.no_connack()
        if self._lost() and not self._closing.is_set():
            self._failures.lost(reason_code)

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any, properties: Any
    ) -> None:
        self._acked_hook(mid)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: Any) -> None:
        size = len(message.payload)
        if size > MAX_MESSAGE_BYTES:  # before anything else looks at it
            with self._lock:
                self._faults["oversized"] += 1
            log.warning(
                "MQTT: ignored a message of %d bytes on %s: the limit is %d bytes",
                size,
                message.topic,
                MAX_MESSAGE_BYTES,
            )
            return
        self._message_hook(message.topic, message.payload, bool(message.retain))

    def _guarded(self, name: str, callback: Callable[..., None]) -> Callable[..., None]:
        """``callback`` for paho: an exception is logged and counted, never raised into
        paho's network thread (paho re-raises it there and the thread ends: no result
        is sent again and no command read, while the state would still say connected)."""

        def run(*args: Any) -> None:
            try:
                callback(*args)
            except Exception:
                with self._lock:
                    self._faults["callback_errors"] += 1
                log.exception("MQTT: the %s callback failed; ignored, the client carries on", name)
            except BaseException as exc:  # ends the thread: say why in the state
                with self._lock:
                    self._fatal = f"{exc!r} in the {name} callback"
                raise

        return run

    def _lost(self) -> bool:
        """``connected`` -> ``disconnected``; True if the state was ``connected``."""
        with self._lock:
            was_connected = self._state == "connected"
            if was_connected:
                self._state = "disconnected"
        return was_connected

    def _stop_if(self, error: ConfigError | None, client: mqtt.Client) -> None:
        """A failure retrying cannot fix: the run stops with ``error`` at its next write."""
        if error is None:
            return
        with self._lock:
            self._error = error
            self._state = "refused"
        client.disconnect()  # stops paho's retry loop


def _set_tls(client: mqtt.Client, tls: MqttTlsConfig) -> None:
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
