"""``edge check-config``: everything ``edge run`` checks at start, without running.

The config file, the files it names, the whole inference path (model, input recipe,
decoder and its settings, one inference on a blank frame), every plug-in the config uses
(paho-mqtt, picamera2, a GUI OpenCV for the preview: ``edge.config.preflight``, which
``edge run`` calls too) and the sinks' password sources.

A ``password_credential`` exists only inside the unit (``$CREDENTIALS_DIRECTORY``, from its
``LoadCredential=`` line). Outside systemd it is not checked and a note says so (exit 0);
``--credentials-dir DIR`` checks ``DIR/NAME`` instead, as the unit would find it.

A bad config exits 78 (``EXIT_CONFIG``), the code systemd's ``RestartPreventExitStatus``
names, so a broken config is not restarted in a loop.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from edge.errors import EXIT_OK

if TYPE_CHECKING:
    from edge.config.run import RunConfig
    from edge.config.sinks import SinkConfig

DESCRIPTION = """\
Check a config as `edge run` would at start, without running: the file, the files it
names, the model and decoder (one inference on a blank frame), the plug-ins it needs
(paho-mqtt for an MQTT sink, picamera2 for a picamera2 source, a GUI OpenCV for
[output] preview), the MQTT password source and [http]'s token source. Exit 78 with
the message `edge run` would give, 0 if it would start.

password_credential: the unit's LoadCredential= line provides it as
$CREDENTIALS_DIRECTORY/NAME, which exists only inside the service. Outside systemd it is
not checked (a note says so); --credentials-dir DIR checks DIR/NAME instead (the unit
reads /etc/edge/mqtt-password, so: sudo edge check-config --credentials-dir /etc/edge
/etc/edge/edge.toml)."""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = commands.add_parser(
        "check-config",
        help="validate a config file (exit 78 if bad)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("file", type=Path, help="TOML config file")
    check.add_argument("--json", action="store_true", help="print the resolved config as JSON")
    check.add_argument(
        "--credentials-dir",
        type=Path,
        metavar="DIR",
        help="check password_credential NAME as the file DIR/NAME (standing in for "
        "$CREDENTIALS_DIRECTORY); without it, outside systemd, the credential is not checked",
    )
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
    # Zones and lines need boxes, and labels the model has (edge.app.zone_recorder).
    from edge.app import zone_recorder

    zone_recorder(config, model.manifest.labels, model.manifest.task)
    # An MQTT password source and TLS files that do not exist.
    check_sinks(_credentials_checkable(config.sinks, args.credentials_dir))
    _check_http_token(config)
    if args.json:
        print(config.model_dump_json(indent=2))
    else:
        print(
            f"{args.file}: ok (model {model.file.path.name}, task {model.manifest.task}, "
            f"decoder {model.manifest.decoder.name} {model.manifest.decoder.params}, "
            f"source {config.source.kind}, sinks {', '.join(s.kind for s in config.sinks)}"
            + (f", http {config.http.listen}" if config.http.enabled else "")
            + (f", refine {config.refine.path.name}" if config.refine.path is not None else "")
            + ")"
        )
    return EXIT_OK


def _check_http_token(config: RunConfig) -> None:
    """``[http]``'s token source, read as ``edge run`` reads it (a credential outside the
    unit: a note, as for the MQTT password)."""
    http = config.http
    if not http.enabled or not http.has_token:
        return
    from edge.config.secrets import CREDENTIAL_NOTE, credentials_directory

    if http.token_credential is not None and credentials_directory() is None:
        print(
            f"note: HTTP token credential {http.token_credential!r}: {CREDENTIAL_NOTE}",
            file=sys.stderr,
        )
        return
    from edge.http import read_token

    read_token(http)


def _credentials_checkable(
    sinks: list[SinkConfig], credentials_dir: Path | None
) -> list[SinkConfig]:
    """The sinks to check: with ``--credentials-dir`` it stands in for
    ``$CREDENTIALS_DIRECTORY``; with neither, a ``password_credential`` is left out of the
    check (only the unit provides it) and a note on stderr says so."""
    from edge.config.secrets import CREDENTIAL_NOTE, credentials_directory
    from edge.config.sinks import MqttSinkConfig
    from edge.errors import UsageError

    if credentials_dir is not None:
        if not credentials_dir.is_dir():
            raise UsageError(
                f"--credentials-dir {str(credentials_dir)!r} is not a folder",
                hint="name the folder holding the credential files (the unit reads /etc/edge)",
            )
        # This process only: read_secret finds DIR/NAME as the service finds its credential.
        os.environ["CREDENTIALS_DIRECTORY"] = str(credentials_dir)
        return sinks
    if credentials_directory() is not None:
        return sinks  # inside a unit with LoadCredential= (or a stand-in): check it
    checked: list[SinkConfig] = []
    for sink in sinks:
        if isinstance(sink, MqttSinkConfig) and sink.password_credential is not None:
            print(
                f"note: MQTT password credential {sink.password_credential!r}: {CREDENTIAL_NOTE}",
                file=sys.stderr,
            )
            checked.append(sink.model_copy(update={"password_credential": None}))
        else:
            checked.append(sink)
    return checked
