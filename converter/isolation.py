"""Run a conversion in a child process, so nothing from the model executes in this one.

TensorFlow's security policy says a model is a program; ``converter.inspect_model`` refuses
what it can see, but ``--trust-model`` lets a model run, loaders have had bypasses, and a
crafted graph can crash TensorFlow itself. ``convert_in_child(request)`` (what ``edge
convert`` calls) therefore does all TensorFlow and Keras work -- inspecting and loading the
model, the float reference, calibration, conversion, evaluation, writing the outputs -- in
a fresh Python process (``converter.worker``), started with fork + exec (a spawn: the
parent's threads and TensorFlow state are never forked) and in its own session, so a
Ctrl-C in the terminal reaches the parent, which stops the child (SIGTERM to its process
group, SIGKILL 5 s later).

What crosses the boundary:

- the request, pickled, parent -> child on the child's stdin (the parent made it);
- the child's stdout and stderr (progress bars, warnings, a traceback), relayed to the
  parent's ``sys.stderr`` as they come, so stdout stays the report's alone;
- one JSON document back on a pipe of its own: the report (rebuilt with
  ``Report.from_dict``), or the child's ``EdgeError`` as type name, message, hint and exit
  code, raised here again as the same class of ``edge.errors`` (only those classes: JSON
  from the child is data, never code, since the child may have run the model's code).

A child that dies without a result (a signal, the kernel's out-of-memory killer, an exit)
is a ``ConversionError`` naming the signal or exit code; ``timeout`` (``edge convert
--timeout``) stops it the same way. Either way the staged outputs it left
(``converter.outputs``) are removed and existing files stay as they were. The parent's
stdin pipe to the child stays open for the run: if the parent dies, even by SIGKILL, the
child sees end of file and exits.

Limits: no core file. No address-space limit (``RLIMIT_AS``): TensorFlow reserves large
virtual ranges up front and fails under one; use ``timeout`` and the system's memory
controls (a systemd unit's ``MemoryMax``, a cgroup) instead.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import IO, Any, TextIO

import edge.errors
from converter.outputs import remove_partials
from converter.report import Report
from converter.request import ConvertRequest, check_request
from converter.worker import write_request
from edge.errors import ConversionError, EdgeError, UsageError

# `python -c` puts the working folder first on the import path: a pickle.py or numpy.py
# in a downloaded model's folder would run in the child before any inspection. -P (3.11+)
# leaves it out; on 3.10 the command drops it before importing anything of ours.
_CHILD = (
    "import sys; sys.path[:1] == [''] and sys.path.pop(0); "
    "from converter.worker import main; main()"
)
_NO_CWD_ON_PATH = ("-P",) if sys.version_info >= (3, 11) else ()
STOP_GRACE_SECONDS = 5.0
_CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGILL, signal.SIGFPE}


def convert_in_child(
    request: ConvertRequest, *, timeout: float | None = None, stderr: TextIO | None = None
) -> Report:
    """``converter.convert.convert(request)`` run in a child process; same result, same
    errors. ``stderr``: where the child's output goes (default ``sys.stderr``)."""
    check_request(request)  # cheap, no TensorFlow: usage errors without starting a child
    if timeout is not None and not timeout > 0:
        raise UsageError(
            f"--timeout {timeout:g} must be above 0",
            hint="give --timeout in seconds, e.g. 3600, or leave it out",
        )
    stream = stderr or sys.stderr
    # The child's temporary files (the exported SavedModel) go here, removed by us: a
    # child stopped by a signal or killed by the OOM killer cleans up nothing itself.
    scratch = tempfile.mkdtemp(prefix="edge-convert-")
    result_read, result_write = os.pipe()
    try:
        child = subprocess.Popen(
            [
                sys.executable,
                *_NO_CWD_ON_PATH,
                "-c",
                _CHILD,
                str(result_write),
                "1" if _is_terminal(stream) else "0",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(result_write,),
            start_new_session=True,
            env=_child_environment(scratch),
        )
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    finally:
        os.close(result_write)
    with os.fdopen(result_read, "rb") as result_pipe:
        result = _Collector(result_pipe)
        relay = _Relay(child.stdout, stream)
        try:
            _send(child, request)
            _wait(child, timeout)
        finally:
            stopped = _stop(child)
            # Whatever the child started dies with it: a leftover holding our pipes would
            # keep the joins below waiting for ever.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)
            relay.join(STOP_GRACE_SECONDS)
            result.join(STOP_GRACE_SECONDS)
            if child.stdin is not None:
                with contextlib.suppress(OSError):
                    child.stdin.close()
            if stopped or child.returncode != 0:
                remove_partials(_targets(request), child.pid)
            shutil.rmtree(scratch, ignore_errors=True)
    return _outcome(child.returncode, result.data, relay.tail())


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _child_environment(scratch: str) -> dict[str, str]:
    # The child imports exactly what this process imports (a test's or a checkout's tree),
    # and keeps its temporary files in ``scratch``.
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "TMPDIR": scratch,
    }


def _send(child: subprocess.Popen[bytes], request: ConvertRequest) -> None:
    assert child.stdin is not None
    with contextlib.suppress(BrokenPipeError):  # the child died first: its exit says why
        write_request(child.stdin, request)


def _wait(child: subprocess.Popen[bytes], timeout: float | None) -> None:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            child.wait(timeout=0.2)
            return
        except subprocess.TimeoutExpired:
            if deadline is not None and time.monotonic() > deadline:
                _stop(child)
                raise ConversionError(
                    f"the conversion did not finish within --timeout {timeout:g} s; its "
                    "process was stopped and nothing was written",
                    hint="raise --timeout, or make the run shorter: fewer calibration or "
                    "evaluation samples, or one --mode instead of the auto ladder",
                ) from None


def _stop(child: subprocess.Popen[bytes]) -> bool:
    """Stop the child and everything it started; True if it was still running."""
    if child.poll() is not None:
        return False
    for sig, grace in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, sig)
        try:
            child.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    return True


def _targets(request: ConvertRequest) -> list[Any]:
    return [
        target
        for mode in request.steps
        for target in (request.out_for(mode), request.report_for(mode), request.picture_for(mode))
    ]


def _outcome(returncode: int | None, data: bytes, tail: str) -> Report:
    message: dict[str, Any] | None = None
    if data:
        with contextlib.suppress(ValueError):
            message = json.loads(data)
    # The child ran the model's code with --trust-model: its message is data to check.
    if isinstance(message, dict):
        if isinstance(message.get("report"), dict):
            try:
                return Report.from_dict(message["report"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ConversionError(
                    f"the conversion process sent a report this version cannot read ({exc})",
                    hint="run the conversion again",
                ) from None
        if isinstance(message.get("error"), dict):
            raise _rebuilt_error(message["error"])
        if isinstance(message.get("unexpected"), dict):
            found = message["unexpected"]
            raise ConversionError(
                f"the conversion failed: {found.get('type')}: {found.get('message')}",
                hint="this is not an error the converter knows: its traceback is above; "
                "please report it with the model's description",
            )
    raise ConversionError(_death(returncode, tail), hint=_death_hint(returncode))


def _rebuilt_error(found: dict[str, Any]) -> EdgeError:
    """The child's error as the same ``edge.errors`` class, message, hint and exit code."""
    kind = getattr(edge.errors, str(found.get("type")), None)
    if not (isinstance(kind, type) and issubclass(kind, EdgeError)):
        kind = ConversionError  # a class outside edge.errors: keep its words and code
    error = kind(str(found.get("message")), hint=found.get("hint"))
    exit_code = found.get("exit_code")
    # Never 0 (an error must fail the command), never a bool, within what a shell sees.
    if type(exit_code) is int and 1 <= exit_code <= 255 and exit_code != error.exit_code:
        error.exit_code = exit_code
    return error


def _death(returncode: int | None, tail: str) -> str:
    if returncode is not None and returncode < 0:
        what = f"was killed by {_signal_name(-returncode)}"
    else:
        what = f"exited with code {returncode} without a result"
    last = f"; its last output: {tail}" if tail else ""
    return f"the conversion process {what} before it finished; nothing was written{last}"


def _death_hint(returncode: int | None) -> str:
    if returncode == -signal.SIGKILL:
        return (
            "a SIGKILL nobody sent by hand is usually the kernel's out-of-memory killer "
            "(see `dmesg`): free memory or convert with fewer calibration/eval samples"
        )
    if returncode is not None and -returncode in _CRASH_SIGNALS:
        return (
            "TensorFlow crashed on this model: check that the file is what you think it "
            "is; a model you do not trust should not be converted"
        )
    if returncode is not None and returncode < 0:
        return (
            "the process was stopped from outside (by a user, a service manager or a "
            "shutdown): run the conversion again"
        )
    return "run the conversion again; if it fails the same way, report it"


def _signal_name(number: int) -> str:
    try:
        return f"{signal.Signals(number).name} (signal {number})"
    except ValueError:
        return f"signal {number}"


class _Collector:
    """Reads the result pipe on a thread (a large report must not block the child)."""

    def __init__(self, pipe: IO[bytes]) -> None:
        self.data = b""
        self._pipe = pipe
        self._thread = threading.Thread(target=self._read, name="convert-result", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        self.data = self._pipe.read()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)


class _Relay:
    """Copies the child's output to ``stream`` as it comes (progress bars included)."""

    def __init__(self, pipe: IO[bytes] | None, stream: TextIO) -> None:
        self._pipe, self._stream = pipe, stream
        self._last = ""
        self._thread = threading.Thread(target=self._copy, name="convert-output", daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        if self._pipe is None:
            return
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while chunk := os.read(self._pipe.fileno(), 1 << 14):  # what is there, at once
            text = decoder.decode(chunk)
            self._last = (self._last + text)[-2000:]
            with contextlib.suppress(OSError, ValueError):
                self._stream.write(text)
                self._stream.flush()
        self._pipe.close()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def tail(self) -> str:
        lines = [
            line.strip() for line in self._last.replace("\r", "\n").splitlines() if line.strip()
        ]
        return lines[-1] if lines else ""
