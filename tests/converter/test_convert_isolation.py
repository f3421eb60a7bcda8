"""``edge convert`` runs the conversion in a child process (``converter.isolation``).

The hostile model here is a real ``.keras`` file with a ``Lambda`` layer (stored Python
bytecode, so it runs only with ``--trust-model``). Its code runs the Python statement in
the environment variable ``EDGE_TEST_ACTION`` when that is set (writing its PID, killing
its own process, ...), so one file serves every test, and building it here (Keras calls
the function once while building) does nothing. The child inherits the environment.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from converter.isolation import _rebuilt_error, convert_in_child
from converter.request import ConvertRequest
from edge.cli.convert_request import ConvertCommand
from edge.errors import ConversionError, DataError, EdgeError, ModelError

ACTION = "EDGE_TEST_ACTION"
# The Lambda's code: the statement in $EDGE_TEST_ACTION, then the identity.
LAMBDA = (
    "lambda x: (exec(__import__('os').environ['EDGE_TEST_ACTION']) "
    "if 'EDGE_TEST_ACTION' in __import__('os').environ else None, x)[1]"
)


@pytest.fixture(scope="module")
def lambda_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras

    assert ACTION not in os.environ
    folder = tmp_path_factory.mktemp("lambda")
    inputs = keras.Input((4,), name="x")
    hidden = keras.layers.Lambda(eval(LAMBDA), name="runs_code")(inputs)
    keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden)).save(
        folder / "lambda.keras"
    )
    np.savez(folder / "cal.npz", x=np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32))
    return folder


def _command(folder: Path, out: Path) -> ConvertCommand:
    return ConvertCommand(
        model=folder / "lambda.keras",
        calibration=folder / "cal.npz",
        out=out,
        task="raw",
        mode="float32",
        trust_model=True,
        json=True,
    )


def test_the_model_runs_in_a_child_process_not_in_the_command(
    lambda_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``edge convert --trust-model`` (its handler, in THIS process): the Lambda's side
    effect happens, in another process; the command's own PID never runs it."""
    from converter.command import run

    pid_file = tmp_path / "pid"
    monkeypatch.setenv(
        ACTION, f"open({str(pid_file)!r}, 'a').write(str(__import__('os').getpid()) + '\\n')"
    )
    code = run(_command(lambda_model, tmp_path / "m.tflite"))
    _, err = capsys.readouterr()
    assert code == 0, err
    pids = {int(line) for line in pid_file.read_text().split()}
    assert pids and os.getpid() not in pids  # it ran, and not here
    assert (tmp_path / "m.tflite").stat().st_size > 0
    assert (tmp_path / "m.report.json").exists() and (tmp_path / "m.report.png").exists()


def test_the_command_process_never_imports_tensorflow_or_keras(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """A whole ``edge convert`` whose own process ends without TensorFlow or Keras in
    ``sys.modules``: every model operation happened in the child."""
    script = (
        "import sys; from edge.cli import main; code = main(sys.argv[1:]); "
        "print('imported:', sorted(m for m in ('tensorflow', 'keras') "
        "if m in sys.modules)); sys.exit(code)"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            "convert",
            str(tiny_model_dir / "tiny.keras"),
            "--calibration",
            str(tiny_model_dir / "cal.npz"),
            "--out",
            "t.tflite",
            "--mode",
            "float32",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "imported: []" in done.stdout
    assert (tmp_path / "t.tflite").stat().st_size > 0


def test_errors_cross_the_boundary_with_class_message_hint_and_exit_code(
    lambda_model: Path, tmp_path: Path
) -> None:
    """The same request in-process and in the child: the same error."""
    from converter.convert import convert

    np.savez(tmp_path / "wrong.npz", x=np.zeros((8, 5), np.float32))
    cases = [
        # refused before anything runs: the Lambda, without --trust-model
        ConvertRequest(
            model=lambda_model / "lambda.keras",
            calibration=lambda_model / "cal.npz",
            out=tmp_path / "a.tflite",
            task="raw",
            progress=False,
        ),
        # a DataError from inside the loaded model's checks
        ConvertRequest(
            model=lambda_model / "lambda.keras",
            calibration=tmp_path / "wrong.npz",
            out=tmp_path / "b.tflite",
            task="raw",
            trust_model=True,
            progress=False,
        ),
    ]
    for request in cases:
        with pytest.raises(EdgeError) as here:
            convert(request)
        with pytest.raises(EdgeError) as there:
            convert_in_child(request, stderr=io.StringIO())
        assert type(there.value) is type(here.value)
        assert there.value.message == here.value.message
        assert there.value.hint == here.value.hint
        assert there.value.exit_code == here.value.exit_code
    assert type(there.value) is DataError
    assert not list(tmp_path.glob("*.tflite"))


def test_a_rebuilt_error_keeps_its_class_and_code_and_never_leaves_edge_errors() -> None:
    error = _rebuilt_error({"type": "ModelError", "message": "m", "hint": "h", "exit_code": 78})
    assert type(error) is ModelError and (error.message, error.hint, error.exit_code) == (
        "m",
        "h",
        78,
    )
    # a class from elsewhere (or a name a hostile child made up) is never looked up there
    for name in ("BenchError", "Popen", "__class__", "EdgeError.__subclasses__"):
        error = _rebuilt_error({"type": name, "message": "m", "hint": None, "exit_code": 3})
        assert type(error) is ConversionError and error.exit_code == 3


def test_progress_bars_are_relayed_to_the_parents_stderr(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    convert_in_child(
        ConvertRequest(
            model=tiny_model_dir / "tiny.keras",
            calibration=tiny_model_dir / "cal.npz",
            out=tmp_path / "t.tflite",
            mode="float32",
            latency_seconds=0.02,
        ),
        stderr=stream,
    )
    relayed = stream.getvalue()
    assert "float model" in relayed and "converted model" in relayed
    assert "Created TensorFlow Lite" not in relayed  # native noise stays captured


@pytest.mark.parametrize(
    ("action", "signal_name"),
    [
        # at load: TensorFlow crashing on a crafted graph looks like this
        ("__import__('os').kill(__import__('os').getpid(), 11)", "SIGSEGV"),
        # after the model, report and picture are staged, before they are renamed into place
        (
            "import converter.outputs as o, os; o.StagedOutputs.commit = "
            "lambda self: os.kill(os.getpid(), 9)",
            "SIGKILL",
        ),
    ],
)
def test_a_child_that_dies_is_named_and_leaves_existing_files_untouched(
    lambda_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
    signal_name: str,
) -> None:
    old = {"m.tflite": b"old model", "m.report.json": b"{}", "m.report.png": b"old picture"}
    for name, content in old.items():
        (tmp_path / name).write_bytes(content)
    monkeypatch.setenv(ACTION, action)
    request = ConvertRequest(
        model=lambda_model / "lambda.keras",
        calibration=lambda_model / "cal.npz",
        out=tmp_path / "m.tflite",
        task="raw",
        mode="float32",
        trust_model=True,
        progress=False,
    )
    with pytest.raises(ConversionError) as caught:
        convert_in_child(request, stderr=io.StringIO())
    assert f"the conversion process was killed by {signal_name}" in caught.value.message
    assert "nothing was written" in caught.value.message and caught.value.hint
    if signal_name == "SIGKILL":
        assert "out-of-memory" in caught.value.hint
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old  # no partial files


def _worker_pids(parent: int) -> list[int]:
    """Live conversion children of ``parent``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent and fields[0] != "Z" and b"converter.worker" in cmdline:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_the_timeout_stops_the_child(tiny_model_dir: Path, tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(ConversionError, match=r"did not finish within --timeout 0\.5 s"):
        convert_in_child(
            ConvertRequest(
                model=tiny_model_dir / "tiny.keras",
                calibration=tiny_model_dir / "cal.npz",
                out=tmp_path / "t.tflite",
                progress=False,
            ),
            timeout=0.5,
            stderr=io.StringIO(),
        )
    assert time.monotonic() - start < 10
    assert _worker_pids(os.getpid()) == []
    assert list(tmp_path.iterdir()) == []


def test_a_timeout_that_is_not_positive_is_a_usage_error(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from converter.command import run

    command = ConvertCommand(
        model=tiny_model_dir / "tiny.keras",
        calibration=tiny_model_dir / "cal.npz",
        out=tmp_path / "t.tflite",
        timeout=0.0,
    )
    assert run(command) == 2
    assert "--timeout 0 must be above 0" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def cli(tiny_model_dir: Path, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """``edge convert`` of the tiny model, started in a subprocess (killed afterwards).

    Python leaves SIGINT ignored when the process starts with it ignored, as every
    command run in the background of a non-interactive shell does (a CI script, or
    ``nohup``); Ctrl-C comes from a terminal, where it is not, so the child gets Python's
    usual handler back first: the test's outcome must not depend on how it was started."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal; signal.signal(signal.SIGINT, "
            "signal.default_int_handler); from edge.cli import entry; entry()",
            "convert",
            str(tiny_model_dir / "tiny.keras"),
            "--calibration",
            str(tiny_model_dir / "cal.npz"),
            "--out",
            "t.tflite",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def _running_worker(cli: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = _worker_pids(cli.pid)
        if found:
            time.sleep(1.0)  # well inside the conversion (TensorFlow is being imported)
            return found[0]
        time.sleep(0.05)
    raise AssertionError("no conversion child appeared")


@pytest.mark.parametrize(
    ("sig", "code", "says"),
    [
        (signal.SIGTERM, 143, "stopped by SIGTERM"),
        (signal.SIGINT, 130, ""),
    ],
)
def test_sigterm_and_ctrl_c_stop_the_child_too(
    cli: subprocess.Popen[str], tmp_path: Path, sig: int, code: int, says: str
) -> None:
    worker = _running_worker(cli)
    cli.send_signal(sig)
    start = time.monotonic()
    _, err = cli.communicate(timeout=30)
    print(f"{signal.Signals(sig).name}: exit {cli.returncode} in {time.monotonic() - start:.2f} s")
    assert cli.returncode == code, err
    assert says in err
    assert not _alive(worker)
    assert list(tmp_path.iterdir()) == []  # nothing written, no partial files


def test_a_killed_command_takes_its_child_with_it(cli: subprocess.Popen[str]) -> None:
    worker = _running_worker(cli)
    cli.kill()  # SIGKILL: no handler runs; the child sees its stdin close
    cli.wait(timeout=10)
    deadline = time.monotonic() + 20
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker)


def test_a_picture_that_raises_inside_convert_leaves_the_old_outputs(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``convert`` itself (in-process): the task's picture fails after the model and the
    report were built; the older model, report and picture stay byte for byte."""
    from converter.convert import convert
    from converter.tasks.registry import TASKS

    old = {"t.tflite": b"old model", "t.report.json": b"{}", "t.report.png": b"old picture"}
    for name, content in old.items():
        (tmp_path / name).write_bytes(content)

    def broken_plot(*args: object) -> None:
        Path(str(args[-1])).write_bytes(b"half a picture")
        raise RuntimeError("the picture failed")

    monkeypatch.setattr(TASKS["classify"], "plot", broken_plot)
    with pytest.raises(RuntimeError, match="the picture failed"):
        convert(
            ConvertRequest(
                model=tiny_model_dir / "tiny.keras",
                calibration=tiny_model_dir / "cal.npz",
                out=tmp_path / "t.tflite",
                mode="float32",
                latency_seconds=0.02,
                progress=False,
            )
        )
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old


def test_a_module_planted_in_the_working_folder_is_not_imported_by_the_child(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pickle.py (the child reads its request with pickle) in the folder `edge convert`
    runs from: the child must not import it, with or without --trust-model."""
    marker = tmp_path / "planted-ran"
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "pickle.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    monkeypatch.chdir(folder)
    with pytest.raises(EdgeError):  # the real pickle is missing nothing; the model is absent
        convert_in_child(
            ConvertRequest(
                model=tmp_path / "missing.keras",
                calibration=tiny_model_dir / "cal.npz",
                out=tmp_path / "m.tflite",
                progress=False,
            ),
            stderr=io.StringIO(),
        )
    assert not marker.exists()


def test_a_stopped_child_leaves_no_temporary_files(
    lambda_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trusted Lambda sleeps once the child has temporary files (the exported
    SavedModel), the timeout stops the child there; nothing of it may stay behind."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    monkeypatch.setenv(
        ACTION,
        "import glob, os, time; time.sleep(60) if glob.glob("
        "os.path.join(os.environ['TMPDIR'], '**', '*'), recursive=True) "
        "else None",
    )
    with pytest.raises(ConversionError, match="did not finish"):
        convert_in_child(
            ConvertRequest(
                model=lambda_model / "lambda.keras",
                calibration=lambda_model / "cal.npz",
                task="raw",
                mode="int8",
                trust_model=True,
                out=tmp_path / "t.tflite",
                progress=False,
            ),
            timeout=20,
            stderr=io.StringIO(),
        )
    assert list(scratch.rglob("*")) == []


@pytest.mark.parametrize(
    "message",
    [
        {"error": "x"},
        {"unexpected": 3},
        {"report": {}},
        {"report": []},
        [1, 2],
    ],
)
def test_a_malformed_result_from_the_child_is_a_conversion_error(message: object) -> None:
    import json

    from converter.isolation import _outcome

    with pytest.raises(ConversionError):
        _outcome(0, json.dumps(message).encode(), "")


def test_a_child_error_never_exits_0() -> None:
    for code in (0, True, 300, "1"):
        error = _rebuilt_error({"type": "DataError", "message": "m", "exit_code": code})
        assert error.exit_code == DataError.exit_code
