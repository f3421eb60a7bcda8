"""``edge eval``: a model's task figure on labelled data, measured on this device.

The data layout is ``edge.eval.layout`` (its ``HELP`` is the command's epilog); the
measuring is ``edge.eval.run``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge.errors import EXIT_OK


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from edge.eval.layout import HELP

    evaluate = commands.add_parser(
        "eval",
        help="measure a model's task figure on labelled data, on this device",
        description="Run a .tflite model over labelled samples the way `edge run` runs it "
        "(the manifest's input recipe and decoder, LiteRT) and print its task's figure: "
        "accuracy (classify), mAP@0.5 (detect), ROC-AUC (anomaly) or PSNR against float "
        "reference outputs (generate). Bad data or a model with no task metric: exit 78.",
        epilog=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("model", type=Path, help=".tflite model")
    evaluate.add_argument("data", type=Path, help=".npz with the task's arrays (below)")
    evaluate.add_argument(
        "--json",
        action="store_true",
        help='print {"model", "task", "metric", "value", "samples", "data"}; value in '
        "the unit of the printed line (accuracy in %%, PSNR in dB)",
    )
    evaluate.add_argument("--threads", type=int, default=2, help="interpreter threads (default 2)")
    evaluate.add_argument(
        "--task",
        choices=["classify", "detect", "anomaly", "generate"],
        help="task of a model that has no manifest",
    )
    evaluate.add_argument(
        "--no-model-probe",
        action="store_true",
        help="load the model without first trying it in a limited child "
        "process (only for models you trust)",
    )
    evaluate.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from edge.eval.run import EvalRequest, evaluate

    measurement, line = evaluate(
        EvalRequest(
            model=args.model,
            data=args.data,
            threads=args.threads,
            task=args.task,
            probe=not args.no_model_probe,
        )
    )
    print(json.dumps(measurement.to_json(), allow_nan=False) if args.json else line, flush=True)
    return EXIT_OK
