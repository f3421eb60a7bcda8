"""Core value types that flow through the pipeline (see docs/architecture.md).

``Source --Frame--> preprocess --> Backend.infer --> decoder --Detections--> Result --> Sink``

Each type is a small frozen dataclass validated on construction, so a bad value fails
where it is made, not three stages later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Frame:
    """One picture from a source: BGR uint8 ``(height, width, 3)``, as OpenCV gives it,
    or grey ``(height, width)`` when an MJPEG source decoded it straight to grey for a grey
    model (only when nothing shows or saves the picture, ``edge.sources.mjpeg``).

    ``truth`` carries the ground truth when the source knows it (the synthetic camera
    does); it never reaches the result record, only tests and benchmarks read it.
    ``full`` is the same moment at a higher resolution when the source has one and was
    asked for it (the Pi camera's main stream, kept for snapshots); boxes are normalised,
    so they apply to both. ``source_size`` is the (width, height) the source delivered
    when ``image`` was decoded smaller than that (an MJPEG frame decoded at 1/2, 1/4 or
    1/8, see ``edge.sources.mjpeg``); ``width``/``height`` report the source's size.
    """

    image: Image
    index: int
    timestamp: float
    source: str
    truth: Any = None
    full: Image | None = None
    source_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        image = self.image
        colour = image.ndim == 3 and image.shape[2] == 3
        if not (colour or image.ndim == 2) or image.dtype != np.uint8:
            raise ValueError(
                f"Frame.image must be uint8 (height, width, 3) BGR or (height, width) grey, "
                f"got {image.dtype} {image.shape}"
            )

    @property
    def width(self) -> int:
        return self.source_size[0] if self.source_size else int(self.image.shape[1])

    @property
    def height(self) -> int:
        return self.source_size[1] if self.source_size else int(self.image.shape[0])


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """What the interpreter says about one input or output tensor."""

    name: str
    index: int
    shape: tuple[int, ...]
    dtype: str
    scale: float = 0.0
    zero_point: int = 0

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0 and self.dtype in ("int8", "uint8", "int16")


@dataclass(frozen=True, slots=True)
class Detections:
    """Parallel arrays, one row per detection (the supervision ``Detections`` shape).

    ``xyxy`` holds boxes normalised to the frame (0..1) or is ``None`` for a classifier,
    whose "detections" are its top-k classes.
    """

    class_id: npt.NDArray[np.int64]
    confidence: FloatArray
    xyxy: FloatArray | None = None

    def __post_init__(self) -> None:
        n = len(self.class_id)
        if len(self.confidence) != n:
            raise ValueError(f"confidence has {len(self.confidence)} rows, class_id has {n}")
        if self.xyxy is not None and self.xyxy.shape != (n, 4):
            raise ValueError(f"xyxy must be ({n}, 4), got {self.xyxy.shape}")

    def __len__(self) -> int:
        return len(self.class_id)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.float32))

    def filter(self, mask: npt.NDArray[np.bool_]) -> Detections:
        """Return the rows where ``mask`` is true, as a new object."""
        boxes = None if self.xyxy is None else self.xyxy[mask]
        return Detections(self.class_id[mask], self.confidence[mask], boxes)


def label_of(labels: Sequence[str], class_id: int) -> str:
    """The label records and filters use for ``class_id``: its name, or the index as
    text when the model has no name for it."""
    return labels[class_id] if 0 <= class_id < len(labels) else str(class_id)


@dataclass(frozen=True, slots=True)
class Latency:
    """Milliseconds spent per stage of one frame."""

    pre: float
    infer: float
    post: float

    @property
    def total(self) -> float:
        return self.pre + self.infer + self.post


@dataclass(frozen=True, slots=True)
class Result:
    """Everything the sinks need about one processed frame."""

    seq: int
    frame: Frame
    detections: Detections
    labels: tuple[str, ...]
    latency: Latency
    extra: dict[str, Any] = field(default_factory=dict)
