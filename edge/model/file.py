"""Read a ``.tflite`` file: its bytes, its identifier and its metadata entries.

The manifest lives in the model's flatbuffer metadata. Reading it needs only a few
fields of the TFLite schema (Model.metadata, Model.buffers), so this module walks the
flatbuffer directly with ``struct`` instead of depending on a generated schema module
that not every runtime package ships. Every offset is bounds-checked: a corrupt file
gives a ``ModelError``, never an ``IndexError``.

Why not ``ai_edge_litert.schema_py_generated`` (the generated schema the converter uses
in ``converter/measure.py``), measured 2026-11-30 on the 2 shared x86 cores, ai-edge-litert
2.3.0, reading the shipped ``digits-vit.int8.tflite``:
- start-up: importing it costs 13-65 ms (median 33 ms of 5 runs of ``python -X importtime
  -c "import ai_edge_litert.interpreter; import ai_edge_litert.schema_py_generated"``:
  a 687 KB module plus ``flatbuffers``, neither of which ``edge run`` loads otherwise),
  on top of the interpreter it already imports; this walker's module costs nothing extra
  (``struct`` is already loaded). A Pi's cores are several times slower, and every
  ``edge run``, reload check and probe child reads a manifest;
- speed: 100 reads took 21-22 ms with this walker and 23-43 ms with the generated
  classes, so it buys nothing per read;
- safety: the generated accessors are not bounds-checked: a file cut to 64 or 4096 bytes
  raises ``struct.error`` and a 16-byte zero file reads as a model with no metadata, so
  it would need the same checks around it as this walker has inside;
- portability: the legacy ``tflite_runtime`` wheel, the second runtime ``edge`` accepts,
  has no such module (2.14.0 for cp311 ships only ``interpreter.py`` and the metrics
  modules).
So the walker stays; it reads three tables and is tested on corrupt files
(``tests/edge/model/test_modelfile.py``).

Schema facts used (tensorflow/compiler/mlir/lite/schema/schema.fbs):
Model fields: 0 version, 4 buffers, 6 metadata. Metadata: 0 name, 1 buffer.
Buffer: 0 data, 1 offset, 2 size (offset/size are used by models over 2 GB).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from edge.bounded import MAX_MODEL_BYTES, read_limited
from edge.errors import ModelError

IDENTIFIER = b"TFL3"
_MODEL_BUFFERS = 4
_MODEL_METADATA = 6


@dataclass(frozen=True)
class ModelFile:
    """A model read into memory (LiteRT verifies flatbuffers only for in-memory models)."""

    path: Path
    content: bytes
    metadata: dict[str, bytes] = field(repr=False)

    @cached_property
    def sha256(self) -> str:
        # Read for the record context, the probe cache and every reload: hash once.
        return hashlib.sha256(self.content).hexdigest()

    @property
    def name(self) -> str:
        return self.path.stem


def read_model_file(path: Path) -> ModelFile:
    """Load ``path`` and check that it is a TFLite flatbuffer; errors say how to fix it."""
    if not path.exists():
        from edge.model.zoo import shipped_model_named

        shipped = shipped_model_named(path)
        raise ModelError(
            f"model file {str(path)!r} does not exist",
            hint=f"the shipped model of that name is {shipped}: give that path"
            if shipped
            else "check the path given to --model (or [model] path in the config); "
            "`edge run` without --model uses the shipped default model",
        )
    if path.is_dir():
        raise ModelError(
            f"model path {str(path)!r} is a directory, expected a .tflite file",
            hint="a SavedModel or Keras model must first be converted: "
            "`edge convert MODEL --calibration DATA`",
        )
    try:
        content = read_limited(path, what="model file", limit=MAX_MODEL_BYTES, error=ModelError)
    except OSError as exc:
        raise ModelError(f"cannot read model file {str(path)!r}: {exc.strerror}") from exc
    return parse_model_bytes(content, path)


def parse_model_bytes(content: bytes, path: Path) -> ModelFile:
    if len(content) < 8 or content[4:8] != IDENTIFIER:
        kind = _guess_kind(content)
        raise ModelError(
            f"{str(path)!r} is not a TFLite model ({kind}; a .tflite file carries the "
            f"identifier 'TFL3' at byte 4)",
            hint="convert a Keras model with `edge convert MODEL --calibration DATA`, "
            "or re-copy the file if it was truncated",
        )
    try:
        metadata = _read_metadata(content)
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise ModelError(
            f"{str(path)!r} is a corrupt TFLite file: its metadata table points outside "
            f"the file ({exc})",
            hint="re-copy or re-convert the model",
        ) from exc
    return ModelFile(path=path, content=content, metadata=metadata)


def _guess_kind(content: bytes) -> str:
    if not content:
        return "the file is empty"
    if content[:2] == b"PK":
        return "it is a zip archive, perhaps a .keras model"
    if content[:8] == b"\x89HDF\r\n\x1a\n":
        return "it is an HDF5 file, perhaps a Keras .h5 model"
    return f"it starts with {content[:8]!r}"


class _Flatbuffer:
    """Just enough of the flatbuffer wire format to follow tables, vectors and strings."""

    def __init__(self, buf: bytes) -> None:
        self.buf = buf

    def u32(self, pos: int) -> int:
        return int(struct.unpack_from("<I", self.buf, pos)[0])

    def u64(self, pos: int) -> int:
        return int(struct.unpack_from("<Q", self.buf, pos)[0])

    def field_pos(self, table: int, index: int) -> int | None:
        vtable = table - int(struct.unpack_from("<i", self.buf, table)[0])
        vtable_size = int(struct.unpack_from("<H", self.buf, vtable)[0])
        slot = 4 + 2 * index
        if slot >= vtable_size:
            return None
        offset = int(struct.unpack_from("<H", self.buf, vtable + slot)[0])
        return table + offset if offset else None

    def vector(self, table: int, index: int) -> tuple[int, int]:
        """(first element position, length) of a vector field; (0, 0) if absent."""
        pos = self.field_pos(table, index)
        if pos is None:
            return 0, 0
        start = pos + self.u32(pos)
        length = self.u32(start)
        if start + 4 + length > len(self.buf):
            raise IndexError(f"vector of {length} at {start} runs past the end")
        return start + 4, length

    def table_at(self, element_pos: int) -> int:
        return element_pos + self.u32(element_pos)

    def string(self, table: int, index: int) -> str:
        start, length = self.vector(table, index)
        return self.buf[start : start + length].decode("utf-8")


def _read_metadata(content: bytes) -> dict[str, bytes]:
    fb = _Flatbuffer(content)
    model = fb.u32(0)
    buffers_start, buffers_len = fb.vector(model, _MODEL_BUFFERS)
    meta_start, meta_len = fb.vector(model, _MODEL_METADATA)
    entries: dict[str, bytes] = {}
    for i in range(meta_len):
        entry = fb.table_at(meta_start + 4 * i)
        name = fb.string(entry, 0)
        buffer_pos = fb.field_pos(entry, 1)
        buffer_index = fb.u32(buffer_pos) if buffer_pos is not None else 0
        if buffer_index >= buffers_len:
            raise IndexError(f"metadata {name!r} names buffer {buffer_index} of {buffers_len}")
        entries[name] = _buffer_bytes(fb, fb.table_at(buffers_start + 4 * buffer_index))
    return entries


def _buffer_bytes(fb: _Flatbuffer, buffer: int) -> bytes:
    start, length = fb.vector(buffer, 0)
    if length:
        return fb.buf[start : start + length]
    offset_pos, size_pos = fb.field_pos(buffer, 1), fb.field_pos(buffer, 2)
    if offset_pos is not None and size_pos is not None:
        offset, size = fb.u64(offset_pos), fb.u64(size_pos)
        if offset > 1:  # 0 and 1 mean "no external data" in the schema
            if offset + size > len(fb.buf):
                raise IndexError(f"external buffer {offset}+{size} runs past the end")
            return fb.buf[offset : offset + size]
    return b""
