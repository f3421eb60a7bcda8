"""Press a real key in a named X window through the XTEST extension (ctypes, no tools).

Used by the preview test under Xvfb: the key goes through the X server, Qt and
``cv2.waitKey`` exactly as a user's would. Needs libX11 and libXtst (``libxtst6``).
"""

from __future__ import annotations

import ctypes
import time
from typing import Any

ULong = ctypes.c_ulong
REVERT_TO_PARENT = 2


def load() -> tuple[Any, Any] | None:
    """libX11 and libXtst with the prototypes used here, or None when either is missing."""
    try:
        x11, xtst = ctypes.CDLL("libX11.so.6"), ctypes.CDLL("libXtst.so.6")
    except OSError:
        return None
    x11.XOpenDisplay.argtypes, x11.XOpenDisplay.restype = [ctypes.c_char_p], ctypes.c_void_p
    x11.XDefaultRootWindow.argtypes, x11.XDefaultRootWindow.restype = [ctypes.c_void_p], ULong
    x11.XFetchName.argtypes = [ctypes.c_void_p, ULong, ctypes.POINTER(ctypes.c_char_p)]
    x11.XQueryTree.argtypes = [
        ctypes.c_void_p,
        ULong,
        ctypes.POINTER(ULong),
        ctypes.POINTER(ULong),
        ctypes.POINTER(ctypes.POINTER(ULong)),
        ctypes.POINTER(ctypes.c_uint),
    ]
    x11.XSetInputFocus.argtypes = [ctypes.c_void_p, ULong, ctypes.c_int, ULong]
    x11.XStringToKeysym.argtypes, x11.XStringToKeysym.restype = [ctypes.c_char_p], ULong
    x11.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ULong]
    x11.XKeysymToKeycode.restype = ctypes.c_ubyte
    x11.XFlush.argtypes = x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    xtst.XTestFakeKeyEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ULong]
    return x11, xtst


def find(x11: Any, display: int, name: bytes) -> int | None:
    """The id of the window titled ``name`` (searched from the root down), or None."""
    stack = [x11.XDefaultRootWindow(display)]
    while stack:
        window = stack.pop()
        title = ctypes.c_char_p()
        if x11.XFetchName(display, window, ctypes.byref(title)) and title.value == name:
            return int(window)
        root, parent = ULong(), ULong()
        children, count = ctypes.POINTER(ULong)(), ctypes.c_uint()
        if x11.XQueryTree(
            display,
            window,
            ctypes.byref(root),
            ctypes.byref(parent),
            ctypes.byref(children),
            ctypes.byref(count),
        ):
            stack.extend(children[i] for i in range(count.value))
    return None


def press(display_name: str, window_name: str, keysym: str, *, timeout: float = 20) -> bool:
    """Focus the window called ``window_name`` (waiting for it) and press ``keysym``
    ("q", "Escape"). False when the window never appeared."""
    libraries = load()
    assert libraries is not None
    x11, xtst = libraries
    display = x11.XOpenDisplay(display_name.encode())
    assert display, f"cannot open X display {display_name}"
    try:
        deadline = time.monotonic() + timeout
        window = find(x11, display, window_name.encode())
        while window is None and time.monotonic() < deadline:
            time.sleep(0.2)
            window = find(x11, display, window_name.encode())
        if window is None:
            return False
        x11.XSetInputFocus(display, window, REVERT_TO_PARENT, 0)
        code = x11.XKeysymToKeycode(display, x11.XStringToKeysym(keysym.encode()))
        xtst.XTestFakeKeyEvent(display, code, 1, 0)
        xtst.XTestFakeKeyEvent(display, code, 0, 0)
        x11.XFlush(display)
        return True
    finally:
        x11.XCloseDisplay(display)
