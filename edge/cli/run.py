"""``edge run``: the flags, turned into overrides of the config file, and the run.

Flags override the config file key by key (``load_config(path, overrides)``), so a flag
and the same key in the file mean the same; ``decoder_overrides`` reads
``--decoder-opt KEY=VALUE`` the way the file's ``[decoder]`` table is read.

While it runs, a status line is logged every ``status_interval`` seconds
(``edge.pipeline.stats.status_text``, terminal form); when it ends, one summary line.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.errors import EXIT_FAILURE, EXIT_OK, UsageError

if TYPE_CHECKING:
    from edge.pipeline.stats import FpsWindow, RunStats

log = logging.getLogger("edge")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
        "yolov5, yolov8 (= yolo11), or one an installed plug-in registers (default: "
        "the manifest's, or the one the model's outputs fit)",
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
    run.add_argument(
        "--device",
        help="device id: in every record and MQTT topic (default: the hostname plus 6 hex "
        "characters from /etc/machine-id)",
    )
    run.add_argument(
        "--no-model-probe",
        action="store_true",
        help="load the model without first trying it in a limited child process "
        "([model] probe = false; only for models you trust)",
    )
    run.add_argument(
        "--http",
        nargs="?",
        const="",
        metavar="HOST:PORT",
        help="serve a status page with the live annotated video, /stream.mjpg, /metrics and "
        "/healthz ([http]; default 127.0.0.1:8080 or the config's listen; beyond loopback "
        "a token is required, docs/http.md)",
    )
    _add_output_flags(run)
    run.set_defaults(handler=handle)


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


def handle(args: argparse.Namespace) -> int:
    from edge.model.verify.ahead import probe_ahead

    # First: a model not verified yet is tried in a child while the rest starts up.
    probe_ahead(args.config, args.model, skip=args.no_model_probe)
    from edge.config.load import load_config
    from edge.config.preflight import check_files
    from edge.config.sinks import JsonlSinkConfig
    from edge.service.runner import run_service
    from edge.sinks import check_sinks

    overrides = _overrides(args)
    config = load_config(args.config, overrides)
    check_files(config)  # a missing image folder or video file: exit 78, not 1
    check_sinks(config.sinks)  # what check-config checks of the sinks, before the model
    sinks = ", ".join(
        str(s.path) if isinstance(s, JsonlSinkConfig) else s.kind for s in config.sinks
    )
    log.info("running on %s -> %s (Ctrl-C stops)", config.source.kind, sinks)
    # SIGINT/SIGTERM stop cleanly, SIGHUP reloads the config's model (edge.service.signals).
    stats = run_service(config, lambda: load_config(args.config, overrides), StatusLog())
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
    if stats.failed:  # a sink could not deliver to the end: its losses are in "sink drops"
        for name, why in stats.sink_failed.items():
            log.error("sink %s failed: %s", name, why)
        return EXIT_FAILURE
    return EXIT_OK


class StatusLog:
    """The pipeline's status callback: logs the terminal status line, with the frame
    rate and mean inference time since the previous line (the first one: since the
    pipeline started, not since the command did, so the model load does not count)."""

    def __init__(self) -> None:
        self._window: FpsWindow | None = None

    def __call__(self, stats: RunStats) -> None:
        from edge.pipeline.stats import FpsWindow, status_text

        if self._window is None:
            self._window = FpsWindow(stats.started)
        frames = stats.frames - self._window.frames
        fps = self._window.take(stats.frames, time.monotonic())
        line = status_text(stats, fps, form="terminal", window_frames=frames)
        # A failed sink (its thread ended) is an error, not news: the line names it and why.
        log.log(logging.ERROR if stats.failed else logging.INFO, "%s", line)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
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
    if args.source is not None:  # an empty $CAM in a script must not mean "synthetic"
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
    http = getattr(args, "http", None)
    if http is not None:  # --http alone keeps the config's listen (default 127.0.0.1:8080)
        overrides["http"] = {"enabled": True, **({"listen": http} if http else {})}
    return overrides


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
