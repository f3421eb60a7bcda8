"""The connection failure policy on its own: fatal before the first connection, retried
and logged sparingly after; an outage told once. The broker-backed cases are in
test_security.py and test_delivery.py."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import pytest

from edge.errors import EXIT_CONFIG
from edge.sinks.mqtt.failures import ConnectionFailures


def failures(*, tls: bool = False) -> ConnectionFailures:
    return ConnectionFailures(
        "mqtt://b:1883", username="pi", tls=tls, outbox_path=Path("/var/lib/edge/o.sqlite3")
    )


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_refused_credentials_stop_a_run_that_never_connected() -> None:
    error = failures().refused("Not authorized")
    assert error is not None and error.exit_code == EXIT_CONFIG
    assert "refused the credentials (CONNACK: Not authorized) for user 'pi'" in str(error)
    assert "fix: check username and the password source" in str(error)


def test_an_unverified_certificate_stops_a_run_that_never_connected() -> None:
    exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
    exc.verify_message = "unable to get local issuer certificate"
    error = failures(tls=True).connect_error(exc)
    assert error is not None
    assert "did not verify: unable to get local issuer certificate" in str(error)


def test_after_a_connection_the_same_failures_are_retried_and_logged_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy = failures()
    policy.connected()
    with caplog.at_level(logging.DEBUG):
        assert policy.refused("Not authorized") is None
        assert policy.refused("Not authorized") is None
    [said] = warnings(caplog)
    assert said.endswith(
        "retrying (fix: check username and the password source "
        "(password_file, password_env or password_credential) against "
        "the broker's password file)"
    )
    assert caplog.records[-1].levelno == logging.DEBUG  # the repeat


def test_an_unreachable_broker_is_told_once_per_outage(caplog: pytest.LogCaptureFixture) -> None:
    policy = failures()
    refused = ConnectionRefusedError(111, "Connection refused")
    with caplog.at_level(logging.DEBUG):
        for _ in range(3):
            assert policy.connect_error(refused) is None
        policy.connected()
        policy.lost("Unspecified error")
        policy.connect_error(refused)  # the same outage: "lost" was its message
        policy.connected()
        policy.connect_error(refused)  # a new outage
    said = warnings(caplog)
    assert len(said) == 3
    assert said[0] == (
        "MQTT broker mqtt://b:1883 is not reachable (Connection refused); results wait in "
        "the outbox /var/lib/edge/o.sqlite3 and are sent when it is back"
    )
    assert said[1].startswith("MQTT connection to mqtt://b:1883 lost (Unspecified error)")


@pytest.mark.parametrize(
    ("tls", "cause"),
    [(False, "use mqtts://"), (True, "may require a client certificate (tls.cert_file")],
)
def test_a_hang_up_before_connack_names_the_likely_cause(
    tls: bool, cause: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        failures(tls=tls).no_connack()
    [said] = warnings(caplog)
    assert "closed the connection before answering CONNECT" in said and cause in said


def test_other_refusals_are_retried() -> None:
    assert failures().refused("Server unavailable") is None
