"""``edge convert``: the flags -> a typed ``ConvertCommand`` -> ``converter.command.run``.

This is the only module of ``edge`` that imports ``converter``, inside ``handle``, when
the command runs: the device install has no TensorFlow (``tests/test_import_graph.py``).
When the converter's dependencies are missing, it names the extra to install.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import get_args

from edge.cli.convert_request import ConvertCommand
from edge.errors import EXIT_FAILURE
from edge.model.convert_choices import ConvertMode, ConvertTask, InputRange, IoDtype


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    convert = commands.add_parser(
        "convert",
        help="convert a Keras model to a quantized .tflite with a report",
        description="Convert a Keras model (.keras, legacy .h5, or a SavedModel folder) to a "
        "self-describing .tflite file, and report what quantization cost against the float "
        "model. --mode auto (default) tries full int8 first and falls back (int8 on other "
        "calibration sets, int8 with the worst layers in float, int16x8, float16) until "
        "the quality drop is within --max-drop; if none is, nothing is written and the "
        "exit code is 1. Needs the converter extra: pip install 'edge-infer[convert]'.",
    )
    convert.add_argument("model", help="Keras model: .keras or .h5 file, or SavedModel folder")
    convert.add_argument(
        "--calibration", required=True, help="folder of images, .npy array, or .npz with array x"
    )
    convert.add_argument("--out", help="output .tflite (default: <model>.<mode>.tflite)")
    convert.add_argument(
        "--task",
        choices=get_args(ConvertTask),
        default="classify",
        help="model task (default classify; raw: any other model, judged "
        "by SQNR and cosine similarity per output, no device decoder)",
    )
    convert.add_argument("--labels", help="labels file, one per line, in class order")
    convert.add_argument(
        "--mode",
        default="auto",
        choices=get_args(ConvertMode),
        help="precision (default auto: the fallback ladder from full int8)",
    )
    convert.add_argument(
        "--max-drop",
        type=float,
        metavar="X",
        help="largest acceptable loss on the task's gate metric, as a "
        "fraction for 0..1 metrics (0.01 = one accuracy point; above 1 is "
        "refused) and in dB for generate (default: the task's budget with "
        "--mode auto, no gate with an explicit --mode)",
    )
    convert.add_argument(
        "--io-dtype",
        choices=get_args(IoDtype),
        default="int8",
        help="input/output type of a full-int8 model (default int8)",
    )
    convert.add_argument(
        "--eval",
        help="held-out data: .npz with x and y, or a folder with one subfolder of images per label",
    )
    convert.add_argument(
        "--report",
        help="report JSON path (default: next to --out); the picture goes to <report stem>.png",
    )
    # edge.model.manifest's ResizeMode and Colour (tests/edge/cli checks they agree); not
    # imported from there, since that would bring pydantic into every `edge` command.
    convert.add_argument(
        "--resize",
        choices=["stretch", "crop", "letterbox"],
        default="stretch",
        help="how the device fits a frame to the input (default stretch)",
    )
    convert.add_argument(
        "--colour",
        choices=["gray", "rgb", "bgr"],
        help="colour order the model takes (default gray for 1 channel, else rgb)",
    )
    _add_input_range_flags(convert)
    convert.add_argument(
        "--custom-objects",
        metavar="MODULE",
        help="module to import first; it registers the model's custom layers",
    )
    convert.add_argument(
        "--trust-model",
        action="store_true",
        help="allow Lambda layers and other code inside the model file",
    )
    convert.add_argument(
        "--no-rewrite",
        action="store_true",
        help="convert the model as it is, without the quantization-friendly layer rewrites",
    )
    _add_process_flags(convert)
    convert.set_defaults(handler=handle)


def _add_input_range_flags(convert: argparse.ArgumentParser) -> None:
    """The values the model takes per pixel (image-folder calibration/eval and manifest)."""
    convert.add_argument(
        "--input-range",
        choices=get_args(InputRange),
        help="values the model takes for image pixels (default 0..255: "
        "raw pixels, normalisation inside the model); written into the "
        "manifest so the device feeds the same. Write --input-range=-1..1 "
        "with '=' (a value starting with '-' reads as a flag otherwise)",
    )
    convert.add_argument(
        "--input-scale",
        type=float,
        metavar="S",
        help="model value = pixel * S + offset (instead of --input-range)",
    )
    convert.add_argument(
        "--input-offset",
        type=float,
        metavar="O",
        help="model value = pixel * scale + O (instead of --input-range)",
    )


def _add_process_flags(convert: argparse.ArgumentParser) -> None:
    convert.add_argument("--json", action="store_true", help="print the report as JSON")
    convert.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="stop the conversion (it runs in a child process) after this "
        "long, writing nothing (default: no limit)",
    )


def command_from(args: argparse.Namespace) -> ConvertCommand:
    """The parsed flags as the typed request the converter receives."""
    return ConvertCommand(
        model=Path(args.model),
        calibration=Path(args.calibration),
        out=_path(args.out),
        task=args.task,
        labels=_path(args.labels),
        mode=args.mode,
        max_drop=args.max_drop,
        io_dtype=args.io_dtype,
        eval=_path(args.eval),
        report=_path(args.report),
        resize=args.resize,
        colour=args.colour,
        input_range=args.input_range,
        input_scale=args.input_scale,
        input_offset=args.input_offset,
        custom_objects=args.custom_objects,
        trust_model=args.trust_model,
        no_rewrite=args.no_rewrite,
        json=args.json,
        timeout=args.timeout,
    )


def handle(args: argparse.Namespace) -> int:
    command = command_from(args)
    try:
        from converter.command import run
    except ImportError as exc:
        missing = exc.name or str(exc)
        print(
            f"edge convert: error: the converter needs {missing}, which is not installed\n"
            "  fix: pip install 'edge-infer[convert]'",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return run(command)


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None
