"""Beyond loopback the server wants the token: as a bearer header or the login cookie
everywhere, as HTTP Basic on the stream and the snapshot (Home Assistant, VLC). The
token is a canary: it must never appear in an answer or in the log, debug lines included.
"""

from __future__ import annotations

import base64
import urllib.parse
import urllib.request
from collections.abc import Iterator

import cv2
import pytest

from tests.edge.http_server.running import DETECTOR_RUN, EdgeHttp, edge_http, get
from tests.edge.waiting import wait_for

CANARY = "canary-Tk-4b8e2a9f71"
PROTECTED = (
    "/",
    "/index.html",
    "/static/app.js",
    "/static/style.css",
    "/api/status",
    "/metrics",
    "/stream.mjpg",
    "/stream.mjpg?raw=1",
    "/latest.jpg",
    "/latest.jpg?raw=1",
    "/no-such-page",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeHttp]:
    folder = tmp_path_factory.mktemp("auth")
    (folder / "token").write_text(CANARY + "\n")
    (folder / "token").chmod(0o600)
    config = DETECTOR_RUN + "[http]\nenabled = true\nlisten = '0.0.0.0:0'\ntoken_file = 'token'\n"
    with edge_http(folder, config, verbose=True) as run:
        wait_for(lambda: get(run.base + "/healthz")[0] == 200, 30, "frames", detail=run.log)
        yield run


def bearer(token: str = CANARY) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(user: str = "edge", password: str = CANARY) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_without_the_token_only_healthz_answers(server: EdgeHttp) -> None:
    assert get(server.base + "/healthz")[0] == 200
    for path in PROTECTED:
        code, _, body = get(server.base + path)
        assert code == 401, path
        assert CANARY.encode() not in body
    # The page's 401 is the login form; the stream's challenge is Basic (VLC asks for it).
    assert b'<form method="post" action="/login">' in get(server.base + "/")[2]
    assert get(server.base + "/stream.mjpg")[1]["WWW-Authenticate"].startswith("Basic ")


def test_a_wrong_token_is_refused_everywhere(server: EdgeHttp) -> None:
    for path in PROTECTED:
        assert get(server.base + path, bearer("canary-Tk-wrong"))[0] == 401, path
    for path in ("/stream.mjpg", "/latest.jpg"):
        assert get(server.base + path, basic(password="nope"))[0] == 401
        assert get(server.base + path, basic(user="admin"))[0] == 401


def test_the_bearer_token_opens_every_route(server: EdgeHttp) -> None:
    for path in ("/", "/static/app.js", "/api/status", "/metrics", "/latest.jpg"):
        code, headers, body = get(server.base + path, bearer())
        assert code == 200, path
        assert CANARY.encode() not in body and CANARY not in str(headers), path


def test_basic_opens_the_stream_and_snapshot_only(server: EdgeHttp) -> None:
    assert get(server.base + "/latest.jpg", basic())[0] == 200
    assert get(server.base + "/api/status", basic())[0] == 401
    assert get(server.base + "/metrics", basic())[0] == 401
    # OpenCV (FFmpeg) sends user:password from the URL as Basic, as VLC and HA do.
    url = f"http://edge:{CANARY}@127.0.0.1:{server.port}/stream.mjpg"
    capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    try:
        ok, frame = capture.read()
    finally:
        capture.release()
    assert ok and frame is not None


def test_the_login_form_sets_a_cookie_that_is_not_the_token(server: EdgeHttp) -> None:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    body = urllib.parse.urlencode({"token": CANARY}).encode()
    try:
        opener.open(urllib.request.Request(server.base + "/login", data=body), timeout=10)
        raise AssertionError("the login did not redirect")
    except urllib.error.HTTPError as answer:
        with answer:
            assert answer.code == 303 and answer.headers["Location"] == "/"
            cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert CANARY not in cookie
    session = cookie.split(";")[0]
    assert get(server.base + "/api/status", {"Cookie": session})[0] == 200
    assert get(server.base + "/", {"Cookie": session})[0] == 200
    bad = urllib.parse.urlencode({"token": "wrong"}).encode()
    try:
        opener.open(urllib.request.Request(server.base + "/login", data=bad), timeout=10)
    except urllib.error.HTTPError as answer:
        with answer:
            assert answer.code == 401 and "Set-Cookie" not in answer.headers


def test_a_huge_login_body_is_refused(server: EdgeHttp) -> None:
    request = urllib.request.Request(server.base + "/login", data=b"token=" + b"x" * 10_000)
    try:
        urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as answer:
        with answer:
            assert answer.code == 413


def test_the_token_never_reaches_the_log(server: EdgeHttp) -> None:
    # After every other test of this module has sent it every way it can be sent.
    log = server.log()
    assert "GET /api/status" in log  # the debug log of requests is on, and was read
    assert CANARY not in log
    assert base64.b64encode(f"edge:{CANARY}".encode()).decode() not in log
