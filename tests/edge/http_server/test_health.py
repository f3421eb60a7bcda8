"""``/healthz`` follows the frames: a camera stream that stops turns it 503 within
``health_window`` (+1 s) and the stream's return turns it 200 again. The camera is the
tests' MJPEG server (``tests/edge/mjpeg_server.py``), killed and restarted on its port."""

from __future__ import annotations

import time
from pathlib import Path

from tests.edge.http_server.running import DETECTOR, edge_http, get
from tests.edge.sources.test_live_sources import start_server, stop_process
from tests.edge.waiting import wait_for

WINDOW = 2.0


def test_healthz_turns_503_when_the_camera_stalls_and_200_when_it_returns(
    tmp_path: Path,
) -> None:
    camera, port = start_server(0)
    config = f"""
status_interval = 0.5
[model]
path = "{DETECTOR}"
[source]
kind = "video"
uri = "http://127.0.0.1:{port}/stream.mjpg"
stall_timeout = 0.5
reconnect_delay = 0.2
reconnect_delay_max = 0.5
open_timeout = 2
[http]
enabled = true
listen = "127.0.0.1:0"
health_window = {WINDOW}
"""
    try:
        with edge_http(tmp_path, config) as run:
            url = run.base + "/healthz"
            wait_for(lambda: get(url)[0] == 200, 60, "a healthy run", detail=run.log)
            stopped = time.monotonic()
            stop_process(camera)
            body = wait_for(
                lambda: (answer := get(url))[0] == 503 and answer[2],
                WINDOW + 10,
                "503",
                interval=0.05,
                detail=run.log,
            )
            assert time.monotonic() - stopped <= WINDOW + 1.0
            assert b"no frame processed for" in body
            assert b"source reconnecting" in body
            status = get(run.base + "/api/status")[2].decode()
            assert "camera reconnecting" in status  # the page says why, in words
            camera, _ = start_server(port)
            wait_for(
                lambda: get(url)[0] == 200, 60, "200 after the camera came back", detail=run.log
            )
    finally:
        stop_process(camera)
