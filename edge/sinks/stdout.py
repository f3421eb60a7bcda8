"""Print each record as one JSON line on standard output (for pipes and jq)."""

from __future__ import annotations

import json
import sys

from edge.sinks.base import Record


class StdoutSink:
    name = "stdout"

    def write(self, record: Record) -> None:
        sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    def close(self) -> None:
        sys.stdout.flush()
