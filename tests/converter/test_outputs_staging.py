"""``converter.outputs.StagedOutputs``: model, report and picture reach their paths
together or not at all, and an existing file is replaced only by a complete one.

Each test injects a failure at one point (the picture raising, a full disk or a
file-size limit while writing the report, a rename that fails, the process killed) and
then checks exactly what is on disk. No TensorFlow: these run in a second.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from converter.outputs import StagedOutputs, partial_path, remove_partials
from edge.errors import ConversionError

OLD = {"m.tflite": b"old model", "m.report.json": b'{"old": true}', "m.report.png": b"old png"}


def _existing(folder: Path) -> dict[str, Path]:
    paths = {}
    for name, content in OLD.items():
        (folder / name).write_bytes(content)
        paths[name] = folder / name
    return paths


def _on_disk(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _stage_all(outputs: StagedOutputs, folder: Path) -> None:
    outputs.path_for(folder / "m.report.png").write_bytes(b"new png")
    outputs.write(folder / "m.tflite", b"new model")
    outputs.write(folder / "m.report.json", b'{"new": true}')


def test_commit_replaces_all_three_and_leaves_no_temporaries(tmp_path: Path) -> None:
    _existing(tmp_path)
    with StagedOutputs() as outputs:
        _stage_all(outputs, tmp_path)
        assert _on_disk(tmp_path).keys() > OLD.keys()  # staged beside, targets untouched
        assert {k: v for k, v in _on_disk(tmp_path).items() if k in OLD} == OLD
        outputs.commit()
    assert _on_disk(tmp_path) == {
        "m.report.json": b'{"new": true}',
        "m.report.png": b"new png",
        "m.tflite": b"new model",
    }


def test_new_folders_are_created_and_written(tmp_path: Path) -> None:
    with StagedOutputs() as outputs:
        outputs.write(tmp_path / "a" / "b" / "m.tflite", b"x")
        outputs.commit()
    assert (tmp_path / "a" / "b" / "m.tflite").read_bytes() == b"x"
    assert os.listdir(tmp_path / "a" / "b") == ["m.tflite"]


def test_the_picture_raising_leaves_existing_files_untouched(tmp_path: Path) -> None:
    _existing(tmp_path)
    with pytest.raises(RuntimeError, match="matplotlib broke"), StagedOutputs() as outputs:
        outputs.path_for(tmp_path / "m.report.png").write_bytes(b"half a pi")
        raise RuntimeError("matplotlib broke")
    assert _on_disk(tmp_path) == OLD


def test_a_failed_report_write_leaves_nothing_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC while the report is written (after the model and the picture)."""
    _existing(tmp_path)
    real_fsync = os.fsync
    calls = []

    def full_disk_at_the_report(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # model, then report: the report hits a full disk
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_disk_at_the_report)
    with (
        pytest.raises(ConversionError, match="No space left on device") as caught,
        StagedOutputs() as outputs,
    ):
        _stage_all(outputs, tmp_path)
    assert "m.report.json" in caught.value.message and "nothing was written" in caught.value.message
    assert caught.value.hint
    assert _on_disk(tmp_path) == OLD


def test_a_file_size_limit_while_writing_the_report_leaves_nothing_new(tmp_path: Path) -> None:
    """A real EFBIG: ``RLIMIT_FSIZE`` (what ``ulimit -f`` sets) in a child process, with
    a report bigger than the limit and a model smaller than it."""
    _existing(tmp_path)
    script = textwrap.dedent(f"""
        import resource, signal, sys
        from pathlib import Path
        from converter.outputs import StagedOutputs
        from edge.errors import ConversionError
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        folder = Path({str(tmp_path)!r})
        try:
            with StagedOutputs() as outputs:
                outputs.path_for(folder / "m.report.png").write_bytes(b"new png")
                outputs.write(folder / "m.tflite", b"new model")
                outputs.write(folder / "m.report.json", b"x" * 10000)
                outputs.commit()
        except ConversionError as err:
            print(err.message)
            sys.exit(1)
    """)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
    )
    assert done.returncode == 1, done.stderr
    assert "cannot write" in done.stdout and "File too large" in done.stdout
    assert _on_disk(tmp_path) == OLD


def test_a_rename_that_fails_puts_back_what_it_replaced(tmp_path: Path) -> None:
    """The report's target is a folder: the model, already renamed, is put back."""
    _existing(tmp_path)
    (tmp_path / "m.report.json").unlink()
    (tmp_path / "m.report.json").mkdir()
    (tmp_path / "m.report.json" / "keep").write_bytes(b"k")
    before = _on_disk(tmp_path)
    with (
        pytest.raises(ConversionError, match="cannot move the finished") as caught,
        StagedOutputs() as outputs,
    ):
        outputs.write(tmp_path / "m.tflite", b"new model")
        outputs.write(tmp_path / "m.report.json", b"{}")
        outputs.commit()
    assert "nothing was changed" in caught.value.message
    assert _on_disk(tmp_path) == before
    assert (tmp_path / "m.report.json" / "keep").read_bytes() == b"k"


def test_a_rename_that_fails_removes_a_model_that_did_not_exist_before(tmp_path: Path) -> None:
    (tmp_path / "m.report.json").mkdir()
    with pytest.raises(ConversionError), StagedOutputs() as outputs:
        outputs.write(tmp_path / "m.tflite", b"new model")
        outputs.write(tmp_path / "m.report.json", b"{}")
        outputs.commit()
    assert _on_disk(tmp_path) == {}


def test_a_killed_writer_leaves_only_temporaries_which_its_parent_removes(tmp_path: Path) -> None:
    """SIGKILL after everything was staged, before the renames; ``remove_partials`` (what
    ``convert_in_child`` does for a child that died) then leaves the old files alone."""
    paths = _existing(tmp_path)
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from converter.outputs import StagedOutputs
        folder = Path({str(tmp_path)!r})
        with StagedOutputs() as outputs:
            outputs.path_for(folder / "m.report.png").write_bytes(b"new png")
            outputs.write(folder / "m.tflite", b"new model")
            outputs.write(folder / "m.report.json", b"{{}}")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    child = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
    )
    assert child.returncode == -signal.SIGKILL
    left = _on_disk(tmp_path)
    assert {k: v for k, v in left.items() if k in OLD} == OLD
    assert len(left) == 6  # three temporaries beside the untouched targets
    pid = int(next(n for n in left if n.endswith(".partial.tflite")).split(".")[2])
    assert all(partial_path(p, pid).exists() for p in paths.values())
    remove_partials(paths.values(), pid)
    assert _on_disk(tmp_path) == OLD


def test_a_missing_staged_file_is_an_error_not_a_half_result(tmp_path: Path) -> None:
    _existing(tmp_path)
    with pytest.raises(ConversionError, match="was not produced"), StagedOutputs() as outputs:
        outputs.path_for(tmp_path / "m.report.png")  # the task drew nothing
        outputs.write(tmp_path / "m.tflite", b"new model")
        outputs.commit()
    assert _on_disk(tmp_path) == OLD


def test_a_kill_in_the_middle_of_commit_is_undone(tmp_path: Path) -> None:
    """Killed after the model was renamed into place and before the report: the model's
    previous version (its second name) comes back, so the targets are the old files."""
    from converter.outputs import _previous_path

    pid = 424242
    model, report = tmp_path / "m.tflite", tmp_path / "m.report.json"
    model.write_bytes(b"old model")
    report.write_text("old report")
    os.link(model, _previous_path(model, pid))  # commit kept the old model's name,
    partial_path(model, pid).write_bytes(b"new model")
    os.replace(partial_path(model, pid), model)  # renamed the new one into place,
    partial_path(report, pid).write_text("new report")  # and was killed here
    remove_partials([model, report], pid)
    assert model.read_bytes() == b"old model" and report.read_text() == "old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.report.json", "m.tflite"]


def test_a_planted_symlink_at_the_temporary_name_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    target = tmp_path / "m.tflite"
    with StagedOutputs() as staged:
        partial_path(target, os.getpid()).symlink_to(victim)
        staged.write(target, b"model bytes")
        staged.commit()
    assert victim.read_text() == "precious" and target.read_bytes() == b"model bytes"
