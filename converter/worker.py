"""The child process of ``converter.isolation``: one conversion, then exit.

Started as ``python -c "from converter.worker import main; main()" RESULT_FD TTY`` (TTY:
``1`` when the parent's stderr is a terminal, so progress bars are drawn). It reads
the pickled ``ConvertRequest`` from stdin (8-byte big-endian length, then the pickle: the
parent made it, so unpickling it is safe), runs ``converter.convert.convert`` (which
inspects the model before anything in it runs), and writes ONE JSON document to
``RESULT_FD``: ``{"report": <the report's JSON>}``, ``{"error": {"type", "message",
"hint", "exit_code"}}`` for an ``EdgeError``, or ``{"unexpected": {"type", "message"}}``
for anything else (its traceback goes to stderr, which the parent relays). JSON, never a
pickle, because this process may have run the model's code: nothing it sends back may
execute in the parent.

The parent keeps the child's stdin open for the whole run; end of file on it means the
parent is gone (even killed with SIGKILL, which no handler sees), and the child exits at
once rather than finish a conversion nobody waits for. No core file is written.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import struct
import sys
import threading
import traceback
from typing import IO, Any

from edge.errors import EdgeError

EXIT_PARENT_GONE = 70


def main() -> None:
    result_fd = int(sys.argv[1])
    if sys.argv[2:3] == ["1"]:
        from converter import quiet

        quiet.PROGRESS_REACHES_A_TERMINAL = True
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    request = read_request(sys.stdin.buffer)
    threading.Thread(
        target=_exit_when_parent_is_gone, args=(sys.stdin.buffer,), name="parent-watch", daemon=True
    ).start()
    message = run(request)
    with os.fdopen(result_fd, "wb") as result:
        result.write(json.dumps(message).encode("utf-8"))
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    # Skip interpreter teardown: TensorFlow's atexit work can take seconds (or crash)
    # after the result is already safe with the parent.
    os._exit(0)


def run(request: Any) -> dict[str, Any]:
    """The conversion, its outcome as a JSON-ready message."""
    from converter.convert import convert

    try:
        report = convert(request)
    except EdgeError as err:
        return {
            "error": {
                "type": type(err).__name__,
                "message": err.message,
                "hint": err.hint,
                "exit_code": err.exit_code,
            }
        }
    except Exception as err:  # a bug or a library failure: the traceback is evidence
        traceback.print_exc()
        return {"unexpected": {"type": type(err).__name__, "message": str(err)}}
    return {"report": json.loads(report.to_json())}


def write_request(stream: IO[bytes], request: Any) -> None:
    payload = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack(">Q", len(payload)) + payload)
    stream.flush()


def read_request(stream: IO[bytes]) -> Any:
    (size,) = struct.unpack(">Q", _read_exactly(stream, 8))
    return pickle.loads(_read_exactly(stream, size))


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            os._exit(EXIT_PARENT_GONE)  # the parent went away before sending the request
        data += chunk
    return data


def _exit_when_parent_is_gone(stream: IO[bytes]) -> None:
    while stream.read(1 << 12):
        pass
    os._exit(EXIT_PARENT_GONE)
