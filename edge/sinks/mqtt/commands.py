"""Commands on ``<prefix>/set``: parse, validate, apply to the run control, echo the state.

A command is a JSON object with ``paused`` and/or ``threshold``; anything else is logged
and ignored. A retained command is never applied: it would be replayed at every
reconnect and silently re-apply a stale setting (a known Frigate bug). The resulting
state is published retained on ``<prefix>/state`` on every connect and after every
command.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, StrictBool

if TYPE_CHECKING:
    from edge.pipeline.control import RunControl
    from edge.sinks.mqtt.connection import Publisher

log = logging.getLogger(__name__)

EXAMPLES = '{"paused": true} or {"threshold": 0.6}'


class Command(BaseModel):
    """A command on ``<prefix>/set``: JSON with one or both keys."""

    model_config = ConfigDict(extra="forbid")

    # Strict: pydantic would otherwise read "yes" or 1 as true; a command is exact JSON.
    paused: StrictBool | None = Field(None, description="true pauses detection, false resumes")
    threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="minimum score; null restores the model's"
    )


def parse_command(payload: bytes | str) -> Command:
    """The command in ``payload``; ``ValueError`` (one line) when it is not one."""
    try:
        data = json.loads(payload)
        if not isinstance(data, dict) or not data:
            raise ValueError("expected a JSON object with paused and/or threshold")
        return Command.model_validate(data)
    except ValueError as exc:  # json.JSONDecodeError and pydantic's ValidationError are ones
        raise ValueError(str(exc).splitlines()[0][:200]) from None


class Commands:
    """Applies ``<prefix>/set`` to the run control and publishes ``<prefix>/state``.

    Threads: runs on paho's network thread only (on connect and on a message); it keeps
    no state of its own, and ``RunControl`` locks its own.
    """

    def __init__(self, connection: Publisher, *, prefix: str, control: RunControl | None) -> None:
        self.topic_set = f"{prefix}/set"
        self.topic_state = f"{prefix}/state"
        self._connection = connection
        self._control = control

    def on_connect(self) -> None:
        self._connection.subscribe(self.topic_set)
        self.publish_state()

    def on_message(self, topic: str, payload: bytes, retain: bool) -> None:
        if retain:
            log.warning(
                "ignored a retained command on %s: commands must not be retained "
                "(clear it with: mosquitto_pub -r -n -t %s)",
                topic,
                topic,
            )
            return
        try:
            command = parse_command(payload)
        except ValueError as exc:
            log.warning(
                "ignored an invalid command on %s: %s; expected e.g. %s", topic, exc, EXAMPLES
            )
            return
        if self._control is None:
            log.warning("ignored a command on %s: this run takes no commands", topic)
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
        self.publish_state()

    def publish_state(self) -> None:
        state = self._control.snapshot() if self._control else {"paused": False, "threshold": None}
        self._connection.publish(self.topic_state, json.dumps(state), qos=1, retain=True)
