"""TLS and credentials against a real mosquitto with a CA and a password file made here.

Decisions under test (docs/mqtt.md, "TLS and credentials"): a wrong password and a broker
certificate that does not verify are configuration errors, fatal at start (exit 78,
so systemd does not restart-loop on them); a plain client on the TLS port is retried
with a clear log line. The password never shows in logs, records or the outbox.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunEdge
from tests.edge.sinks.mqtt.conftest import (
    Broker,
    Device,
    Subscriber,
    TlsFiles,
    free_port,
    needs_mosquitto,
)
from tests.edge.waiting import wait_for

pytestmark = needs_mosquitto

CANARY = "canary-Pw-7f3e9c1d"


@pytest.fixture
def tls_broker(tmp_path: Path, tls_files: TlsFiles, cleanup: list[Any]) -> Broker:
    passwords = tmp_path / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(passwords), "pi", CANARY],
        check=True,
        capture_output=True,
        timeout=30,
    )
    broker = Broker(tmp_path / "broker", tls=tls_files, password_file=passwords).start()
    cleanup.append(broker)
    return broker


def tls_config(
    broker: Broker, tmp: Path, *, ca: Path, password_line: str, scheme_tls: bool = True
) -> str:
    tls = f"\n[sinks.tls]\nca_file = '{ca}'\n" if scheme_tls else ""
    return (
        f"status_interval = 0.5\n[source]\nkind = 'synthetic'\nfps = 20\n"
        f"[[sinks]]\nkind = 'jsonl'\npath = 'ledger.jsonl'\n"
        f"[[sinks]]\nkind = 'mqtt'\nhost = '127.0.0.1'\nport = {broker.port}\n"
        f"outbox = '{tmp}/outbox.sqlite3'\nusername = 'pi'\n{password_line}\n{tls}"
    )


def assert_no_canary(*places: Path, text: str = "") -> None:
    assert CANARY not in text
    for place in places:
        if place.exists():
            assert CANARY.encode() not in place.read_bytes(), f"password found in {place}"


def test_right_credentials_over_tls(
    tmp_path: Path, tls_broker: Broker, tls_files: TlsFiles, cleanup: list[Any]
) -> None:
    subscriber = Subscriber(
        tls_broker, ["edge/+/results"], tmp_path / "sub.txt", auth=("-u", "pi", "-P", CANARY)
    )
    cleanup.append(subscriber)
    subscriber.wait_ready()
    secret = tmp_path / "mqtt_password"
    secret.write_text(CANARY + "\n")
    device = Device(
        tmp_path / "dev",
        tls_config(
            tls_broker, tmp_path, ca=tls_files.ca, password_line=f"password_file = '{secret}'"
        ),
        "--device",
        "pi1",
        verbose=True,
    )  # debug logs must not leak it either
    cleanup.append(device)
    wait_for(lambda: len(subscriber.results()) >= 20, 30, "results over TLS")
    assert device.stop() == 0, device.stderr
    assert "MQTT connected to mqtts://127.0.0.1" in device.stderr
    dev = tmp_path / "dev"
    assert_no_canary(
        dev / "stderr.txt",
        dev / "ledger.jsonl",
        tmp_path / "outbox.sqlite3",
        tmp_path / "outbox.sqlite3-wal",
    )


def test_password_from_a_systemd_credential(
    tmp_path: Path, tls_broker: Broker, tls_files: TlsFiles, cleanup: list[Any]
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "mqtt_password").write_text(CANARY)
    config = tls_config(
        tls_broker, tmp_path, ca=tls_files.ca, password_line="password_credential = 'mqtt_password'"
    )
    device = Device(
        tmp_path / "dev", config, "--device", "pi1", env={"CREDENTIALS_DIRECTORY": str(credentials)}
    )
    cleanup.append(device)
    wait_for(lambda: "MQTT connected" in device.stderr, 20, "a connection")
    assert device.stop() == 0
    assert_no_canary(tmp_path / "dev" / "stderr.txt")


def test_wrong_password_is_fatal_at_start(
    tmp_path: Path, tls_broker: Broker, tls_files: TlsFiles
) -> None:
    wrong = CANARY + "-wrong"
    device = Device(
        tmp_path / "dev",
        tls_config(tls_broker, tmp_path, ca=tls_files.ca, password_line="password_env = 'PW'"),
        "--device",
        "pi1",
        env={"PW": wrong},
    )
    assert device.wait(30) == 78, device.stderr
    stderr = device.stderr
    assert "refused the credentials (CONNACK: Not authorized) for user 'pi'" in stderr
    assert "fix: check username and the password source" in stderr
    assert stderr.count("refused the credentials") <= 2  # once logged, once as the error
    assert_no_canary(tmp_path / "dev" / "ledger.jsonl", text=stderr)


def test_unknown_ca_is_fatal_at_start(
    tmp_path: Path, tls_broker: Broker, tls_files: TlsFiles
) -> None:
    secret = tmp_path / "pw"
    secret.write_text(CANARY)
    device = Device(
        tmp_path / "dev",
        tls_config(
            tls_broker, tmp_path, ca=tls_files.other_ca, password_line=f"password_file = '{secret}'"
        ),
        "--device",
        "pi1",
    )
    assert device.wait(30) == 78, device.stderr
    assert "did not verify" in device.stderr and "certificate verify failed" in device.stderr
    assert "fix: set tls.ca_file to the CA that signed" in device.stderr
    assert_no_canary(text=device.stderr)


def test_plain_client_on_the_tls_port_is_told_why(
    tmp_path: Path, tls_broker: Broker, cleanup: list[Any]
) -> None:
    secret = tmp_path / "pw"
    secret.write_text(CANARY)
    device = Device(
        tmp_path / "dev",
        tls_config(
            tls_broker,
            tmp_path,
            ca=Path("unused"),
            password_line=f"password_file = '{secret}'",
            scheme_tls=False,
        ),
        "--device",
        "pi1",
    )
    cleanup.append(device)
    wait_for(
        lambda: "closed the connection before answering CONNECT" in device.stderr,
        20,
        "the plain-on-TLS message",
    )
    assert device.process.poll() is None  # not fatal: retried, results kept in the outbox
    assert device.stop() == 0, device.stderr
    assert "use mqtts://" in device.stderr
    assert device.stderr.count("closed the connection before answering CONNECT") == 1
    assert_no_canary(text=device.stderr)


def test_password_in_the_url_is_refused_without_echoing_it(run_edge: RunEdge) -> None:
    done = run_edge(
        ["run", "--sink", f"mqtt://pi:{CANARY}@127.0.0.1:{free_port()}", "--max-frames", "1"]
    )
    assert done.returncode == 2
    assert "password in the --sink URL" in done.stderr and "?password_file=" in done.stderr
    assert CANARY not in done.stderr + done.stdout


def test_missing_password_file_is_a_config_error(run_edge: RunEdge, tmp_path: Path) -> None:
    done = run_edge(
        [
            "run",
            "--sink",
            f"mqtt://pi@127.0.0.1:{free_port()}?password_file={tmp_path}/nope",
            "--max-frames",
            "1",
        ]
    )
    assert done.returncode == 78
    assert "the MQTT password file" in done.stderr and "does not exist" in done.stderr


def test_client_certificate_instead_of_a_password(
    tmp_path: Path, tls_files: TlsFiles, cleanup: list[Any]
) -> None:
    broker = Broker(
        tmp_path / "broker",
        tls=tls_files,
        extra="require_certificate true\nuse_identity_as_username true\n",
    ).start()
    cleanup.append(broker)
    base = (
        f"[source]\nkind = 'synthetic'\nfps = 20\n[[sinks]]\nkind = 'mqtt'\n"
        f"host = '127.0.0.1'\nport = {broker.port}\noutbox = '{tmp_path}/o.sqlite3'\n"
        f"[sinks.tls]\nca_file = '{tls_files.ca}'\n"
    )
    without = Device(tmp_path / "without", base, "--device", "pi1")
    cleanup.append(without)
    wait_for(
        lambda: "may require a client certificate (tls.cert_file" in without.stderr,
        20,
        "the broker refusing a client without a certificate",
    )
    assert without.stop() == 0

    with_cert = (
        base + f"cert_file = '{tls_files.client_cert}'\nkey_file = '{tls_files.client_key}'\n"
    )
    device = Device(tmp_path / "with", with_cert, "--device", "pi1")
    cleanup.append(device)
    wait_for(lambda: "MQTT connected to mqtts://" in device.stderr, 20, "a connection")
    assert device.stop() == 0, device.stderr
    assert "as edge-pi1" in broker.log.read_text()
