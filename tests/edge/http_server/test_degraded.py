"""The page says plainly when the run is degraded: here the MQTT broker is away (nothing
listens on its port), so the sink never connects, results wait in the outbox, and the
status, the page's banner and ``/metrics`` say so while ``/healthz`` stays 200 (frames
flow; the outbox keeps the results)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.edge.http_server.running import DETECTOR_RUN, edge_http, get
from tests.edge.waiting import wait_for


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_broker_away_is_a_degraded_run_with_a_growing_outbox(tmp_path: Path) -> None:
    config = (
        DETECTOR_RUN
        + f"""
[[sinks]]
kind = "mqtt"
host = "127.0.0.1"
port = {free_port()}
outbox = "{tmp_path / "outbox.sqlite3"}"
commit_interval = 0.2
[http]
enabled = true
listen = "127.0.0.1:0"
"""
    )
    # No --sink flag: the config's MQTT sink is the only one.
    with edge_http(tmp_path, config, sink=False) as run:

        def degraded() -> dict[str, object] | None:
            document: dict[str, object] = json.loads(get(run.base + "/api/status")[2])
            return document if document["state"] == "degraded" else None

        document = wait_for(degraded, 30, "a degraded status", detail=run.log)
        problems = document["problems"]
        assert isinstance(problems, list)
        assert any("broker away" in problem for problem in problems), problems
        assert get(run.base + "/healthz")[0] == 200

        def depth() -> float:
            body = get(run.base + "/metrics")[2].decode()
            for family in text_string_to_metric_families(body):
                for sample in family.samples:
                    if sample.name == "edge_outbox_depth":
                        return sample.value
            return 0.0

        first = wait_for(depth, 30, "results in the outbox")
        wait_for(lambda: depth() > first, 30, "the outbox to grow")
