"""Try a ``.tflite`` model in a throw-away child process before the main process loads it.

A model file is a program for the interpreter: about fifty TFLite CVEs come from crafted
files that crash, hang or corrupt memory on load or on the first ``invoke``. So before
``edge run`` (at start and on every SIGHUP reload), ``edge check-config`` and
``edge inspect`` load a model they have not tried yet, a child process loads it, invokes
it once on an all-zero input and exits. The child runs under resource limits (address
space, CPU seconds, no core file) and a wall-clock timeout; if it crashes (a signal),
hangs (killed at the timeout) or fails, the model is refused with a ``ModelError``
(exit 78) that says which, and the main process never touches it.

It costs one Python start plus one model load (0.15-0.3 s on the shipped models here,
docs/benchmarks.md). So ``verify_model`` probes only a file that is not verified yet
(``edge.model.verify.cache``): the shipped zoo's files are verified by their digests, and a file
that passed is remembered by its SHA-256 for the life of the process and, on disk, for
later runs with the same runtime version. ``start_probe`` starts the child in the
background as soon as the model's path is known (``edge.model.verify.ahead``), so it overlaps
with the rest of start-up; ``verify_model`` then waits for it before the main process
loads the model. ``[model] probe = false`` (``--no-model-probe``) skips it, for models you
built yourself and must start fast.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

from edge.errors import ModelError

if TYPE_CHECKING:
    from edge.model.file import ModelFile

log = logging.getLogger("edge")
# (sha256, runtime asked for) of models that passed in this process: a file run by one
# runtime in a child has not been run by another.
_PROBED: set[tuple[str, str]] = set()
_PENDING: dict[tuple[str, str], _Background] = {}  # (sha256, runtime) -> probe under way
MEMORY_BUDGET = 1 << 30  # bytes of address space the model may add on top of the runtime
_CHILD = "from edge.model.verify.probe import child_main; child_main()"


def probe_model(
    content: bytes,
    *,
    origin: str,
    runtime: str = "auto",
    threads: int = 1,
    timeout: float = 20.0,
    digest: str | None = None,
) -> None:
    """Load and invoke ``content`` once in a limited child; ``ModelError`` if that fails.
    ``digest``: the content's sha256 when the caller has it (``ModelFile.sha256``)."""
    digest = digest or hashlib.sha256(content).hexdigest()
    if (digest, runtime) in _PROBED:
        return
    hint = (
        "the file is corrupt or hostile: get the model again from its source or "
        "re-convert it with `edge convert`; do not run it"
    )
    try:
        done = subprocess.run(
            [
                sys.executable,
                *_NO_CWD_ON_PATH,
                "-c",
                _CHILD,
                runtime,
                str(threads),
                str(int(timeout) + 1),
            ],
            input=content,
            capture_output=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "PYTHONPATH": _child_path()},
            # Not the user's folder: `python -c` puts the working folder first on the
            # import path, and a numpy.py planted next to a downloaded model would then
            # run in the probe and could make any bytes "pass".
            cwd=os.path.abspath(os.sep),
        )
    except subprocess.TimeoutExpired:
        raise ModelError(
            f"{origin}: the model did not load and run once within {timeout:g} s "
            "in a test process (it hangs), so it was not loaded",
            hint=hint,
        ) from None
    if done.returncode < 0:
        name = _signal_name(-done.returncode)
        raise ModelError(
            f"{origin}: the model crashed a test process ({name}) when it was "
            "loaded and run once, so it was not loaded",
            hint=hint,
        )
    if done.returncode != 0:
        reason = _last_line(done.stderr) or f"exit code {done.returncode}"
        raise ModelError(f"{origin}: the model failed its test run: {reason}", hint=hint)
    _PROBED.add((digest, runtime))


def _child_path() -> str:
    """The parent's import path, absolute (the child runs in another folder), without
    the empty entry that means "the working folder"."""
    return os.pathsep.join(os.path.abspath(entry) for entry in sys.path if entry)


_NO_CWD_ON_PATH = ("-P",) if sys.version_info >= (3, 11) else ()  # and cwd is "/" anyway


def verify_model(model_file: ModelFile, *, runtime: str = "auto", timeout: float = 20.0) -> str:
    """Make sure ``model_file`` may be loaded here: it is shipped, remembered, or passes
    the probe now (waiting for one started by ``start_probe``). Returns which of
    ``"shipped"``, ``"remembered"`` or ``"probed"``; ``ModelError`` if the probe fails."""
    from edge.model.backends.litert import load_interpreter_class
    from edge.model.verify import cache as probe_cache

    digest = model_file.sha256
    if digest in probe_cache.shipped_digests():
        return "shipped"
    # The runtime is trusted code: importing it here, before any probe, is safe.
    key = probe_cache.runtime_key(load_interpreter_class(runtime)[0])
    pending = _PENDING.pop((digest, runtime), None)
    if pending is not None:
        pending.wait()
        if pending.error is not None:
            raise pending.error
    elif (digest, runtime) in _PROBED or probe_cache.is_remembered(digest, key):
        _PROBED.add((digest, runtime))
        return "remembered"
    probe_model(
        model_file.content,
        origin=str(model_file.path),
        runtime=runtime,
        timeout=timeout,
        digest=digest,
    )  # returns at once if the background passed
    if probe_cache.remember(digest, key):
        log.debug("%s verified; remembered in %s", model_file.path.name, probe_cache.cache_file())
    return "probed"


class _Background:
    """One ``probe_model`` on a daemon thread (the child process does the work)."""

    def __init__(
        self, content: bytes, origin: str, runtime: str, timeout: float, digest: str
    ) -> None:
        self.error: ModelError | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._run,
            args=(content, origin, runtime, timeout, digest),
            name="model-probe",
            daemon=True,
        )
        self._thread.start()

    def _run(self, content: bytes, origin: str, runtime: str, timeout: float, digest: str) -> None:
        try:
            probe_model(content, origin=origin, runtime=runtime, timeout=timeout, digest=digest)
        except ModelError as exc:
            self.error = exc
        except Exception as exc:  # verify_model then probes again, in the open
            log.debug("background probe of %s failed to run: %s", origin, exc)
        finally:
            self._done.set()

    def wait(self) -> None:
        self._done.wait()


def start_probe(
    content: bytes, *, origin: str, digest: str, runtime: str = "auto", timeout: float = 20.0
) -> bool:
    """Start probing ``content`` in the background unless it is already verified; the
    ``verify_model`` of the same bytes and runtime waits for it. True if one started."""
    from edge.model.verify import cache as probe_cache

    if (digest, runtime) in _PROBED or digest in probe_cache.shipped_digests():
        return False
    if any(entry[0] == digest for entry in probe_cache.remembered()):
        return False  # verify_model checks the runtime version; a mismatch probes then
    if (digest, runtime) not in _PENDING:
        _PENDING[(digest, runtime)] = _Background(content, origin, runtime, timeout, digest)
    return True


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _last_line(stderr: bytes) -> str:
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def child_main() -> None:
    """The child: limits first, then load, invoke once on zeros, exit 0 (1 on an error)."""
    import numpy as np

    from edge.errors import EdgeError
    from edge.model.backends.litert import LiteRTBackend, load_interpreter_class

    runtime, threads, cpu_seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    content = sys.stdin.buffer.read()
    try:
        load_interpreter_class(runtime)  # imported before the limits: the runtime is trusted
        _limit(cpu_seconds)
        backend = LiteRTBackend(content, threads=threads, runtime=runtime, origin="model")
        zeros = [
            np.zeros([max(1, d) for d in spec.shape], dtype=spec.dtype) for spec in backend.inputs
        ]
        backend.infer(zeros)
    except EdgeError as exc:
        print(exc.message, file=sys.stderr)
        sys.exit(1)
    except MemoryError:
        print("the model needs more memory than the test process allows", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
    sys.exit(0)


def _limit(cpu_seconds: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[0])
        used = pages * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (used + MEMORY_BUDGET, used + MEMORY_BUDGET))
    except (OSError, ValueError):  # not Linux: the CPU limit and the timeout still hold
        pass
