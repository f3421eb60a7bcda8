"""The status page in a real browser (headless Chromium) on a real ``edge run``: the video
element shows changing pixels, the detections table fills with the digits the synthetic
camera shows, the frame rate updates. Saves a screenshot; with
``EDGE_UPDATE_SCREENSHOT=1`` it becomes docs/status-page.png (the README's picture)."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomllib

from edge.sources.synthetic import SceneTruth, SyntheticCamera
from tests.edge.http_server.cdp import Page, chromium, chromium_path
from tests.edge.http_server.running import DETECTOR_RUN, DIGITS, EdgeHttp, edge_http, get
from tests.edge.waiting import wait_for

REPO = Path(__file__).resolve().parents[3]
SCREENSHOT = REPO / "docs" / "status-page.png"

pytestmark = pytest.mark.skipif(
    chromium_path() is None, reason="no chromium (Debian: apt-get install chromium)"
)

# The picture in the <img> drawn onto a canvas (same origin: not tainted), summed.
PIXELS = """(() => {
  const img = document.getElementById('video');
  if (!img || !img.naturalWidth) return null;
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const context = canvas.getContext('2d');
  context.drawImage(img, 0, 0);
  const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0;
  for (let i = 0; i < data.length; i += 7) sum = (sum * 31 + data[i]) % 1000000007;
  return sum;
})()"""
FPS = "document.getElementById('fps')?.textContent"
ROWS = """[...document.querySelectorAll('#detections tr')].map(
  (row) => [...row.children].map((cell) => cell.textContent))"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeHttp]:
    config = DETECTOR_RUN + "[http]\nenabled = true\nlisten = '127.0.0.1:0'\nstream_fps = 10\n"
    with edge_http(tmp_path_factory.mktemp("page"), config) as run:
        wait_for(lambda: get(run.base + "/healthz")[0] == 200, 30, "frames", detail=run.log)
        yield run


@pytest.fixture
def page(tmp_path: Path, server: EdgeHttp) -> Iterator[Page]:
    with chromium(tmp_path / "profile") as tab:
        tab.call("Page.enable")
        tab.call("Page.navigate", url=server.base + "/")
        yield tab


def test_the_page_shows_live_video_detections_and_a_moving_frame_rate(
    page: Page, tmp_path: Path
) -> None:
    first = wait_for(lambda: page.evaluate(PIXELS), 30, "a picture in the video element")
    wait_for(lambda: page.evaluate(PIXELS) not in (None, first), 30, "the picture to change")
    fps = wait_for(
        lambda: (text := page.evaluate(FPS)) not in (None, "-") and text,
        30,
        "the frame rate",
    )
    assert 5.0 < float(fps) < 60.0  # the synthetic camera is paced at 30 fps
    frames = page.evaluate("document.getElementById('frames').textContent")
    wait_for(
        lambda: page.evaluate("document.getElementById('frames').textContent") != frames,
        10,
        "the frame count to update",
    )
    rows = wait_for(lambda: len(r := page.evaluate(ROWS)) >= 10 and r, 30, "detections")
    # Columns: time, frame, label, score, box. The label is one of the digits the synthetic
    # camera drew in that frame (its ground truth) for nearly every row.
    camera = SyntheticCamera(fps=None, digit_count=DIGITS)

    def drawn(frame: int) -> set[str]:
        truth = camera.truth(frame)
        assert isinstance(truth, SceneTruth)
        return {str(label) for label in truth.labels}

    right = sum(row[2] in drawn(int(row[1])) for row in rows)
    assert right >= 0.8 * len(rows), rows
    assert page.evaluate("document.getElementById('state').textContent") == "running"
    assert page.evaluate("document.getElementById('problems').hidden") is True
    assert page.evaluate("document.getElementById('model-name').textContent") == "digits-detector"
    shot = base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"])
    (tmp_path / "status-page.png").write_bytes(shot)
    if os.environ.get("EDGE_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(tmp_path / "status-page.png", SCREENSHOT)


# Clicks at fractions of the picture, as a user's mouse would land (the canvas lies over
# the video element); the page turns them into the TOML the config takes.
CLICK = """((fx, fy) => {
  const canvas = document.getElementById('sketch');
  const box = canvas.getBoundingClientRect();
  canvas.dispatchEvent(new MouseEvent('click', {
    clientX: box.left + fx * box.width, clientY: box.top + fy * box.height, bubbles: true}));
  return document.getElementById('toml').value;
})"""


def test_clicks_on_the_picture_give_a_zone_and_a_line_the_config_takes(page: Page) -> None:
    from edge.config.zones import LineConfig, ZoneConfig

    wait_for(lambda: page.evaluate(PIXELS), 30, "a picture in the video element")
    corners = [(0.1, 0.2), (0.6, 0.2), (0.6, 0.9), (0.1, 0.9)]
    for x, y in corners:
        text = page.evaluate(f"{CLICK}({x}, {y})")
    zone = tomllib.loads(text)["zones"][0]
    checked = ZoneConfig.model_validate(zone)
    assert checked.name == "zone_1"
    for (x, y), point in zip(corners, checked.points, strict=True):
        assert abs(point[0] - x) < 0.01 and abs(point[1] - y) < 0.01
    page.evaluate("document.querySelector('input[value=line]').click()")
    page.evaluate("document.getElementById('sketch-name').value = 'door'")
    page.evaluate(f"{CLICK}(0.5, 0.1)")
    text = page.evaluate(f"{CLICK}(0.5, 0.95)")
    line = LineConfig.model_validate(tomllib.loads(text)["lines"][0])
    assert line.name == "door" and abs(line.points[1][1] - 0.95) < 0.01
