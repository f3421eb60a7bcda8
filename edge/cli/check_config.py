"""``edge check-config``: everything ``edge run`` checks at start, without running.

The config file, the files it names, the whole inference path (model, input recipe,
decoder and its settings, one inference on a blank frame) and the sinks' credentials.
A bad config exits 78 (``EXIT_CONFIG``), the code systemd's ``RestartPreventExitStatus``
names, so a broken config is not restarted in a loop.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.errors import EXIT_OK


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = commands.add_parser("check-config", help="validate a config file (exit 78 if bad)")
    check.add_argument("file", type=Path, help="TOML config file")
    check.add_argument("--json", action="store_true", help="print the resolved config as JSON")
    check.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
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
