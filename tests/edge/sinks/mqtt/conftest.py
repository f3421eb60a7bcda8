"""A real mosquitto per test, on a free loopback port, with its own config in a temp dir.

``Broker`` starts Debian's ``/usr/sbin/mosquitto`` (scripts/test.sh installs it), can stop,
restart (same port, persistence on, so a subscriber's persistent session and its queued
messages survive) and kill it. ``Subscriber`` is ``mosquitto_sub``, an independent real
client, writing one line per message with its arrival time. ``Device`` is the real
``edge run`` command in a subprocess. ``tls_files`` makes a CA, a server certificate for
127.0.0.1/localhost and an unrelated second CA with openssl. ``FakeConnection`` stands in
for the connection where a part of the sink is tested without a broker.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.edge.waiting import wait_for

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
HAVE_TOOLS = Path(MOSQUITTO).exists() and shutil.which("mosquitto_sub") is not None

# Modules that start brokers set ``pytestmark = needs_mosquitto``.
needs_mosquitto = pytest.mark.skipif(
    not HAVE_TOOLS, reason="mosquitto not installed (bash scripts/test.sh installs it)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Published:
    topic: str
    payload: str | bytes
    qos: int
    retain: bool


@dataclass
class FakeConnection:
    """What the sink's parts need of the connection (``edge.sinks.mqtt.connection``'s
    ``Publisher``), recording what they publish and subscribe."""

    connected: bool = True
    published: list[Published] = field(default_factory=list)
    subscribed: list[str] = field(default_factory=list)

    def publish(self, topic: str, payload: str | bytes, qos: int, retain: bool = False) -> None:
        self.published.append(Published(topic, payload, qos, retain))

    def subscribe(self, topic: str) -> None:
        self.subscribed.append(topic)

    def on(self, topic: str) -> list[Any]:
        """The JSON payloads published on ``topic``, in order."""
        return [json.loads(p.payload) for p in self.published if p.topic == topic]


class Broker:
    def __init__(
        self,
        directory: Path,
        *,
        tls: TlsFiles | None = None,
        password_file: Path | None = None,
        extra: str = "",
    ) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.tls = tls
        self.log = directory / "mosquitto.log"
        lines = [
            f"listener {self.port} 127.0.0.1",
            f"allow_anonymous {'false' if password_file else 'true'}",
            "persistence true",
            f"persistence_location {directory}/",
            "autosave_interval 1",
            "max_queued_messages 0",  # no cap: a persistent subscriber gets every message
            "max_inflight_messages 100",
            f"log_dest file {self.log}",
            "log_type all",
            # Started as root (CI containers), mosquitto would switch to the user
            # "mosquitto", who cannot write this temp dir: stay the current user.
            f"user {getpass.getuser()}",
        ]
        if password_file:
            lines.append(f"password_file {password_file}")
        if tls:
            lines += [
                f"cafile {tls.ca}",
                f"certfile {tls.server_cert}",
                f"keyfile {tls.server_key}",
            ]
        self.config = directory / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n" + extra)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Broker:
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._accepting, 10, f"mosquitto on port {self.port}")
        return self

    def _accepting(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"mosquitto exited: {self.log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM: mosquitto saves its persistence file (sessions, queued messages)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def sub_args(self) -> list[str]:
        args = ["-h", "127.0.0.1", "-p", str(self.port)]
        if self.tls:
            args += ["--cafile", str(self.tls.ca)]
        return args


class Subscriber:
    """``mosquitto_sub`` with a persistent session (-c, fixed id) at QoS 1: messages that
    arrive at the broker while it is reconnecting are queued for it, not lost."""

    def __init__(
        self,
        broker: Broker,
        topics: list[str],
        path: Path,
        *,
        auth: tuple[str, ...] = (),
        persistent: bool = True,
    ) -> None:
        self.path = path
        self.broker = broker
        self.auth = list(auth)
        args = ["mosquitto_sub", *broker.sub_args(), "-q", "1", "-F", "%U %r %t %p", *auth]
        if persistent:
            args += ["-c", "-i", f"sub-{path.stem}"]
        for topic in [*topics, "probe/" + path.stem]:
            args += ["-t", topic]
        self.probe = "probe/" + path.stem
        self._out = path.open("wb")
        self.process = subprocess.Popen(args, stdout=self._out, stderr=subprocess.DEVNULL)

    def wait_ready(self, timeout: float = 10) -> None:
        """Publish probes until one comes back: the subscription is in place."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            subprocess.run(
                [
                    "mosquitto_pub",
                    *self.broker.sub_args(),
                    "-t",
                    self.probe,
                    "-m",
                    "probe",
                    *self.auth,
                ],
                check=False,
                timeout=10,
            )
            try:
                wait_for(lambda: any(m.topic == self.probe for m in self.messages()), 0.5, "probe")
                return
            except AssertionError:
                continue
        raise AssertionError("mosquitto_sub did not receive its probe")

    def messages(self) -> list[Message]:
        """Text messages, one per line. A binary payload (the snapshot JPEG) spans lines:
        its first line is kept mangled, the rest (no arrival time in front) skipped."""
        found = []
        for line in self.path.read_bytes().decode("utf-8", "replace").splitlines():
            parts = line.split(" ", 3)
            if len(parts) == 4 and parts[1] in ("0", "1"):
                try:
                    arrived = float(parts[0])
                except ValueError:
                    continue
                found.append(Message(arrived, parts[1] == "1", parts[2], parts[3]))
        return found

    def payloads(self, topic_suffix: str) -> list[str]:
        return [m.payload for m in self.messages() if m.topic.endswith(topic_suffix)]

    def results(self) -> list[dict[str, Any]]:
        return [json.loads(p) for p in self.payloads("/results")]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self._out.close()


@dataclass
class Message:
    arrived: float
    retained: bool
    topic: str
    payload: str


class Device:
    """The real ``edge run`` in a subprocess, stderr to a file."""

    def __init__(
        self,
        directory: Path,
        config: str,
        *args: str,
        env: dict[str, str] | None = None,
        verbose: bool = False,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        (directory / "edge.toml").write_text(config)
        self.stderr_path = directory / "stderr.txt"
        self._stderr = self.stderr_path.open("ab")
        command = [
            sys.executable,
            "-c",
            "from edge.cli import entry; entry()",
            *(["-v"] if verbose else []),
            "run",
            "--config",
            "edge.toml",
            *args,
        ]
        self.process = subprocess.Popen(
            command,
            cwd=directory,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            env={**os.environ, **(env or {})},
        )

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.wait(timeout)

    def wait(self, timeout: float = 30) -> int:
        try:
            return self.process.wait(timeout)
        finally:
            self._stderr.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        self._stderr.close()


@dataclass
class TlsFiles:
    ca: Path
    server_cert: Path
    server_key: Path
    other_ca: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A CA, a server certificate it signs for 127.0.0.1 and localhost, a client
    certificate it signs, and a second, unrelated CA (the "unknown CA" case)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    d = tmp_path_factory.mktemp("tls")
    for name in ("ca", "other-ca"):
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN=edge test {name}",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.crt",
            cwd=d,
        )
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        cwd=d,
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
        cwd=d,
    )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=pi-client",
        "-keyout",
        "client.key",
        "-out",
        "client.csr",
        cwd=d,
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        "client.crt",
        cwd=d,
    )
    return TlsFiles(
        d / "ca.crt",
        d / "server.crt",
        d / "server.key",
        d / "other-ca.crt",
        d / "client.crt",
        d / "client.key",
    )


@pytest.fixture
def cleanup() -> Iterator[list[Any]]:
    """Register brokers, subscribers and devices; all are stopped at the end."""
    items: list[Any] = []
    yield items
    for item in reversed(items):
        # Best effort: a failure here must never mask the test's own failure.
        with contextlib.suppress(Exception):
            if isinstance(item, (Device, Broker)):
                item.kill()
            else:
                item.close()


def mqtt_config(
    broker: Broker,
    tmp: Path,
    *,
    fps: float = 20,
    extra: str = "",
    sink_extra: str = "",
    jsonl: bool = True,
    publish: str = "every_frame",
) -> str:
    """A config with the synthetic camera, a JSONL ledger and the MQTT sink, which sends
    every result (``publish``; no rate cap) unless told otherwise: most tests here check
    that every result of the ledger is delivered."""
    text = f"status_interval = 1.0\n{extra}\n[source]\nkind = 'synthetic'\nfps = {fps}\n"
    if jsonl:
        text += "\n[[sinks]]\nkind = 'jsonl'\npath = 'ledger.jsonl'\n"
    text += (
        f"\n[[sinks]]\nkind = 'mqtt'\nhost = '127.0.0.1'\nport = {broker.port}\n"
        f"outbox = '{tmp}/outbox.sqlite3'\nstats_interval = 1.0\npublish = '{publish}'\n"
        f"max_rate = 0\n{sink_extra}\n"
    )
    return text


class LinkCutter:
    """A TCP proxy in front of a broker whose link can be cut: every connection through
    it is closed at once and new ones are refused while it is down. ``cut(ack_loss=s)``
    first swallows the broker's replies for ``s`` seconds (PUBLISHes still reach the
    broker, PUBACKs never come back: a half-open link), so results are in flight when the
    link drops. The broker and its other clients stay up, so what is lost or duplicated
    is the device's doing only."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.up = threading.Event()
        self.up.set()
        self.replies = threading.Event()
        self.replies.set()
        self.outgoing = threading.Event()  # set whenever the device's bytes are forwarded
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._server.settimeout(0.1)
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                continue
            if not self.up.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            for a, b, gate, seen in (
                (client, upstream, None, self.outgoing),
                (upstream, client, self.replies, None),
            ):
                threading.Thread(target=self._pump, args=(a, b, gate, seen), daemon=True).start()

    @staticmethod
    def _pump(
        source: socket.socket,
        sink: socket.socket,
        gate: threading.Event | None,
        seen: threading.Event | None,
    ) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if gate is None or gate.is_set():
                    sink.sendall(data)
                if seen is not None:
                    seen.set()
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self, ack_loss: float = 0.0) -> None:
        if ack_loss:
            self.replies.clear()
            self.outgoing.clear()
            time.sleep(ack_loss)
            # The device sent something that will never be acknowledged (in flight when the
            # link drops), however slowly it published during those seconds.
            assert self.outgoing.wait(10), "the device sent nothing while replies were held"
        self.up.clear()
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for s in pair:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def restore(self) -> None:
        self.replies.set()
        self.up.set()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._server.close()
