"""``--preview``: a window showing what the model sees, annotated; ``q`` or Esc stops.

OpenCV's window functions exist only in a build with a GUI backend. The default
dependency is ``opencv-python-headless`` (no GUI: right for a Pi service), whose
``namedWindow`` raises "The function is not implemented". That is checked when the
window is created, before the run starts, and reported as a ``ConfigError`` (exit 78:
restarting does not install a GUI) naming the package to install. On Linux a GUI build
without a display (no ``DISPLAY``/``WAYLAND_DISPLAY``) would abort the process inside
Qt, so that is checked first.

The window lives on the loop's thread (OpenCV's GUI is not thread-safe): ``observe``
shows the frame and polls the keyboard for 1 ms. Closing the window also stops the run.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import cv2

from edge.errors import ConfigError
from edge.observers.annotate import FrameAnnotator
from edge.types import Frame

WINDOW = "edge preview (q or Esc stops)"
_STOP_KEYS = {ord("q"), ord("Q"), 27}
GUI_HINT = (
    "the installed OpenCV has no GUI (opencv-python-headless): install the GUI build with "
    "`pip uninstall -y opencv-python-headless && pip install opencv-python` (the two "
    "packages share the cv2 module, so keep only one), or record instead: --record out.mp4"
)


def check_display(platform: str = sys.platform, environ: dict[str, str] | None = None) -> None:
    env = os.environ if environ is None else environ
    if platform.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        raise ConfigError(
            "--preview needs a display, and none is set (no DISPLAY or WAYLAND_DISPLAY)",
            hint="run it in a desktop session (or `ssh -X`), or record instead: --record out.mp4",
        )


class PreviewWindow:
    def __init__(
        self, stop: threading.Event, *, title: str = WINDOW, annotator: FrameAnnotator | None = None
    ) -> None:
        check_display()
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error as exc:
            raise ConfigError(
                "--preview cannot open a window: this OpenCV has no GUI support", hint=GUI_HINT
            ) from exc
        self.title = title
        self._stop = stop
        self._annotate = annotator or FrameAnnotator()
        self._open = True
        self._seen_visible = False

    def observe(self, frame: Frame, record: dict[str, Any]) -> None:
        if not self._open:
            return
        cv2.imshow(self.title, self._annotate(frame, record))
        key = cv2.waitKey(1)
        # A backend that cannot report visibility answers -1 every time; only a window
        # once seen visible and now not was closed by the user.
        visible = cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        closed = self._seen_visible and not visible
        self._seen_visible = self._seen_visible or visible
        if (key & 0xFF) in _STOP_KEYS or closed:
            self._stop.set()

    def close(self) -> None:
        if self._open:
            self._open = False
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)  # let the GUI process the close
