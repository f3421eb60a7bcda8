"""The command line's layout: one module per command, each adding its own subparser and
holding its handler; ``edge convert``'s flags reach the converter as a typed
``ConvertCommand``; importing ``edge.cli`` stays cheap."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, get_args

import pytest

from edge.cli import COMMANDS, build_parser, main
from edge.cli.convert import command_from
from edge.cli.convert_request import ConvertCommand
from edge.cli.run import StatusLog
from edge.pipeline.stats import RunStats


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(actions) == 1
    return dict(actions[0].choices)


def test_each_command_has_its_module_with_parser_and_handler() -> None:
    names = {
        "run": "run",
        "convert": "convert",
        "inspect": "inspect",
        "check-config": "check_config",
        "service": "service",
        "bench": "bench",
        "eval": "eval",
        "zones": "zones",
    }
    assert [module.__name__.rpartition(".")[2] for module in COMMANDS] == list(names.values())
    assert list(_subparsers(build_parser())) == list(names)  # the order of --help's list
    for name, module in names.items():
        alone = argparse.ArgumentParser()
        importlib.import_module(f"edge.cli.{module}").add_parser(alone.add_subparsers())
        [(added, subparser)] = _subparsers(alone).items()
        handlers = {subparser.get_default("handler")} - {None}
        if not handlers:  # service: one per action
            handlers = {p.get_default("handler") for p in _subparsers(subparser).values()}
        assert added == name
        assert [h.__module__ for h in handlers] == [f"edge.cli.{module}"]


def test_convert_flags_become_a_typed_command() -> None:
    args = build_parser().parse_args(["convert", "m.keras", "--calibration", "cal"])
    # The flags' defaults are the dataclass's defaults.
    assert command_from(args) == ConvertCommand(model=Path("m.keras"), calibration=Path("cal"))
    every_flag = (
        "convert m.keras --calibration cal --out o.tflite --task detect --labels l.txt "
        "--mode int8 --max-drop 0.02 --io-dtype uint8 --eval e.npz --report r.json "
        "--resize letterbox --colour bgr --input-range=-1..1 --custom-objects my.layers "
        "--trust-model --no-rewrite --json --timeout 60"
    )
    args = build_parser().parse_args(every_flag.split())
    assert command_from(args) == ConvertCommand(
        model=Path("m.keras"),
        calibration=Path("cal"),
        out=Path("o.tflite"),
        task="detect",
        labels=Path("l.txt"),
        mode="int8",
        max_drop=0.02,
        io_dtype="uint8",
        eval=Path("e.npz"),
        report=Path("r.json"),
        resize="letterbox",
        colour="bgr",
        input_range="-1..1",
        custom_objects="my.layers",
        trust_model=True,
        no_rewrite=True,
        json=True,
        timeout=60.0,
    )
    scaled = build_parser().parse_args(
        ["convert", "m", "--calibration", "c", "--input-scale", "0.5", "--input-offset", "-3"]
    )
    assert (command_from(scaled).input_scale, command_from(scaled).input_offset) == (0.5, -3.0)


def test_convert_choices_are_what_the_converter_and_the_manifest_take() -> None:
    from converter.input_range import NAMED_RANGES
    from converter.ladder import STEPS
    from converter.request import IO_DTYPES
    from converter.tasks.registry import TASKS
    from edge.model.manifest import Colour, ResizeMode

    convert = _subparsers(build_parser())["convert"]
    choices = {a.dest: tuple(a.choices) for a in convert._actions if a.choices is not None}
    assert choices == {
        "task": tuple(TASKS),
        "mode": ("auto", *STEPS),
        "io_dtype": IO_DTYPES,
        "resize": get_args(ResizeMode),
        "colour": get_args(Colour),
        "input_range": tuple(NAMED_RANGES),
    }


def test_convert_hands_the_typed_command_to_the_converter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import converter.command

    received: list[Any] = []

    def run(command: ConvertCommand) -> int:
        received.append(command)
        return 7

    monkeypatch.setattr(converter.command, "run", run)
    assert main(["convert", "m.keras", "--calibration", "c", "--mode", "float16"]) == 7
    assert received == [
        ConvertCommand(model=Path("m.keras"), calibration=Path("c"), mode="float16")
    ]


def test_importing_the_cli_imports_no_command_work() -> None:
    code = (
        "import json, sys; import edge.cli; edge.cli.build_parser(); "
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    heavy = ("converter", "tensorflow", "keras", "numpy", "pydantic", "cv2", "ai_edge_litert")
    loaded = json.loads(done.stdout)
    assert [m for m in loaded if m.split(".")[0] in heavy] == []


def test_status_log_counts_the_first_line_from_the_pipeline_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stats = RunStats(started=time.monotonic() - 2.0, frames=20)
    stats.infer_ms.extend([1.0, 3.0])
    status = StatusLog()
    with caplog.at_level(logging.INFO, logger="edge"):
        status(stats)
        stats.frames = 20  # nothing since: the next line says so
        status(stats)
    first, second = (record.getMessage().split(" | ") for record in caplog.records)
    # Over the 2 s since the pipeline started (the command started earlier), both latencies.
    assert first[0] == "20 frames" and first[2:] == ["infer 2.00 ms", "dropped 0"]
    assert float(first[1].removesuffix(" fps")) == pytest.approx(10.0, rel=0.05)
    assert second == ["20 frames", "0.0 fps", "infer 3.00 ms", "dropped 0"]
