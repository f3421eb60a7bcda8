"""``<prefix>/set`` on its own: the parser's cases, and what a command does to the run."""

from __future__ import annotations

import logging
import re

import pytest

from edge.pipeline.control import RunControl
from edge.sinks.mqtt.commands import Command, CommandError, Commands, parse_command
from tests.edge.sinks.mqtt.conftest import FakeConnection, Published


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ('{"paused": true}', {"paused": True}),
        ('{"paused": false}', {"paused": False}),
        ('{"threshold": 0.6}', {"threshold": 0.6}),
        ('{"threshold": 0}', {"threshold": 0.0}),
        ('{"threshold": null}', {"threshold": None}),
        ('{"paused": false, "threshold": 1.0}', {"paused": False, "threshold": 1.0}),
        (b'{"paused": true}', {"paused": True}),
    ],
)
def test_valid_commands(payload: str | bytes, expected: dict[str, object]) -> None:
    command = parse_command(payload)
    assert command.model_dump(include=command.model_fields_set) == expected


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ("not json", None, "not JSON"),
        ("{}", None, "expected a JSON object"),
        ("[1]", None, "expected a JSON object"),
        ('"paused"', None, "expected a JSON object"),
        ('{"paused": "yes"}', "paused", "must be true or false"),  # strict: no "yes", no 1
        ('{"paused": 1}', "paused", "must be true or false"),
        ('{"threshold": 1.5}', "threshold", "must be a number from 0 to 1, or null"),
        ('{"threshold": -0.1}', "threshold", "must be a number from 0 to 1, or null"),
        ('{"threshold": true}', "threshold", "must be a number from 0 to 1, or null"),
        ('{"threshold": "0.5"}', "threshold", "must be a number from 0 to 1, or null"),
        ('{"threshold": [0.5]}', "threshold", "must be a number"),
        ('{"threshold": NaN}', None, "NaN is not a JSON number"),
        ('{"pause": true}', "pause", "unknown field"),
        ("[" * 5000 + "]" * 5000, None, "nested deeper than 4 levels"),
        ('{"a": "[[[[[[[[[["}', "a", "unknown field"),  # brackets in strings do not nest
        (b"\xff\xfe", None, "not JSON"),
    ],
)
def test_invalid_commands(payload: str | bytes, field: str | None, message: str) -> None:
    with pytest.raises(CommandError, match=re.escape(message)) as info:
        parse_command(payload)
    assert info.value.field == field
    assert "\n" not in str(info.value) and len(str(info.value)) <= 200
    if field is not None:
        assert str(info.value).startswith(f"{field}: ")


def test_a_rejection_names_the_field_on_the_state_topic_and_changes_nothing() -> None:
    connection, control = FakeConnection(), RunControl()
    commands = Commands(connection, prefix="p", control=control)
    commands.on_message("p/set", b'{"threshold": true}', retain=False)
    assert control.threshold is None and commands.rejected == 1
    [published] = connection.published
    assert (published.topic, published.qos, published.retain) == ("p/state", 1, False)
    assert connection.on("p/state") == [
        {
            "paused": False,
            "threshold": None,
            "effective_threshold": None,
            "rejected": {
                "field": "threshold",
                "error": "must be a number from 0 to 1, or null (got true)",
            },
        }
    ]


def test_commands_apply_to_the_run_control_and_echo_the_state() -> None:
    connection, control = FakeConnection(), RunControl()
    commands = Commands(connection, prefix="edge/pi1", control=control)
    commands.on_connect()
    assert connection.subscribed == ["edge/pi1/set"]
    commands.on_message("edge/pi1/set", b'{"paused": true, "threshold": 0.5}', retain=False)
    assert control.paused and control.threshold == 0.5
    commands.on_message("edge/pi1/set", b'{"threshold": null}', retain=False)
    assert control.paused and control.threshold is None
    assert connection.on("edge/pi1/state") == [
        {"paused": False, "threshold": None, "effective_threshold": None},  # on connect
        {"paused": True, "threshold": 0.5, "effective_threshold": 0.5},
        {"paused": True, "threshold": None, "effective_threshold": None},
    ]
    assert {(p.qos, p.retain) for p in connection.published} == {(1, True)}


def test_retained_invalid_and_unwanted_commands_change_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    connection, control = FakeConnection(), RunControl()
    commands = Commands(connection, prefix="p", control=control)
    with caplog.at_level(logging.INFO):
        commands.on_message("p/set", b'{"paused": true}', retain=True)
        commands.on_message("p/set", b'{"paused": "yes"}', retain=False)
        Commands(connection, prefix="p", control=None).on_message(
            "p/set", b'{"paused": true}', retain=False
        )
    assert not control.paused
    assert [p.retain for p in connection.published] == [False]  # the rejection only
    assert "ignored a retained command on p/set" in caplog.text
    assert "mosquitto_pub -r -n -t p/set" in caplog.text
    assert (
        'ignored an invalid command on p/set: paused: must be true or false (got "yes")'
        in caplog.text
    )
    assert '{"paused": true} or {"threshold": 0.6}' in caplog.text
    assert "this run takes no commands" in caplog.text


def test_state_without_a_run_control() -> None:
    connection = FakeConnection()
    Commands(connection, prefix="p", control=None).publish_state()
    assert connection.published == [
        Published(
            "p/state",
            '{"paused": false, "threshold": null, "effective_threshold": null}',
            1,
            True,
        )
    ]
    assert Command().model_fields_set == set()
