"""What ``edge run`` would find wrong before its first frame, found without opening anything.

Both ``edge run`` (before it loads the model) and ``edge check-config`` call
``check_files``, so a configuration that ``check-config`` passes does not then make the
service exit 1 (which systemd restarts forever) on a path that cannot work: a missing
image folder (or one with no images), a missing video file, a recording in a folder that
does not exist. Each is a ``ConfigError`` (exit 78). A camera that is missing stays a
runtime failure (exit 1): it may be plugged in before the restart.

Both also warn (``warn_names``) when the device id is not already a Home Assistant id
(``[a-zA-Z0-9_-]``), saying what HA will call it: ``kitchen #2`` and ``kitchen-2`` are
different MQTT devices but could be confused, and ``kitchen.2`` and ``kitchen_2`` are one
HA device. Names that cannot work on the wire at all are refused by validation.
"""

from __future__ import annotations

import logging
from pathlib import Path

from edge.config.run import RunConfig
from edge.config.sinks import MqttSinkConfig, ha_object_id
from edge.config.sources import ImagesSourceConfig, VideoSourceConfig
from edge.errors import ConfigError

log = logging.getLogger(__name__)


def check_files(config: RunConfig) -> None:
    warn_names(config)
    source = config.source
    if isinstance(source, ImagesSourceConfig):
        _check_image_folder(source.path)
    elif (
        isinstance(source, VideoSourceConfig)
        and "://" not in source.uri
        and not Path(source.uri).is_file()
    ):
        raise ConfigError(
            f"video file {source.uri!r} does not exist",
            hint="check the path (relative paths in a config file are "
            "relative to the config file's folder)",
        )
    record = config.output.record
    if record is not None and not record.parent.is_dir():
        raise ConfigError(
            f"the folder of the recording {str(record)!r} does not exist",
            hint=f"create it (mkdir -p {record.parent}) or fix output.record",
        )


def _check_image_folder(folder: Path) -> None:
    from edge.sources.images import IMAGE_SUFFIXES, list_images

    if not folder.is_dir():
        raise ConfigError(
            f"image folder {str(folder)!r} does not exist or is not a folder",
            hint="check the path (relative paths in a config file are relative "
            "to the config file's folder)",
        )
    if not list_images(folder):
        raise ConfigError(
            f"image folder {str(folder)!r} holds no images",
            hint=f"put images with one of these suffixes there: {' '.join(IMAGE_SUFFIXES)}",
        )


def warn_names(config: RunConfig) -> None:
    """A warning when Home Assistant will rename the device id (only with HA discovery)."""
    if not any(isinstance(s, MqttSinkConfig) and s.homeassistant for s in config.sinks):
        return
    object_id = ha_object_id(config.device)
    if object_id != config.device:
        log.warning(
            "device id %r is not a Home Assistant id ([a-zA-Z0-9_-]): Home Assistant "
            "will call it %r, as it would any other device id that differs only in the "
            "other characters; set device = %r to use that name everywhere",
            config.device,
            object_id,
            object_id,
        )
