"""``ConvertCommand``: one ``edge convert``, as typed values.

``edge.cli.convert`` builds it from the flags; ``converter.command.run`` receives it and
turns it into the library's ``converter.request.ConvertRequest`` (reading the labels
file), so no one reads a flag back by its name. It lives here, importing nothing but the
standard library and ``edge.model.convert_choices``, because ``converter`` may import
``edge`` but ``edge`` may not import ``converter`` (the device install has no TensorFlow).

The fields' ``Literal`` types are the flags' choices (``edge.model.convert_choices``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edge.model.convert_choices import ConvertMode, ConvertTask, InputRange, IoDtype

if TYPE_CHECKING:  # pydantic, which the CLI does not need to build its parser
    from edge.model.manifest import Colour, ResizeMode


@dataclass(frozen=True)
class ConvertCommand:
    """What ``edge convert`` was asked: the conversion (the fields ``ConvertRequest``
    shares, with a labels *file*), and how to run it (``json``, ``timeout``). The
    defaults are the flags' defaults."""

    model: Path  # .keras or .h5 file, or SavedModel folder
    calibration: Path  # image folder, .npy, or .npz with x
    out: Path | None = None  # None: <model>.<mode>.tflite
    task: ConvertTask = "classify"
    labels: Path | None = None  # labels file, one per line
    mode: ConvertMode = "auto"
    max_drop: float | None = None  # None: the task's budget with auto, no gate else
    io_dtype: IoDtype = "int8"
    eval: Path | None = None  # held-out data: .npz, or a folder of label subfolders
    report: Path | None = None  # None: next to out
    resize: ResizeMode = "stretch"
    colour: Colour | None = None  # None: gray for 1 channel, else rgb
    input_range: InputRange | None = None  # None: 0..255 unless scale/offset are given
    input_scale: float | None = None
    input_offset: float | None = None
    custom_objects: str | None = None  # module (or .py file) registering custom layers
    trust_model: bool = False
    no_rewrite: bool = False
    json: bool = False  # print the report as JSON instead of the table (and no progress)
    timeout: float | None = None  # seconds before the conversion's child is stopped
