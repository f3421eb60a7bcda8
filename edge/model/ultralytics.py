"""Ultralytics' own metadata in a ``.tflite`` file: class names, image size, stride, task.

Ultralytics' exporter (``ultralytics/engine/exporter.py``, ``_add_tflite_metadata``)
appends a zip archive to the flatbuffer: ``zipfile.ZipFile(file, "a", ZIP_DEFLATED)``
with one member, ``metadata.json``, holding ``json.dumps(self.metadata, indent=2)``:
``names`` (``{class id: name}``; JSON makes the ids strings), ``imgsz`` (``[height,
width]``), ``stride``, ``task`` (``detect``, ``segment``, ``classify``, ``pose``,
``obb``), ``batch``, ``channels``, ``description``, ``version`` and the export ``args``.
Its ``AutoBackend`` reads it back with ``zipfile.ZipFile(path)``, the first member. The
flatbuffer does not see the archive (its offsets start at byte 0) and LiteRT loads the
file as it is.

``edge run`` reads it for a model without an edge manifest (``edge.model.load``): the
names become the labels, ``task: detect`` picks the ``yolov8`` decoder (every current
Ultralytics detect export has the ``[1, 4 + C, N]`` head), ``imgsz`` is checked against
the input tensor; flags and config override each fact. The older TFLite Support metadata
(a flatbuffer ``TFLITE_METADATA`` entry, or a Python literal as the zip member, which
AutoBackend ``ast.literal_eval``s) is not read: nothing from a model file is evaluated.

The file may come from anywhere, so the read is bounded: only a zip end record in the
file's last 64 KiB (a zip comment's maximum) is looked for, the archive may hold at most
``MAX_MEMBERS`` members, ``metadata.json`` at most ``MAX_JSON_BYTES`` once inflated (read
through a limit, whatever the member's header claims: a zip bomb stops there), at most
``MAX_NAMES`` names of at most ``MAX_NAME_CHARS`` characters each. Anything that breaks
these or does not parse is a ``ModelError`` naming what is wrong, never a traceback.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.errors import ModelError

MEMBER = "metadata.json"
MAX_MEMBERS = 16
MAX_JSON_BYTES = 1 << 20
MAX_NAMES = 10_000
MAX_NAME_CHARS = 256
MAX_IMAGE_SIDE = 16_384
_END_RECORD = b"PK\x05\x06"
_TAIL = 22 + 0xFFFF  # the end record and the longest zip comment


@dataclass(frozen=True)
class UltralyticsMetadata:
    """The facts ``edge`` uses from Ultralytics' ``metadata.json``."""

    names: list[str]
    task: str | None
    imgsz: tuple[int, int] | None  # (height, width)
    stride: int | None
    description: str | None
    version: str | None

    @property
    def decoder(self) -> str | None:
        """The decoder for its task: YOLO detect exports have the yolov8 head."""
        return {"detect": "yolov8", "classify": "classify"}.get(self.task or "")

    def summary(self) -> str:
        """What was read, in one line: "task detect, 3 names (cat, dog, bird), imgsz 32x32"."""
        shown = ", ".join(self.names[:5]) + (", ..." if len(self.names) > 5 else "")
        parts = [f"task {self.task or '(none)'}", f"{len(self.names)} names ({shown})"]
        if self.imgsz is not None:
            parts.append(f"imgsz {self.imgsz[0]}x{self.imgsz[1]}")
        if self.stride is not None:
            parts.append(f"stride {self.stride}")
        if self.version:
            parts.append(f"Ultralytics {self.version}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": self.names,
            "task": self.task,
            "imgsz": list(self.imgsz) if self.imgsz else None,
            "stride": self.stride,
            "description": self.description,
            "version": self.version,
            "decoder": self.decoder,
        }


def read_ultralytics_metadata(content: bytes, path: Path) -> UltralyticsMetadata | None:
    """Ultralytics' metadata appended to ``content``, or None when there is none."""
    if content.rfind(_END_RECORD, max(0, len(content) - _TAIL)) < 0:
        return None
    # Imported only for a file that ends like a zip: most models do not.
    import zipfile
    import zlib

    try:
        raw = _member(content, path)
    except ModelError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise _refused(path, f"the archive appended to the model cannot be read ({exc})") from None
    except (RuntimeError, NotImplementedError) as exc:  # encrypted, unknown compression
        raise _refused(path, f"its metadata.json cannot be read ({exc})") from None
    if raw is None:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise _refused(path, f"its metadata.json is not valid JSON ({reason})") from None
    if not isinstance(data, dict):
        raise _refused(path, f"its metadata.json holds a {type(data).__name__}, not an object")
    return UltralyticsMetadata(
        names=_names(data.get("names"), path),
        task=_text(data.get("task"), "task", path),
        imgsz=_imgsz(data.get("imgsz"), path),
        stride=_stride(data.get("stride"), path),
        description=_text(data.get("description"), "description", path),
        version=_text(data.get("version"), "version", path),
    )


def _member(content: bytes, path: Path) -> bytes | None:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise _refused(
                path,
                f"the archive appended to the model holds {len(members)} members "
                f"(Ultralytics writes one; at most {MAX_MEMBERS} are read)",
            )
        found = [m for m in members if m.filename == MEMBER]
        if not found:
            return None  # some other archive: not Ultralytics' metadata
        with archive.open(found[0]) as member:
            raw = member.read(MAX_JSON_BYTES + 1)
        if len(raw) > MAX_JSON_BYTES:
            raise _refused(
                path,
                f"its {MEMBER} is larger than {MAX_JSON_BYTES // 1024} KiB once inflated "
                "(Ultralytics writes a few KiB)",
            )
        return raw


def _names(value: object, path: Path) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        items = list(enumerate(value))
    elif isinstance(value, dict):
        try:
            items = sorted((int(k), v) for k, v in value.items())
        except (TypeError, ValueError):
            raise _refused(path, "its names have keys that are not class ids") from None
    else:
        raise _refused(path, f"its names are a {type(value).__name__}, not a mapping or list")
    if len(items) > MAX_NAMES:
        raise _refused(path, f"it has {len(items)} names (at most {MAX_NAMES} are read)")
    if [i for i, _ in items] != list(range(len(items))):
        raise _refused(path, "its names' class ids are not 0, 1, 2, ... without gaps")
    names = []
    for _, name in items:
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS:
            raise _refused(
                path, f"a name is not a text of 1 to {MAX_NAME_CHARS} characters: {name!r:.60}"
            )
        names.append(name.strip())
    return names


def _text(value: object, key: str, path: Path) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 1000:
        raise _refused(path, f"its {key} is not a short text")
    return value


def _imgsz(value: object, path: Path) -> tuple[int, int] | None:
    if value is None:
        return None
    sides = [value] if isinstance(value, int) else value
    if (
        not isinstance(sides, list)
        or len(sides) not in (1, 2)
        or not all(type(s) is int and 0 < s <= MAX_IMAGE_SIDE for s in sides)
    ):
        raise _refused(path, f"its imgsz is not [height, width] in pixels: {value!r:.60}")
    return (sides[0], sides[-1])


def _stride(value: object, path: Path) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 0 < value <= 1024:
        raise _refused(path, f"its stride is not a whole number of pixels: {value!r:.60}")
    return value


_HINT = (
    "re-export the model with Ultralytics, or re-copy it; a model from an unknown source "
    "should not be run"
)


def _refused(path: Path, reason: str) -> ModelError:
    return ModelError(
        f"{str(path)!r} carries Ultralytics metadata (metadata.json appended as a zip) that "
        f"cannot be used: {reason}",
        hint=_HINT,
    )
