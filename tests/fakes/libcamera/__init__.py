"""A stand-in for the bits of libcamera's Python binding that edge touches (test fake).

Only ``ColorSpace`` with the named constructors picamera2 uses; the real module is
libcamera's pybind11 binding, shipped as the apt package python3-libcamera.
"""

from __future__ import annotations


class ColorSpace:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<libcamera.ColorSpace '{self.name}'>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ColorSpace) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    @staticmethod
    def Sycc() -> ColorSpace:  # noqa: N802 - libcamera's names
        return ColorSpace("sYCC")

    @staticmethod
    def Smpte170m() -> ColorSpace:  # noqa: N802
        return ColorSpace("SMPTE170M")

    @staticmethod
    def Rec709() -> ColorSpace:  # noqa: N802
        return ColorSpace("Rec709")
