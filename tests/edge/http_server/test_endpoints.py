"""The web server's endpoints on a real ``edge run`` (the shipped detector, the synthetic
camera), read by the clients users have: OpenCV for the stream, Prometheus' own parser for
``/metrics``, a JSON Schema validator for ``/api/status``."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import cv2
import jsonschema
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.edge.http_server.running import DETECTOR_RUN, EdgeHttp, edge_http, get
from tests.edge.waiting import wait_for

REPO = Path(__file__).resolve().parents[3]
STATUS_SCHEMA = json.loads((REPO / "edge" / "schemas" / "status-1.schema.json").read_text())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeHttp]:
    config = DETECTOR_RUN + "[http]\nenabled = true\nlisten = '127.0.0.1:0'\nmax_viewers = 2\n"
    with edge_http(tmp_path_factory.mktemp("http"), config) as run:
        wait_for(lambda: get(run.base + "/healthz")[0] == 200, 30, "frames", detail=run.log)
        yield run


def status(server: EdgeHttp) -> dict[str, object]:
    code, headers, body = get(server.base + "/api/status")
    assert code == 200 and headers["Content-Type"] == "application/json"
    document: dict[str, object] = json.loads(body)
    return document


def test_status_follows_its_schema_and_names_the_run(server: EdgeHttp) -> None:
    jsonschema.Draft202012Validator.check_schema(STATUS_SCHEMA)
    document = wait_for(
        lambda: (d := status(server))["detections"] and d, 20, "detections in the status"
    )
    jsonschema.validate(document, STATUS_SCHEMA)
    assert document["state"] == "running" and document["problems"] == []
    model = document["model"]
    assert isinstance(model, dict)
    assert model["name"] == "digits-detector" and model["task"] == "detect"
    assert model["labels"] == [str(digit) for digit in range(10)]


def test_the_stream_is_read_by_opencv_and_its_frames_change(server: EdgeHttp) -> None:
    capture = cv2.VideoCapture(server.base + "/stream.mjpg", cv2.CAP_FFMPEG)
    try:
        assert capture.isOpened()
        frames = []
        for _ in range(4):
            ok, frame = capture.read()
            assert ok and frame is not None
            frames.append(frame.astype(np.int16))
    finally:
        capture.release()
    height, width = frames[0].shape[:2]
    assert (width, height) == (320, 240)  # the synthetic camera's size, under stream_width
    # The synthetic digits move: the pictures are live, not one picture repeated.
    assert max(float(np.abs(f - frames[0]).mean()) for f in frames[1:]) > 0.5


def test_latest_and_raw_pictures_decode(server: EdgeHttp) -> None:
    code, headers, body = get(server.base + "/latest.jpg")
    assert code == 200 and headers["Content-Type"] == "image/jpeg"
    annotated = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    code, _, body = get(server.base + "/latest.jpg?raw=1")
    raw = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert code == 200 and annotated is not None and raw is not None
    assert annotated.shape == raw.shape == (240, 320, 3)

    # The raw picture is grey digits on a dark ground; boxes and labels add colour.
    def colour(picture: np.ndarray) -> float:
        return float(np.ptp(picture.astype(np.int16), axis=2).mean())

    assert colour(annotated) > colour(raw) + 1.0


def test_metrics_parse_and_count_up(server: EdgeHttp) -> None:
    def scrape() -> dict[str, float]:
        code, headers, body = get(server.base + "/metrics")
        assert code == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
        values: dict[str, float] = {}
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                values.setdefault(sample.name, sample.value)
        return values

    first = scrape()
    for name in (
        "edge_up",
        "edge_frames_total",
        "edge_dropped_frames_total",
        "edge_source_reconnects_total",
        "edge_sink_drops_total",
        "edge_inference_seconds_count",
        "edge_inference_seconds_bucket",
        "edge_build_info",
        "edge_model_info",
    ):
        assert name in first, name
    assert first["edge_up"] == 1.0
    time.sleep(1.2)  # two status documents later
    second = scrape()
    assert second["edge_frames_total"] > first["edge_frames_total"]
    assert second["edge_inference_seconds_count"] > first["edge_inference_seconds_count"]


def test_every_answer_carries_the_security_headers(server: EdgeHttp) -> None:
    for path in ("/", "/api/status", "/metrics", "/healthz", "/nothing-here", "/static/"):
        code, headers, _ = get(server.base + path)
        assert headers["Content-Security-Policy"].startswith("default-src 'self'"), path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert "Python" not in headers.get("Server", ""), path
        if path in ("/nothing-here", "/static/"):
            assert code == 404, path  # no directory listing, no file outside the few routes


def test_the_page_is_one_file_with_its_own_script_and_style(server: EdgeHttp) -> None:
    code, headers, body = get(server.base + "/")
    assert code == 200 and headers["Content-Type"].startswith("text/html")
    page = body.decode()
    assert 'src="/stream.mjpg"' in page and 'src="/static/app.js"' in page
    assert "http://" not in page and "https://" not in page  # no CDN: the device may be offline
    for asset in ("/static/app.js", "/static/style.css"):
        assert get(server.base + asset)[0] == 200


def test_the_viewer_cap_turns_the_next_stream_away(server: EdgeHttp) -> None:
    def open_stream() -> tuple[socket.socket, bytes]:
        connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        connection.sendall(b"GET /stream.mjpg HTTP/1.0\r\n\r\n")
        return connection, connection.recv(64)

    first, head1 = open_stream()
    second, head2 = open_stream()
    try:
        assert head1.startswith(b"HTTP/1.0 200") and head2.startswith(b"HTTP/1.0 200")
        wait_for(
            lambda: status(server)["http"] == {"viewers": 2, "max_viewers": 2, "stream_fps": 5.0},
            10,
            "two viewers",
        )
        third, head3 = open_stream()
        third.close()
        assert head3.startswith(b"HTTP/1.0 503")
    finally:
        first.close()

    # A viewer that leaves frees its place (noticed at its next picture).
    def accepted() -> bool:
        connection, head = open_stream()
        connection.close()
        return head.startswith(b"HTTP/1.0 200")

    try:
        wait_for(accepted, 10, "a freed place")
    finally:
        second.close()


def test_without_a_token_the_login_form_just_goes_home(server: EdgeHttp) -> None:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(server.base + "/login", data=b"token=anything")
    try:
        opener.open(request, timeout=10)
        raise AssertionError("no redirect")
    except urllib.error.HTTPError as answer:
        with answer:
            assert answer.code == 303 and "Set-Cookie" not in answer.headers
