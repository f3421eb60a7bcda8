"""What ``edge run`` would find wrong before its first frame, found without opening anything.

Both ``edge run`` (before it loads the model) and ``edge check-config`` call
``check_files``, so a configuration that ``check-config`` passes does not then make the
service exit 1 (which systemd restarts forever) on a path that cannot work: a missing
image folder (or one with no images), a missing video file, a recording in a folder that
does not exist. Each is a ``ConfigError`` (exit 78). A camera that is missing stays a
runtime failure (exit 1): it may be plugged in before the restart.

Both also import every plug-in the config will use (``check_plugins``), with the
message ``edge run`` would give: paho-mqtt for an MQTT sink, picamera2 for a picamera2
source, an OpenCV with a GUI (and a display) for ``[output] preview``. Each missing one
is a ``ConfigError`` (exit 78): restarting the service does not install a package, so
``check-config`` must not pass a config that ``edge run`` then refuses.

Both also warn (``warn_names``) when the device id is not already a Home Assistant id
(``[a-zA-Z0-9_-]``), saying what HA will call it: ``kitchen #2`` and ``kitchen-2`` are
different MQTT devices but could be confused, and ``kitchen.2`` and ``kitchen_2`` are one
HA device. Names that cannot work on the wire at all are refused by validation.
"""

from __future__ import annotations

import logging
import stat
from pathlib import Path

from edge.bounded import special_kind
from edge.config.run import RunConfig
from edge.config.sinks import MqttSinkConfig, ha_object_id
from edge.config.sources import ImagesSourceConfig, PiCamera2SourceConfig, VideoSourceConfig
from edge.errors import ConfigError

log = logging.getLogger(__name__)


def check_files(config: RunConfig) -> None:
    warn_names(config)
    source = config.source
    if isinstance(source, ImagesSourceConfig):
        _check_image_folder(source.path)
    elif isinstance(source, VideoSourceConfig) and "://" not in source.uri:
        _check_video_file(Path(source.uri), source.uri)
    record = config.output.record
    if record is not None and not record.parent.is_dir():
        raise ConfigError(
            f"the folder of the recording {str(record)!r} does not exist",
            hint=f"create it (mkdir -p {record.parent}) or fix output.record",
        )
    _check_outputs(config)
    check_plugins(config)


def _check_outputs(config: RunConfig) -> None:
    """What opening the recorder and the snapshot folder would refuse after the model
    loaded (check-config said ok to both)."""
    record, snapshots = config.output.record, config.output.snapshot_dir
    if record is not None:
        from edge.observers.recorder import FOURCC_BY_SUFFIX  # imports OpenCV: only here

        if record.suffix.lower() not in FOURCC_BY_SUFFIX:
            raise ConfigError(
                f"output.record {str(record)!r}: cannot tell which video format to record",
                hint=f"end the file name in one of {', '.join(sorted(FOURCC_BY_SUFFIX))}",
            )
        if record.exists() and not record.is_file():
            raise ConfigError(
                f"output.record {str(record)!r} exists and is not a file",
                hint="name a new or a regular file for the recording",
            )
    if snapshots is not None and snapshots.exists() and not snapshots.is_dir():
        raise ConfigError(
            f"output.snapshot_dir {str(snapshots)!r} exists and is not a folder",
            hint="name a folder (it is created if missing)",
        )


MQTT_MISSING = "the MQTT sink needs paho-mqtt, which is not installed"
MQTT_HINT = (
    "install the mqtt extra: pip install '.[mqtt]' in the edge-infer clone, "
    "or pip install 'WHEEL[mqtt]' with the wheel you installed "
    "(docs/raspberry-pi.md, step 4)"
)
PREVIEW_NO_GUI = "--preview cannot open a window: this OpenCV has no GUI support"


def check_plugins(config: RunConfig) -> None:
    """Import what the config's sinks, source and preview need, as ``edge run`` does when
    it opens them; a missing one is the ``ConfigError`` (exit 78) ``edge run`` gives."""
    if any(isinstance(s, MqttSinkConfig) for s in config.sinks):
        require_paho_mqtt()
    if isinstance(config.source, PiCamera2SourceConfig):
        from edge.sources.picamera import _import_picamera2

        _import_picamera2()  # the function picamera2_source calls before opening
    if config.output.preview:
        require_gui()


def require_paho_mqtt() -> None:
    try:
        import paho.mqtt.client  # noqa: F401
    except ImportError:
        raise ConfigError(MQTT_MISSING, hint=MQTT_HINT) from None


def require_gui() -> None:
    """What ``PreviewWindow`` checks, without opening a window: a display first (a GUI
    build without one would abort inside Qt), then an OpenCV built with a GUI backend
    (``opencv-python-headless`` says ``GUI: NONE`` in its build information)."""
    import cv2

    from edge.observers.preview import GUI_HINT, check_display

    check_display()
    if not opencv_has_gui(cv2.getBuildInformation()):
        raise ConfigError(PREVIEW_NO_GUI, hint=GUI_HINT)


def opencv_has_gui(build_information: str) -> bool:
    """``True`` unless the ``GUI:`` line of ``cv2.getBuildInformation()`` says ``NONE``."""
    for line in build_information.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "GUI":
            return value.strip().upper() != "NONE"
    return True  # an unknown layout: let the window itself decide, as before


def _check_video_file(path: Path, uri: str) -> None:
    """A file source that is not a regular file, named for what it is: a missing
    ``./photos`` is not called a "video file", ``/dev/null`` does exist."""
    fix = (
        "check the path (relative paths in a config file are relative to the config "
        "file's folder); a source is a video file, an image folder, a camera "
        "(0, /dev/video0), picamera2 or a URL"
    )
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        # clip.mp4 is a video file; ./photos (no suffix) may as well be a missing folder.
        what = "video file" if path.suffix else "source"
        raise ConfigError(f"{what} {uri!r} does not exist", hint=fix) from None
    except OSError as exc:
        raise ConfigError(f"source {uri!r} cannot be read: {exc.strerror}", hint=fix) from None
    if stat.S_ISREG(mode):
        return
    kind = special_kind(mode) or "a folder"  # a folder is an images source, never here
    raise ConfigError(f"source {uri!r} is {kind}, not a video file", hint=fix)


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
