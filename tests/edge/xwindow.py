"""Drive a real X window as a user would: wait for it, look at it, click in it, type in it.

libX11 and the XTEST extension through ctypes, as ``xkeys`` (no tool to install: the
CI's libxtst6 is enough). XTEST's fake button events are the ones ``xdotool click``
sends: they go through the X server, Qt and OpenCV's mouse callback like a user's.

Where to click: under bare Xvfb there is no window manager, so no decorations, and the
window stays where Qt put it (``XTranslateCoordinates`` says where). But OpenCV's Qt
window has a toolbar above the picture and a status bar below it, and centres the
picture when the toolbar is wider (a 320x240 picture sits at (31, 40) of a 381x302
window): so ``find`` looks for the picture in a screenshot of the window instead of
assuming where it is. Every wait polls for something visible, with a timeout, rather
than sleeping.

A blank window: without a window manager, Qt (5.15, OpenCV's GUI wheel) misses the
window's MapNotify in a third to a half of the starts (``QT_LOGGING_RULES=qt.qpa.*=true``
shows no ``XCB_MAP_NOTIFY`` then), takes the window for unexposed and never paints it,
although X reports it viewable and all black. Input still reaches it, which is why the
key-press tests never noticed. Mapping it again from here gives Qt the MapNotify and it
paints at once (an Expose alone does not), so ``find`` does that while it waits.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from tests.edge import xkeys

ULong, Int, UInt = ctypes.c_ulong, ctypes.c_int, ctypes.c_uint
Z_PIXMAP = 2
ALL_PLANES = 0xFFFFFFFF
LEFT_BUTTON = 1
CURRENT_SCREEN = -1
REMAP_AFTER = 1.0  # seconds without the picture before the window is mapped again
Picture = npt.NDArray[np.uint8]
# int handler(Display *, XErrorEvent *): Xlib's default handler exits the process.
ErrorHandler = ctypes.CFUNCTYPE(Int, ctypes.c_void_p, ctypes.c_void_p)


class _XImage(ctypes.Structure):
    """The leading fields of Xlib's ``XImage`` (the rest is not read)."""

    _fields_ = [
        ("width", Int),
        ("height", Int),
        ("xoffset", Int),
        ("format", Int),
        ("data", ctypes.c_void_p),
        ("byte_order", Int),
        ("bitmap_unit", Int),
        ("bitmap_bit_order", Int),
        ("bitmap_pad", Int),
        ("depth", Int),
        ("bytes_per_line", Int),
        ("bits_per_pixel", Int),
    ]


def _prototypes(x11: Any, xtst: Any) -> None:
    x11.XGetGeometry.argtypes = [ctypes.c_void_p, ULong] + [ctypes.c_void_p] * 7
    x11.XGetImage.argtypes = [ctypes.c_void_p, ULong, Int, Int, UInt, UInt, ULong, Int]
    x11.XGetImage.restype = ctypes.POINTER(_XImage)
    x11.XDestroyImage.argtypes = [ctypes.POINTER(_XImage)]
    x11.XUnmapWindow.argtypes = x11.XMapWindow.argtypes = [ctypes.c_void_p, ULong]
    x11.XSetErrorHandler.argtypes = [ctypes.c_void_p]
    x11.XSetErrorHandler.restype = ctypes.c_void_p
    x11.XTranslateCoordinates.argtypes = [ctypes.c_void_p, ULong, ULong, Int, Int] + [
        ctypes.c_void_p
    ] * 3
    xtst.XTestFakeMotionEvent.argtypes = [ctypes.c_void_p, Int, Int, Int, ULong]
    xtst.XTestFakeButtonEvent.argtypes = [ctypes.c_void_p, UInt, Int, ULong]


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    """The first truthy result of ``condition`` (polled), or fail saying ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class XWindow:
    """The top-level window called ``name`` on ``display`` (waits for it to appear)."""

    def __init__(self, display: str, name: str, *, timeout: float = 30) -> None:
        libraries = xkeys.load()
        assert libraries is not None, "libX11/libXtst are missing"
        self._x11, self._xtst = libraries
        _prototypes(self._x11, self._xtst)
        self._display = self._x11.XOpenDisplay(display.encode())
        assert self._display, f"cannot open X display {display}"
        # A screenshot of a window Qt has created but not mapped yet is a BadMatch error,
        # which Xlib's default handler answers by exiting (pytest and all): ignore it,
        # XGetImage then returns nothing and the caller looks again.
        self._ignore = ErrorHandler(lambda _display, _error: 0)
        self._previous = self._x11.XSetErrorHandler(ctypes.cast(self._ignore, ctypes.c_void_p))
        self.name = name
        self.id: int = wait_until(
            lambda: xkeys.find(self._x11, self._display, name.encode()),
            f"the window {name!r}",
            timeout,
        )

    def __enter__(self) -> XWindow:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._x11.XCloseDisplay(self._display)
        self._x11.XSetErrorHandler(self._previous)

    def screenshot(self) -> Picture:
        """What the window shows now, BGR (0 x 0 while it is not mapped)."""
        root, x, y = ULong(), Int(), Int()
        width, height, border, depth = UInt(), UInt(), UInt(), UInt()
        self._x11.XGetGeometry(
            self._display,
            self.id,
            *(ctypes.byref(v) for v in (root, x, y, width, height, border, depth)),
        )
        image = self._x11.XGetImage(
            self._display, self.id, 0, 0, width, height, ALL_PLANES, Z_PIXMAP
        )
        if not image:  # not mapped (yet, or again): see __init__
            return np.zeros((0, 0, 3), np.uint8)
        try:
            fields = image.contents
            # Xvfb -screen 0 WxHx24: 32 bits a pixel, B, G, R, unused (LSBFirst).
            assert (fields.bits_per_pixel, fields.depth, fields.byte_order) == (32, 24, 0)
            rows = ctypes.string_at(fields.data, fields.bytes_per_line * fields.height)
            pixels = np.frombuffer(rows, np.uint8).reshape(fields.height, -1)
            return (
                pixels[:, : fields.width * 4]
                .reshape(fields.height, fields.width, 4)[..., :3]
                .copy()
            )
        finally:
            self._x11.XDestroyImage(image)

    def find(self, picture: Picture, *, timeout: float = 30) -> tuple[int, int]:
        """Where (x, y) in the window ``picture`` is shown pixel for pixel, once it is."""

        remapped = [time.monotonic()]

        def shown() -> tuple[int, int] | None:
            if time.monotonic() - remapped[0] > REMAP_AFTER:  # a blank window: see above
                self._x11.XUnmapWindow(self._display, self.id)
                self._x11.XMapWindow(self._display, self.id)
                self._x11.XFlush(self._display)
                remapped[0] = time.monotonic()
            shot = self.screenshot()
            if shot.shape[0] < picture.shape[0] or shot.shape[1] < picture.shape[1]:
                return None
            scores = cv2.matchTemplate(shot, picture, cv2.TM_SQDIFF)
            _, _, (x, y), _ = cv2.minMaxLoc(scores)
            h, w = picture.shape[:2]
            return (x, y) if np.array_equal(shot[y : y + h, x : x + w], picture) else None

        found: tuple[int, int] = wait_until(shown, f"the picture in {self.name!r}", timeout)
        return found

    def click(self, x: int, y: int) -> None:
        """A left click at (x, y) of the window."""
        self._move(x, y)
        self._xtst.XTestFakeButtonEvent(self._display, LEFT_BUTTON, 1, 0)
        self._xtst.XTestFakeButtonEvent(self._display, LEFT_BUTTON, 0, 0)
        self._x11.XFlush(self._display)

    def _move(self, x: int, y: int) -> None:
        root = self._x11.XDefaultRootWindow(self._display)
        at_x, at_y, child = Int(), Int(), ULong()
        self._x11.XTranslateCoordinates(
            self._display, self.id, root, x, y, *map(ctypes.byref, (at_x, at_y, child))
        )
        self._xtst.XTestFakeMotionEvent(self._display, CURRENT_SCREEN, at_x.value, at_y.value, 0)

    def key(self, keysym: str) -> None:
        """Focus the window and press ``keysym`` ("q", "Escape")."""
        self._x11.XSetInputFocus(self._display, self.id, xkeys.REVERT_TO_PARENT, 0)
        code = self._x11.XKeysymToKeycode(self._display, self._x11.XStringToKeysym(keysym.encode()))
        self._xtst.XTestFakeKeyEvent(self._display, code, 1, 0)
        self._xtst.XTestFakeKeyEvent(self._display, code, 0, 0)
        self._x11.XFlush(self._display)
