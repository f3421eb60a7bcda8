"""Keep records in a list: a real sink for tests and for embedding edge in a program."""

from __future__ import annotations

from edge.sinks.base import Record


class MemorySink:
    name = "memory"

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.closed = False

    def write(self, record: Record) -> None:
        self.records.append(record)

    def close(self) -> None:
        self.closed = True
