"""The ``edge`` command: ``main(argv) -> exit code``.

Subcommands: run, convert, inspect, eval, check-config, service, bench. Importing this
module imports no TensorFlow: ``convert`` imports the ``converter`` package inside its
handler, only when called, and names the extra to install when it is missing.

Exit codes: 0 ok, 1 runtime failure, 2 usage error, 78 configuration error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge import __version__
from edge.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, EdgeError, UsageError

if TYPE_CHECKING:
    from edge.pipeline.loop import RunStats

log = logging.getLogger("edge")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge",
        description="Run image models on camera frames with LiteRT; convert Keras models "
        "to self-describing int8 TFLite.",
    )
    parser.add_argument("--version", action="version", version=f"edge {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run",
        help="run a model on a source and log results",
        description="Run a model on frames from a source; write one JSON record per frame. "
        "With no arguments: the shipped digits CNN on the built-in synthetic camera, "
        "appending to ./detections.jsonl. Ctrl-C stops cleanly.",
    )
    run.add_argument("--config", type=Path, help="TOML config file (flags override it)")
    run.add_argument("--model", type=Path, help=".tflite model (default: shipped digits CNN)")
    run.add_argument(
        "--task",
        choices=["classify", "detect", "anomaly", "generate"],
        help="task of a model that has no manifest",
    )
    run.add_argument("--labels", type=Path, help="labels file, one per line")
    run.add_argument(
        "--decoder",
        help="output decoder: classify, centernet, anomaly, ssd, "
        "yolov5, yolov8 (= yolo11) (default: the manifest's, or the one the "
        "model's outputs fit)",
    )
    run.add_argument(
        "--decoder-opt",
        action="append",
        metavar="KEY=VALUE",
        help="a setting of the decoder, as in [decoder] (e.g. score_threshold=0.4,"
        " label_offset=1); repeat for several",
    )
    run.add_argument(
        "--source",
        help="synthetic | webcam index | /dev/videoN | video file | "
        "URL | image folder | picamera2[:N|:MODEL] (default: synthetic)",
    )
    run.add_argument(
        "--sink",
        action="append",
        metavar="SPEC",
        help="jsonl:PATH | stdout | mqtt://[user@]host[:port][/prefix] | "
        "mqtts://...; repeat for several (default: jsonl:detections.jsonl)",
    )
    run.add_argument("--threads", type=int, help="interpreter threads (default 2)")
    run.add_argument("--max-frames", type=int, help="stop after N frames")
    run.add_argument("--device", help="device name written in every record (default: hostname)")
    run.add_argument(
        "--no-model-probe",
        action="store_true",
        help="load the model without first trying it in a limited child process "
        "([model] probe = false; only for models you trust)",
    )
    _add_output_flags(run)
    run.set_defaults(handler=_cmd_run)

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
        choices=["classify", "detect", "generate", "anomaly", "raw"],
        default="classify",
        help="model task (default classify; raw: any other model, judged "
        "by SQNR and cosine similarity per output, no device decoder)",
    )
    convert.add_argument("--labels", help="labels file, one per line, in class order")
    convert.add_argument(
        "--mode",
        default="auto",
        choices=[
            "auto",
            "int8",
            "int8-recalibrated",
            "int8-mixed",
            "int16x8",
            "float16",
            "dynamic",
            "float32",
        ],
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
        choices=["int8", "uint8"],
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
    _add_convert_process_flags(convert)
    convert.set_defaults(handler=_cmd_convert)

    inspect = commands.add_parser("inspect", help="show a model's manifest and tensors")
    inspect.add_argument("model", type=Path, help=".tflite model")
    inspect.add_argument("--json", action="store_true", help="print JSON")
    inspect.add_argument(
        "--no-model-probe",
        action="store_true",
        help="load the model without first trying it in a limited child "
        "process (only for models you trust)",
    )
    inspect.set_defaults(handler=_cmd_inspect)

    check = commands.add_parser("check-config", help="validate a config file (exit 78 if bad)")
    check.add_argument("file", type=Path, help="TOML config file")
    check.add_argument("--json", action="store_true", help="print the resolved config as JSON")
    check.set_defaults(handler=_cmd_check_config)

    from edge.service.command import add_service_parser

    for add_parser in (add_service_parser, _add_bench_parser, _add_eval_parser):
        add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="edge: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.handler(args))
    except EdgeError as exc:
        print(f"edge {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


def _run_overrides(args: argparse.Namespace) -> dict[str, Any]:
    from edge.sinks import parse_sink_spec
    from edge.sources import parse_source_spec

    model: dict[str, Any] = {}
    for key in ("model", "task", "labels", "threads"):
        value = getattr(args, key)
        if value is not None:
            model["path" if key == "model" else key] = str(value) if key != "threads" else value
    if getattr(args, "no_model_probe", False):
        model["probe"] = False
    overrides: dict[str, Any] = {}
    if model:
        overrides["model"] = model
    decoder = decoder_overrides(args.decoder, args.decoder_opt or [])
    if decoder:
        overrides["decoder"] = decoder
    if args.source:
        overrides["source"] = parse_source_spec(args.source)
    if args.sink:
        overrides["sinks"] = [parse_sink_spec(spec) for spec in args.sink]
    if args.max_frames is not None:
        overrides["max_frames"] = args.max_frames
    if args.device:
        overrides["device"] = args.device
    output = _output_overrides(args)
    if output:
        overrides["output"] = output
    return overrides


def _add_output_flags(run: argparse.ArgumentParser) -> None:
    """The picture side of a run ([output] in the config)."""
    run.add_argument(
        "--preview",
        action="store_true",
        default=None,
        help="show a window with boxes, labels and scores (q or Esc stops; needs "
        "opencv-python, not -headless)",
    )
    run.add_argument(
        "--record", type=Path, metavar="PATH", help="write the annotated video (.mp4, .avi or .mkv)"
    )
    run.add_argument(
        "--snapshot-dir",
        type=Path,
        metavar="DIR",
        help="save an annotated JPEG when a detection or anomaly appears",
    )


def _output_overrides(args: argparse.Namespace) -> dict[str, Any]:
    output: dict[str, Any] = {}
    if args.preview:
        output["preview"] = True
    if args.record is not None:
        output["record"] = str(args.record)
    if args.snapshot_dir is not None:
        output["snapshot_dir"] = str(args.snapshot_dir)
    return output


def decoder_overrides(name: str | None, options: Sequence[str]) -> dict[str, Any]:
    """``--decoder`` and ``--decoder-opt KEY=VALUE`` -> the ``[decoder]`` table. A value is
    read as TOML (``0.4``, ``1``, ``true``, ``"x"``), else taken as a string, so a flag
    and the same key in the file mean the same."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10 on older Pi OS images
        import tomli as tomllib

    table: dict[str, Any] = {"name": name} if name else {}
    for option in options:
        key, sep, text = option.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"--decoder-opt {option!r} is not KEY=VALUE",
                hint="e.g. --decoder-opt score_threshold=0.4",
            )
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        table[key.strip()] = value
    return table


def _cmd_run(args: argparse.Namespace) -> int:
    from edge.model.verify.ahead import probe_ahead

    # First: a model not verified yet is tried in a child while the rest starts up.
    probe_ahead(args.config, args.model, skip=args.no_model_probe)
    from edge.config.load import load_config
    from edge.config.preflight import check_files
    from edge.service.runner import run_service

    overrides = _run_overrides(args)
    config = load_config(args.config, overrides)
    check_files(config)  # a missing image folder or video file: exit 78, not 1
    last: dict[str, float] = {"frames": 0, "time": 0.0}

    def status(stats: RunStats) -> None:
        window_frames = stats.frames - last["frames"]
        window_time = stats.elapsed - last["time"]
        last.update(frames=stats.frames, time=stats.elapsed)
        recent = list(stats.infer_ms)[-max(1, int(window_frames)) :]
        infer = sum(recent) / len(recent) if recent else 0.0
        log.info(
            "%d frames | %.1f fps | infer %.2f ms | dropped %d%s%s",
            stats.frames,
            window_frames / window_time if window_time > 0 else 0.0,
            infer,
            stats.dropped,
            _skipped_text(stats),
            _health_text(stats),
        )

    sinks = ", ".join(str(getattr(s, "path", s.kind)) for s in config.sinks)
    log.info("running on %s -> %s (Ctrl-C stops)", config.source.kind, sinks)
    # SIGINT/SIGTERM stop cleanly, SIGHUP reloads the config's model (edge.service.signals).
    stats = run_service(config, lambda: load_config(args.config, overrides), status)
    summary = stats.summary()
    log.info(
        "done: %d frames in %.1f s (%.1f fps), infer p50 %.2f ms p95 %.2f ms, dropped %d"
        ", reconnects %d, sink drops %d",
        summary["frames"],
        summary["seconds"],
        summary["fps"],
        summary["infer_ms_p50"],
        summary["infer_ms_p95"],
        summary["dropped"],
        summary["reconnects"],
        summary["sink_drops"],
    )
    if config.motion.enabled or config.events.enabled:
        log.info(
            "motion gate: %d frames skipped; events: %d written",
            summary["skipped"],
            summary["events"],
        )
    return EXIT_OK


def _skipped_text(stats: RunStats) -> str:
    """Frames the motion gate let through without inference (only when it skipped any)."""
    return f" | skipped {stats.skipped}" if stats.skipped else ""


def _health_text(stats: RunStats) -> str:
    """The status line's tail: only what is not normal, so a healthy line stays short."""
    parts = []
    if stats.source_state not in ("running", "opening") or stats.reconnects:
        parts.append(f"source {stats.source_state} (reconnects {stats.reconnects})")
    for name, state in sorted(stats.sink_state.items()):
        parts.append(f"{name} {state}")
    if stats.sink_drops:
        parts.append(f"sink drops {stats.sink_drops}")
    return "".join(f" | {part}" for part in parts)


def _add_convert_process_flags(convert: argparse.ArgumentParser) -> None:
    convert.add_argument("--json", action="store_true", help="print the report as JSON")
    convert.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="stop the conversion (it runs in a child process) after this "
        "long, writing nothing (default: no limit)",
    )


def _add_input_range_flags(convert: argparse.ArgumentParser) -> None:
    """The values the model takes per pixel (image-folder calibration/eval and manifest)."""
    convert.add_argument(
        "--input-range",
        choices=["0..255", "0..1", "-1..1"],
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


def _cmd_convert(args: argparse.Namespace) -> int:
    try:
        from converter import command
    except ImportError as exc:
        missing = exc.name or str(exc)
        print(
            f"edge convert: error: the converter needs {missing}, which is not installed\n"
            "  fix: pip install 'edge-infer[convert]'",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    exit_code: int = command.run(args)
    return exit_code


def _cmd_inspect(args: argparse.Namespace) -> int:
    from edge.model.backends.litert import LiteRTBackend
    from edge.model.file import read_model_file
    from edge.model.manifest import METADATA_NAME, parse_manifest
    from edge.model.verify.probe import verify_model

    model_file = read_model_file(args.model)
    if not args.no_model_probe:
        verify_model(model_file)
    raw = model_file.metadata.get(METADATA_NAME)
    manifest = parse_manifest(raw, origin=str(args.model)) if raw is not None else None
    backend = LiteRTBackend(model_file.content, threads=1, origin=str(args.model))
    info: dict[str, Any] = {
        "path": str(model_file.path),
        "sha256": model_file.sha256,
        "size_bytes": len(model_file.content),
        "runtime": backend.runtime,
        "manifest": manifest.model_dump(by_alias=True) if manifest else None,
        "inputs": [_tensor(t) for t in backend.inputs],
        "outputs": [_tensor(t) for t in backend.outputs],
    }
    if manifest is None:
        info["decoder_guess"] = _decoder_guess(backend)
    backend.close()
    if args.json:
        print(json.dumps(info, indent=2))
        return EXIT_OK
    print(f"{info['path']}  ({info['size_bytes']:,} bytes, runtime {info['runtime']})")
    _print_manifest(info["manifest"])
    guess = info.get("decoder_guess")
    if guess:
        print(f"  its outputs fit decoder {guess['name'] or '(none)'}: {guess['reason']}")
    for kind in ("inputs", "outputs"):
        for t in info[kind]:
            print(
                f"  {kind[:-1]:6} {t['name']:40} {t['shape']!s:18} {t['dtype']:8} "
                f"scale {t['scale']:.6g} zero_point {t['zero_point']}"
            )
    return EXIT_OK


def _decoder_guess(backend: Any) -> dict[str, str]:
    """What `edge run` would pick for this model without a manifest or --decoder."""
    from edge.decoders.heads import guess_decoder

    name, reason = guess_decoder(backend.outputs, backend.inputs[0].shape)
    return {"name": name, "reason": reason}


def _print_manifest(manifest: dict[str, Any] | None) -> None:
    if manifest is None:
        print(
            "  no edge manifest: run it with --task (and --labels), or convert it with "
            "`edge convert`"
        )
        return
    print(
        f"  name {manifest['name']}  task {manifest['task']}  decoder "
        f"{manifest['decoder']['name']} {manifest['decoder']['params']}"
    )
    print(f"  labels {manifest['labels']}")
    print(f"  input recipe {manifest['input']}")
    if manifest.get("quantization"):
        print(f"  quantization {manifest['quantization']}")
    if manifest.get("accuracy"):
        print(f"  accuracy {manifest['accuracy']}")


def _tensor(spec: Any) -> dict[str, Any]:
    return {
        "name": spec.name,
        "shape": list(spec.shape),
        "dtype": spec.dtype,
        "scale": spec.scale,
        "zero_point": spec.zero_point,
    }


def _cmd_check_config(args: argparse.Namespace) -> int:
    from edge.config.load import load_config
    from edge.config.preflight import check_files
    from edge.pipeline.inference import open_inference
    from edge.service.reload import blank_frame
    from edge.sinks import check_sinks

    config = load_config(args.file)  # sources, sinks and every table are validated here
    check_files(config)  # the image folder, video file and recording folder exist
    # The whole inference path, as `edge run` builds it at start: model, input recipe
    # against the input tensor, decoder and its settings, filters, event mode; then one
    # inference on a blank frame, so a decoder that does not fit the outputs fails here.
    model, inference = open_inference(config)
    try:
        inference(blank_frame(model))
    finally:
        model.close()
    check_sinks(config.sinks)  # an MQTT password source and TLS files that do not exist
    if args.json:
        print(config.model_dump_json(indent=2))
    else:
        print(
            f"{args.file}: ok (model {model.file.path.name}, task {model.manifest.task}, "
            f"decoder {model.manifest.decoder.name} {model.manifest.decoder.params}, "
            f"source {config.source.kind}, sinks {', '.join(s.kind for s in config.sinks)})"
        )
    return EXIT_OK


def _add_eval_parser(commands: Any) -> None:
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
    evaluate.set_defaults(handler=_cmd_eval)


def _cmd_eval(args: argparse.Namespace) -> int:
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


def _add_bench_parser(commands: Any) -> None:
    bench = commands.add_parser(
        "bench",
        help="measure a model: raw invoke, edge run's pipeline, cold start, memory",
        description="Measure how fast a model runs here: the model alone in a tight loop "
        "(checked against LiteRT's own benchmark tool in the same run), the frame rate "
        "through edge run's real path (synthetic camera or --source, a JSONL sink in a "
        "temporary folder), latency p50/p95/p99, frame age, cold start and peak memory.",
    )
    bench.add_argument(
        "model", type=Path, nargs="?", help=".tflite model (default: the shipped default model)"
    )
    bench.add_argument("--threads", type=int, default=2, help="interpreter threads (default 2)")
    bench.add_argument(
        "--frames", type=int, default=300, help="frames per measurement (default 300)"
    )
    bench.add_argument(
        "--source",
        help="SOURCE SPEC for the pipeline part (default: the synthetic camera at 1000 fps)",
    )
    bench.add_argument(
        "--compare",
        type=Path,
        metavar="OTHER.tflite",
        help="also measure this model (e.g. the float32 build) and give ratios",
    )
    bench.add_argument(
        "--sweep",
        action="store_true",
        help="also measure raw and pipeline at 1, 2 and all-cores threads",
    )
    bench.add_argument("--json", action="store_true", help="print the report as JSON")
    bench.set_defaults(handler=_cmd_bench)


def _cmd_bench(args: argparse.Namespace) -> int:
    from edge.bench.run import BenchRequest, render, run_bench

    report = run_bench(
        BenchRequest(
            model=args.model,
            threads=args.threads,
            frames=args.frames,
            source=args.source,
            compare=args.compare,
            sweep=args.sweep,
        )
    )
    print(json.dumps(report, indent=2) if args.json else render(report), flush=True)
    import atexit

    atexit.register(_quiet_native_teardown)
    return EXIT_OK


def _quiet_native_teardown() -> None:
    """LiteRT's CompiledModel (measured by the bench) logs "DestroyAccelerator" lines from
    native destructors while the interpreter shuts down, where Python filters nothing. The
    report is out by then, so file descriptor 2 goes to /dev/null for the teardown."""
    import os

    sys.stderr.flush()
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        pass


__all__ = ["EXIT_USAGE", "build_parser", "entry", "main"]
