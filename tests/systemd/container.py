"""A Debian bookworm root booted under ``systemd-nspawn``, with systemd as its PID 1.

The harness of ``test_service_in_container.py``. What the unit promises (``Type=notify``
readiness, the watchdog, reload, restart, start at boot) is kept by systemd, not by
edge, so only a real systemd as PID 1 can check it; the machine the suite runs on has
none. The container shares the host's kernel and network; its ``/tmp`` is a fresh
tmpfs, so files for it go elsewhere in its root (``/root``).

Three layers, the first two cached under ``cache_dir()`` (``/var/cache/edge-infer-tests``,
or ``$EDGE_TEST_CONTAINER_CACHE``):

- ``roots/base-KEY``: ``debootstrap --variant=minbase`` output (about 1 minute). KEY
  hashes the debootstrap arguments, so a changed package list builds a new root.
- ``roots/venv-KEY``: the base plus ``/opt/edge``, the Pi guide's venv
  (``--system-site-packages``) holding the dependencies the wheel declares at the
  versions of ``requirements/pi.lock``, fetched from the package index (about 10 s).
  KEY hashes the base's key, the lock and the wheel's ``Requires-Dist`` lines.
- per run (``runs/run-TIME-PID``): an overlay mount on the venv layer, so the layer is
  never written and nothing is copied (a 700 MB copy took 3 s on an idle machine, 22 s
  beside another build). The guide's own install command puts the wheel built from this
  checkout into it; everything else is satisfied already, so that needs no network and
  runs with ``--private-network`` to keep it so. Unmounted and deleted after the run.

A layer is built into ``.building-NAME-PID`` beside its final place and renamed into it
(atomic on one filesystem): an interrupted build never leaves a half root that a later
run trusts, and the next build removes what it left. Nothing is ever deleted below a
mount point, nor while an nspawn process still runs on it.
"""

from __future__ import annotations

import configparser
import contextlib
import hashlib
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from tests.systemd.test_pi_install import DEV_LOCK, PI_LOCK, copy_of_the_tree

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "python3",
    "python3-venv",
    "python3-pip",
    "ca-certificates",
    "procps",
)
# Bump when what is done to a root after debootstrap changes, so cached roots are rebuilt.
LAYOUT = 1
VENV = "/opt/edge"
INSTALL_DIR = "/root/edge-install"  # not /tmp: a booted container mounts a new tmpfs there
TOOLS = ("debootstrap", "systemd-nspawn", "nsenter")
INSTALL_HINT = "apt-get install debootstrap systemd-container"
# Commands run in the container see this environment only, not the test's (no venv,
# no pytest temp folders, no pager).
CLEAN_ENV = (
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "LANG=C.UTF-8",
    "SYSTEMD_PAGER=",
    "SYSTEMD_COLORS=0",
)
# What pip in the root needs to reach the package index as the host does.
HOST_NETWORK_FILES = (
    Path("/etc/resolv.conf"),
    Path("/etc/ssl/certs/ca-certificates.crt"),
    Path("/etc/pip.conf"),
)


def say(text: str, out: TextIO | None = None) -> None:
    print(f"[container] {text}", file=out or sys.stdout, flush=True)


class Stages:
    """Named stages and their wall times, printed as each starts and ends (live with
    ``pytest -s``, in the captured output of a failed test otherwise), so a hang or a
    failure names its stage. Every blocking call inside a stage has its own timeout."""

    def __init__(self) -> None:
        self.times: list[tuple[str, float]] = []

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        say(f"{name} ...")
        started = time.monotonic()
        try:
            yield
        except subprocess.TimeoutExpired as exc:
            say(f"{name}: TIMED OUT after {time.monotonic() - started:.1f} s")
            raise AssertionError(f"stage {name!r} timed out: {exc}") from exc
        except BaseException:
            say(f"{name}: FAILED after {time.monotonic() - started:.1f} s")
            raise
        seconds = time.monotonic() - started
        self.times.append((name, seconds))
        say(f"{name}: {seconds:.1f} s")

    def summary(self) -> str:
        lines = [f"{seconds:7.1f} s  {name}" for name, seconds in self.times]
        total = sum(seconds for _, seconds in self.times)
        return "\n".join([*lines, f"{total:7.1f} s  total"])


# -- host side -----------------------------------------------------------------------------


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def run_host(
    command: Sequence[str], timeout: float, *, check: bool = True, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command in its own process group; past ``timeout`` the whole group is
    killed (debootstrap's dpkg, nsenter's child) and the call fails saying which."""
    with subprocess.Popen(
        list(command),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        start_new_session=True,
    ) as process:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate(timeout=30)
            raise AssertionError(
                f"`{shlex.join(command)}` did not end within {timeout:.0f} s; it wrote:\n"
                f"{tail(out + err)}"
            ) from None
        except BaseException:  # Ctrl-C, pytest-timeout: no child left behind, no wait
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            raise
    done = subprocess.CompletedProcess(list(command), process.returncode, out, err)
    if check and done.returncode != 0:
        raise AssertionError(
            f"`{shlex.join(command)}` exited with {done.returncode}:\n{tail(out + err)}"
        )
    return done


def missing_tools() -> list[str]:
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return [tool for tool in TOOLS if shutil.which(tool, path=path) is None]


def cache_dir() -> Path:
    return Path(os.environ.get("EDGE_TEST_CONTAINER_CACHE") or "/var/cache/edge-infer-tests")


def package_index() -> str:
    """The index pip in the root uses: ``index-url`` of the host's ``/etc/pip.conf``
    (copied into the root), else PyPI."""
    config = configparser.ConfigParser()
    with contextlib.suppress(OSError, configparser.Error):
        config.read("/etc/pip.conf")
    for section in ("install", "global"):
        for key in ("index-url", "index_url"):
            if config.has_option(section, key):
                return config.get(section, key).split()[0].rstrip("/") + "/"
    return "https://pypi.org/simple/"


def network_problem(timeout: float = 15) -> str | None:
    """Why the Debian mirror or the package index cannot be reached, or None."""
    probes = {
        "the Debian mirror": f"{MIRROR}/dists/{SUITE}/Release",
        "the package index": package_index() + "pip/",
    }
    for name, url in probes.items():
        # GET, not HEAD (an index may refuse HEAD); only the headers are read. Any HTTP
        # error counts: a proxy in the way answers 404 for hosts it will not reach.
        try:
            with urllib.request.urlopen(url, timeout=timeout):
                pass
        except urllib.error.HTTPError as exc:
            return f"{name} ({url}) is unreachable: HTTP {exc.code} {exc.reason}"
        except Exception as exc:  # no answer: DNS, refused, timeout, TLS
            return f"{name} ({url}) is unreachable: {exc}"
    return None


def under(path: Path, other: str) -> bool:
    return other == str(path) or other.startswith(f"{path}/")


def mount_points_under(path: Path) -> list[Path]:
    """Mount points at or below ``path`` (this mount namespace), deepest first."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    inside = [Path(p) for p in (line.split()[4] for line in lines) if under(path, p)]
    return sorted(inside, key=lambda p: len(p.parts), reverse=True)


def overlays_on(path: Path) -> list[str]:
    """Overlay mounts that have ``path`` as a layer (a run on a cached root)."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return [line for line in lines if " - overlay " in line and f"={path}," in line]


def processes_on(path: Path, program: str = "") -> list[int]:
    """Processes (of ``program``, if given) whose command line names ``path`` or a path
    below it: a container's nspawn (``-D ROOT``), a debootstrap building there."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = [os.fsdecode(arg) for arg in (entry / "cmdline").read_bytes().split(b"\0")]
        except OSError:
            continue
        wanted = not program or Path(argv[0]).name == program
        if wanted and any(under(path, arg) for arg in argv):
            found.append(int(entry.name))
    return found


def remove_tree(path: Path) -> None:
    """Delete a root: never while a container runs on it or a run's overlay uses it,
    never across a mount point (unmounted first: a run's overlay, or /proc and /sys
    that an interrupted debootstrap left mounted in its target)."""
    if not path.exists():
        return
    running = processes_on(path)
    if running:
        raise AssertionError(f"not removing {path}: processes {running} still use it")
    if overlays_on(path):
        raise AssertionError(f"not removing {path}: an overlay uses it: {overlays_on(path)}")
    for point in mount_points_under(path):
        run_host(["umount", "--lazy", str(point)], timeout=60)
    left = mount_points_under(path)
    if left:
        raise AssertionError(f"not removing {path}: still mounted: {left}")
    shutil.rmtree(path)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status_of(pid: int | str) -> dict[str, str]:
    """``/proc/PID/status`` as fields; empty when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def process_gone(pid: int) -> bool:
    """Exited (a zombie counts: it is not ours to reap)."""
    return status_of(pid).get("State", "Z").startswith("Z")


def container_init(nspawn: int, *, booted: bool = True) -> int | None:
    """The container's PID 1: the nspawn process's child that is PID 1 in its own PID
    namespace and (``booted``) has become systemd: before that, its mounts are not set up."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = status_of(entry.name)
        if (
            fields.get("PPid") == str(nspawn)
            and fields.get("NSpid", "").split()[-1:] == ["1"]
            and (fields.get("Name") in ("systemd", "init") or not booted)
        ):
            return int(entry.name)
    return None


def end_orphan(nspawn: int, timeout: float = 30) -> None:
    """End a container whose test process was killed outright (SIGKILL, no finally
    ran): SIGKILL to its PID 1 ends it, then its nspawn tears down and exits."""
    init = container_init(nspawn, booted=False)
    if init is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(init, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while not process_gone(nspawn):
        if time.monotonic() > deadline:
            raise AssertionError(f"systemd-nspawn {nspawn} did not exit after its PID 1 was killed")
        time.sleep(0.2)


def remove_abandoned(folder: Path, prefix: str) -> None:
    """Folders ``PREFIX-...-PID`` left by a run that was killed (its PID is gone), and
    a container still running on one (the run died without its ``finally``)."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        pid = entry.name.rsplit("-", 1)[-1]
        if not (entry.name.startswith(prefix) and pid.isdigit() and not pid_alive(int(pid))):
            continue
        for nspawn in processes_on(entry, "systemd-nspawn"):
            say(f"ending container {nspawn} on {entry}, left by a killed run")
            end_orphan(nspawn)
        still = processes_on(entry)  # a debootstrap that outlived its run: let it end
        if still:
            say(f"left {entry} alone: processes {still} still use it")
            continue
        say(f"removing {entry}, left by an interrupted run")
        remove_tree(entry)


def digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def layer(cache: Path, name: str, build: Callable[[Path], None]) -> Path:
    """The cached root ``cache/roots/NAME``, built by ``build(folder)`` when absent."""
    roots = cache / "roots"
    final = roots / name
    if final.is_dir():
        os.utime(final)  # last used: what the pruning below goes by
        say(f"cached: {final}")
        return final
    say(f"building {final}")
    roots.mkdir(parents=True, exist_ok=True)
    remove_abandoned(roots, ".building-")
    building = roots / f".building-{name}-{os.getpid()}"
    try:
        build(building)
        try:
            building.rename(final)  # all or nothing: a later run never sees a half root
        except OSError:
            if not final.is_dir():
                raise
            # A concurrent run finished the same layer first; keep theirs.
    finally:
        remove_tree(building)
    prune(roots, name.split("-", 1)[0] + "-", keep=final)
    return final


def prune(roots: Path, kind: str, keep: Path, unused_days: float = 3) -> None:
    """Layers of the same kind nobody used for days (an older package list or lock)."""
    for entry in roots.iterdir():
        old = time.time() - entry.stat().st_mtime > unused_days * 86400
        if entry.name.startswith(kind) and entry != keep and old:
            say(f"removing {entry}, unused for {unused_days} days")
            remove_tree(entry)


def debootstrap_command(target: Path) -> list[str]:
    return [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        SUITE,
        str(target),
        MIRROR,
    ]


def base_root(cache: Path, timeout: float = 900) -> Path:
    """The debootstrapped root; its key is the debootstrap arguments (without the target)."""
    arguments = debootstrap_command(Path("TARGET"))
    key = digest(arguments, platform.machine(), LAYOUT)

    def build(target: Path) -> None:
        run_host(debootstrap_command(target), timeout=timeout)
        for deb in (target / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink()  # 60 MB the cache does not need

    return layer(cache, f"base-{key}", build)


def build_wheel(scratch: Path, timeout: float = 300) -> Path:
    """The wheel of this checkout, built as ``test_pi_install`` builds it: from a copy of
    what a clone holds, with the build backend at the lock's versions."""
    clone = copy_of_the_tree(scratch / "edge-infer")
    run_host(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            ".",
            "--no-deps",
            "-w",
            str(scratch / "dist"),
            "-q",
            "--build-constraint",
            str(DEV_LOCK),
        ],
        timeout=timeout,
        cwd=clone,
    )
    wheels = list((scratch / "dist").glob("edge_infer-*-py3-none-any.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def requires_dist(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
    return sorted(
        line.split(":", 1)[1].strip()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    )


def nspawn_command(
    root: Path, command: Sequence[str], timeout: float, *, network: bool = True
) -> subprocess.CompletedProcess[str]:
    """One command in the root, not booted (``--pipe``: no PID 1 systemd, no tty)."""
    Path("/run/systemd/nspawn").mkdir(parents=True, exist_ok=True)
    options = ["-q", "--register=no", "--keep-unit", "-D", str(root), "--pipe"]
    if not network:
        options.insert(0, "--private-network")
    return run_host(["systemd-nspawn", *options, "--", *command], timeout=timeout)


def guide_install(wheel: str, lock: str) -> list[str]:
    """docs/raspberry-pi.md, step 4 (Bookworm), with the device lock as constraints."""
    return [f"{VENV}/bin/pip", "install", "-c", lock, "numpy<2", wheel]


def stage_install_files(root: Path, wheel: Path) -> tuple[str, str]:
    folder = root / INSTALL_DIR.lstrip("/")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(wheel, folder / wheel.name)
    shutil.copy2(PI_LOCK, folder / "pi.lock")
    return f"{INSTALL_DIR}/{wheel.name}", f"{INSTALL_DIR}/pi.lock"


def venv_root(cache: Path, base: Path, wheel: Path, timeout: float = 900) -> Path:
    """The base plus the guide's venv with the wheel's dependencies (not the wheel)."""
    key = digest(base.name, PI_LOCK.read_text(), requires_dist(wheel), guide_install("W", "L"))

    def build(target: Path) -> None:
        run_host(["cp", "-a", "--reflink=auto", str(base), str(target)], timeout=300)
        for path in HOST_NETWORK_FILES:
            if path.is_file():
                inside = target / path.relative_to("/")
                inside.unlink(missing_ok=True)  # may be a link, e.g. to systemd-resolved's
                shutil.copyfile(path, inside)
        wheel_in, lock_in = stage_install_files(target, wheel)
        script = " && ".join(
            [
                f"python3 -m venv --system-site-packages {VENV}",
                shlex.join([*guide_install(wheel_in, lock_in), "--no-cache-dir", "-q"]),
                f"{VENV}/bin/pip uninstall -q -y edge-infer",
            ]
        )
        nspawn_command(target, ["/bin/sh", "-c", script], timeout=timeout)
        shutil.rmtree(target / INSTALL_DIR.lstrip("/"))

    return layer(cache, f"venv-{key}", build)


@contextlib.contextmanager
def run_root(cache: Path, layer: Path) -> Iterator[Path]:
    """A root for one run: an overlay whose lower layer is the cached root (never
    written) and whose changes go to the run's own folder; unmounted and removed after."""
    runs = cache / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    remove_abandoned(runs, "run-")
    run = runs / f"run-{int(time.time())}-{os.getpid()}"
    for part in ("upper", "work", "root"):
        (run / part).mkdir(parents=True)
    try:
        options = f"lowerdir={layer},upperdir={run / 'upper'},workdir={run / 'work'}"
        run_host(["mount", "-t", "overlay", "overlay", "-o", options, str(run / "root")], 60)
        yield run / "root"
    finally:
        remove_tree(run)


def install_wheel(root: Path, wheel: Path, timeout: float = 300) -> str:
    """The guide's install of the wheel into the root's venv, offline."""
    wheel_in, lock_in = stage_install_files(root, wheel)
    done = nspawn_command(root, guide_install(wheel_in, lock_in), timeout, network=False)
    return done.stdout + done.stderr


# -- the booted container ---------------------------------------------------------------------


class Container:
    """``systemd-nspawn --boot`` on a root, as a child of this process.

    ``--register=no --keep-unit``: there is no machined and no system bus on the host.
    ``--console=pipe``: the container's console goes to a file (``console``).
    Commands run in it through ``nsenter`` into every namespace of its PID 1.
    """

    def __init__(self, root: Path, console: Path) -> None:
        self.root = root
        self.console = console
        self.process: subprocess.Popen[bytes] | None = None
        self.init_pid = 0

    def console_text(self) -> str:
        return self.console.read_text(errors="replace") if self.console.exists() else ""

    def boot(self, timeout: float) -> None:
        Path("/run/systemd/nspawn").mkdir(parents=True, exist_ok=True)
        with self.console.open("ab") as console:
            self.process = subprocess.Popen(
                [
                    "systemd-nspawn",
                    "-q",
                    "--register=no",
                    "--keep-unit",
                    "-D",
                    str(self.root),
                    "--boot",
                    "--console=pipe",
                ],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not self.init_pid:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"systemd-nspawn exited ({self.process.returncode}) before its PID 1 "
                    f"started:\n{tail(self.console_text())}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no systemd under systemd-nspawn after {timeout:.0f} s:\n"
                    f"{tail(self.console_text())}"
                )
            self.init_pid = container_init(self.process.pid) or 0
            time.sleep(0.1)

    def run(
        self, command: Sequence[str], *, timeout: float = 60, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = run_host(
            ["nsenter", "-t", str(self.init_pid), "-a", "env", "-i", *CLEAN_ENV, *command],
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"`{shlex.join(command)}` in the container exited with {done.returncode}:\n"
                f"{done.stdout}{done.stderr}"
            )
        return done

    def wait_until_running(self, timeout: float) -> str:
        """Until ``systemctl is-system-running`` says running or degraded (boot done)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the container ended ({self.process.returncode}) while booting:\n"
                    f"{tail(self.console_text())}"
                )
            done = self.run(["systemctl", "is-system-running"], timeout=30, check=False)
            state = done.stdout.strip() or f"not answering ({done.stderr.strip()})"
            if state in ("running", "degraded"):
                if state == "degraded":
                    failed = self.run(["systemctl", "--failed", "--no-legend"], check=False)
                    say(f"booted degraded; failed units:\n{failed.stdout}")
                return state
            if time.monotonic() > deadline:
                jobs = self.run(["systemctl", "list-jobs", "--no-legend"], check=False)
                raise AssertionError(
                    f"the container's systemd is still {state!r} after {timeout:.0f} s "
                    f"(want running or degraded); jobs:\n{jobs.stdout}{jobs.stderr}\n"
                    f"console:\n{tail(self.console_text())}"
                )
            time.sleep(0.25)

    def end(self, verb: str, timeout: float) -> int:
        """``systemctl poweroff`` or ``reboot`` inside; the nspawn process's exit code
        (0 after poweroff, 133 after reboot: nspawn does not boot it again itself)."""
        assert self.process is not None
        # Not checked: systemctl may lose the container under it as it goes down.
        said = self.run(["systemctl", verb], timeout=30, check=False)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the container did not end within {timeout:.0f} s of `systemctl {verb}` "
                f"({said.returncode}: {said.stdout}{said.stderr}):\n{tail(self.console_text())}"
            ) from None
        self.init_pid = 0
        return code

    def kill(self) -> None:
        """End the container now: SIGKILL to its PID 1 ends its whole PID namespace
        (services, nsenter children); nspawn then tears down its mounts and exits."""
        if self.process is None or self.process.poll() is not None:
            return
        init = container_init(self.process.pid, booted=False)
        if init is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(init, signal.SIGKILL)
        else:  # no PID 1 yet: nspawn ends what it started on SIGTERM
            self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        say(f"killed the container on {self.root}")


@contextlib.contextmanager
def booted(root: Path, console: Path, timeout: float = 120) -> Iterator[Container]:
    """A container booted on ``root`` until it runs; killed on the way out if it still
    runs then (a failed test leaves no container, no nspawn and no mount behind)."""
    container = Container(root, console)
    try:
        container.boot(timeout)
        container.wait_until_running(timeout)
        yield container
    finally:
        container.kill()
