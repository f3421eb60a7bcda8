"""The LiteRT backend: its interpreter's end, and fd 2 while models load.

LiteRT's C++ side writes "INFO: Created TensorFlow Lite XNNPACK delegate" to fd 2 when an
interpreter is built; ``native_stderr_filtered`` keeps that line out and must pass on,
unchanged and as they come, the lines other threads write to stderr meanwhile (the
loop's log while a reload loads a model on its worker thread). fd 2 is process-wide, so
these run in a child process and read its stderr.
"""

from __future__ import annotations

import select
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edge.errors import BackendError
from edge.model.backends.litert import LiteRTBackend

ROOT = Path(__file__).resolve().parents[3]
ZOO = ROOT / "models" / "zoo"
NOISE = "INFO: Created TensorFlow Lite"

# A thread logs numbered lines while the main thread builds interpreters, until 30 of
# those lines were written while fd 2 was redirected (not the stderr it started with);
# then it says how many it wrote in all, and how many of them while redirected.
LOGGING_DURING_LOADS = """
import logging, os, sys, threading, time
from edge.model.backends.litert import LiteRTBackend

logging.basicConfig(stream=sys.stderr, format="%(threadName)s %(message)s", level=logging.INFO)
log = logging.getLogger("ticker")
content = open(sys.argv[1], "rb").read()
real = os.fstat(2)
stop = threading.Event()
redirected = [0]

def tick():
    n = 0
    while not stop.is_set():
        now = os.fstat(2)
        if (now.st_dev, now.st_ino) != (real.st_dev, real.st_ino):
            redirected[0] += 1
        log.info("tick %d", n)
        n += 1
        time.sleep(0.0002)
    print(n)

ticker = threading.Thread(target=tick, name="ticker")
ticker.start()
deadline = time.monotonic() + 60
while redirected[0] < 30 and time.monotonic() < deadline:
    LiteRTBackend(content, threads=1).close()
stop.set()
ticker.join()
print(redirected[0])
"""

# Inside a filtered block: LiteRT-like noise, then a line from another thread; the block
# stays open until the parent, having read that line, writes to stdin.
LINE_WHILE_INSIDE = """
import logging, os, sys, threading
from edge.model.backends.litert import native_stderr_filtered

logging.basicConfig(stream=sys.stderr, format="%(message)s", level=logging.INFO)
with native_stderr_filtered():
    os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")
    other = threading.Thread(target=logging.info, args=("from another thread",))
    other.start()
    other.join()
    sys.stdin.readline()
logging.info("after the block")
"""


def run_child(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_lines_of_other_threads_reach_stderr_while_models_load() -> None:
    """Every line another thread logs while interpreters are built is on stderr, once and
    unchanged (not re-logged under another logger); LiteRT's line is not. (The order may
    differ by a line where a block ends: one written just before it can come out after
    one written just after it, see ``edge.model.backends.litert``.)"""
    done = run_child(LOGGING_DURING_LOADS, str(ZOO / "digits-cnn.int8.tflite"))
    assert done.returncode == 0, done.stderr[-2000:]
    written, redirected = (int(v) for v in done.stdout.split())
    assert redirected >= 30  # the case is real: lines were written while fd 2 was not stderr
    lines = done.stderr.splitlines()
    assert NOISE not in done.stderr
    assert all(line.startswith("ticker tick ") for line in lines), lines[:5]
    assert sorted(int(line.split()[-1]) for line in lines) == list(range(written))


def test_a_line_written_inside_the_block_is_out_before_the_block_ends() -> None:
    """The filter passes lines on as they come: the parent reads the other thread's line
    while the child is still inside the block (a stuck load does not hold stderr)."""
    seen: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-c", LINE_WHILE_INSIDE],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    ) as child:
        assert child.stdin is not None and child.stderr is not None
        try:
            deadline = time.monotonic() + 30
            while "from another thread" not in seen:
                left = deadline - time.monotonic()
                assert left > 0, f"not on stderr while inside the block: {seen}"
                if select.select([child.stderr], [], [], left)[0]:
                    line = child.stderr.readline()
                    assert line, f"stderr ended: {seen}"
                    seen.append(line.rstrip("\n"))
            child.stdin.write("go\n")
            child.stdin.flush()
            rest = child.stderr.read()
            assert child.wait(30) == 0
        finally:
            child.kill()
    assert seen == ["from another thread"]  # the noise line before it was left out
    assert rest == "after the block\n"


def test_an_interpreter_is_not_used_after_close() -> None:
    backend = LiteRTBackend((ZOO / "digits-cnn.int8.tflite").read_bytes(), threads=1)
    inputs = [np.zeros(spec.shape, np.dtype(spec.dtype)) for spec in backend.inputs]
    assert len(backend.infer(inputs)) == len(backend.outputs)
    backend.close()
    backend.close()  # harmless, though an owner closes once
    with pytest.raises(BackendError, match="after the interpreter was closed"):
        backend.infer(inputs)


# TensorFlow 2.21 still ships tf.lite.Interpreter, with a deprecation warning on each use.
@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning")
@pytest.mark.parametrize("runtime", ["ai_edge_litert", "tensorflow"])
def test_each_installed_runtime_runs_the_shipped_model(runtime: str) -> None:
    """``[model] runtime = "tensorflow"`` once raised AttributeError: importing
    ``tensorflow.lite`` by name gives a sub-package without ``Interpreter``."""
    from edge.model.backends.litert import load_interpreter_class
    from edge.model.zoo import zoo_file

    name, interpreter_class = load_interpreter_class(runtime)
    assert name == runtime and callable(interpreter_class)
    backend = LiteRTBackend(zoo_file("digits-cnn.int8.tflite").read_bytes(), runtime=runtime)
    try:
        (spec,) = backend.inputs
        (scores,) = backend.infer([np.zeros(spec.shape, spec.dtype)])
        assert scores.shape == (1, 10)
    finally:
        backend.close()


def test_a_runtime_without_an_interpreter_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from edge.model.backends import litert

    monkeypatch.setitem(litert._MODULES, "tflite_runtime", ("types", "NoInterpreter"))
    with pytest.raises(BackendError, match="tflite_runtime: types has no NoInterpreter"):
        litert.load_interpreter_class("tflite_runtime")
