"""Every task the converter knows, by name. A new task module adds one entry here."""

from __future__ import annotations

from converter.tasks.base import Task

TASKS: dict[str, Task] = {}
