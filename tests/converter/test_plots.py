"""The report pictures are drawn without pyplot, so the library never picks a global
matplotlib backend for its caller (a notebook or GUI keeps its own)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    import matplotlib
    before = matplotlib.rcParams._get("backend")
    from converter.tasks.base import TaskEval
    from converter.tasks.registry import TASKS
    rng = np.random.default_rng(0)
    out = {"p": rng.uniform(0, 1, (6, 3)).astype(np.float32)}
    data = TaskEval(np.zeros((6, 4, 4, 1), np.float32), np.arange(6) % 3, "t")
    TASKS["classify"].plot(out, out, data, ["a", "b", "c"], Path(sys.argv[1]) / "c.png")
    raw = {"m": rng.normal(size=(6, 4, 4, 2)).astype(np.float32)}
    TASKS["raw"].plot(raw, raw, data, [], Path(sys.argv[1]) / "r.png")
    assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
    assert matplotlib.rcParams._get("backend") == before, "the backend was changed"
    print("ok")
    """
)


def test_plots_leave_the_backend_alone(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    assert (tmp_path / "c.png").stat().st_size > 1000
    assert (tmp_path / "r.png").stat().st_size > 1000
