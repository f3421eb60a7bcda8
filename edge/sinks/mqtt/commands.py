"""Commands on ``<prefix>/set``: parse, validate, apply to the run control, echo the state.

A command is a JSON object with ``paused`` and/or ``threshold``, strictly typed: ``paused``
is a JSON boolean, ``threshold`` a JSON number from 0 to 1 or null (never ``true`` read as
1.0, never ``"0.5"`` read as 0.5). A payload is refused before it is parsed when it is
larger than ``MAX_MESSAGE_BYTES`` (``edge.sinks.mqtt.connection`` checks that before any
callback sees it) or nested deeper than ``MAX_DEPTH``: ``json.loads`` recurses once per
level, and ``[[[[...`` of 10 KB raised ``RecursionError`` on paho's network thread, which
ended it. A rejection names the field and what it must be, in the log and in a
non-retained message on ``<prefix>/state`` (the retained state stays the true one).

A retained command is never applied: it would be replayed at every reconnect and
silently re-apply a stale setting (a known Frigate bug). The resulting state is
published retained on ``<prefix>/state`` on every connect and after every command.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, ValidationError

if TYPE_CHECKING:
    from edge.pipeline.control import RunControl
    from edge.sinks.mqtt.connection import Publisher

log = logging.getLogger(__name__)

EXAMPLES = '{"paused": true} or {"threshold": 0.6}'
MAX_DEPTH = 4  # a command is one flat object; a little room so [0.5] gets a typed error

# What each field must be, for the rejections (kept beside the model below).
MUST_BE = {"paused": "true or false", "threshold": "a number from 0 to 1, or null"}

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


class Command(BaseModel):
    """A command on ``<prefix>/set``: JSON with one or both keys."""

    model_config = ConfigDict(extra="forbid")

    # Strict: pydantic would otherwise read "yes" or 1 as true, and true or "0.5" as a
    # number; a command is exact JSON. (A JSON integer is a number: 0 and 1 are taken.)
    paused: StrictBool | None = Field(None, description="true pauses detection, false resumes")
    threshold: StrictFloat | None = Field(
        None, ge=0.0, le=1.0, description="minimum score; null restores the model's"
    )


class CommandError(ValueError):
    """An invalid command: ``field`` (None when the payload as a whole is wrong) and why."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


def nesting_depth(payload: bytes, limit: int) -> int:
    """How deep ``[``/``{`` nest in ``payload`` (outside strings), counting stops past
    ``limit``. Linear and without recursion, so it is safe on any input."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub(b"", payload)):
        depth += 1 if bracket in b"[{" else -1
        deepest = max(deepest, depth)
        if deepest > limit:
            break
    return deepest


def _reject_constant(name: str) -> Any:
    raise CommandError(f"{name} is not a JSON number")


def parse_command(payload: bytes | str) -> Command:
    """The command in ``payload``; ``CommandError`` (one line) when it is not one."""
    data = payload.encode() if isinstance(payload, str) else bytes(payload)
    if nesting_depth(data, MAX_DEPTH) > MAX_DEPTH:
        raise CommandError(
            f"nested deeper than {MAX_DEPTH} levels; a command is one flat JSON object"
        )
    try:
        value = json.loads(data, parse_constant=_reject_constant)
    except ValueError as exc:  # json.JSONDecodeError, UnicodeDecodeError are ValueErrors
        if isinstance(exc, CommandError):
            raise
        raise CommandError(f"not JSON ({str(exc).splitlines()[0][:120]})") from None
    if not isinstance(value, dict) or not value:
        raise CommandError("expected a JSON object with paused and/or threshold")
    try:
        return Command.model_validate(value)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or None
        if error["type"] == "extra_forbidden":
            raise CommandError(
                "unknown field; a command has only paused and/or threshold", field
            ) from None
        got = json.dumps(error.get("input"))[:40]
        raise CommandError(
            f"must be {MUST_BE.get(field or '', 'valid')} (got {got})", field
        ) from None


class Commands:
    """Applies ``<prefix>/set`` to the run control and publishes ``<prefix>/state``.

    Threads: runs on paho's network thread only (on connect and on a message), except
    ``rejected``, read from any thread: that counter is guarded by ``_lock``.
    ``RunControl`` locks its own state.
    """

    def __init__(self, connection: Publisher, *, prefix: str, control: RunControl | None) -> None:
        self.topic_set = f"{prefix}/set"
        self.topic_state = f"{prefix}/state"
        self._connection = connection
        self._control = control
        self._lock = threading.Lock()
        self._rejected = 0

    @property
    def rejected(self) -> int:
        """Invalid commands refused in this run."""
        with self._lock:
            return self._rejected

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
        except CommandError as exc:
            self.reject(topic, exc)
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

    def reject(self, topic: str, error: CommandError) -> None:
        """Log the rejection and publish it (not retained) on ``<prefix>/state``."""
        with self._lock:
            self._rejected += 1
        log.warning(
            "ignored an invalid command on %s: %s; expected e.g. %s", topic, error, EXAMPLES
        )
        state: dict[str, Any] = dict(self._state())
        state["rejected"] = {"field": error.field, "error": error.reason}
        self._connection.publish(self.topic_state, json.dumps(state), qos=1, retain=False)

    def publish_state(self) -> None:
        self._connection.publish(self.topic_state, json.dumps(self._state()), qos=1, retain=True)

    def _state(self) -> dict[str, Any]:
        if self._control is None:
            return {"paused": False, "threshold": None, "effective_threshold": None}
        return self._control.snapshot()
