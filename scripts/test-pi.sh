#!/usr/bin/env bash
# The Raspberry Pi path, proved on arm64 under emulation (Pi OS Bookworm = Debian bookworm:
# Python 3.11.2, apt numpy 1.24.2):
#
#   sudo bash scripts/test-pi.sh
#
# 1. runs the Pi guide's own commands (the code blocks of docs/raspberry-pi.md marked
#    <!-- pi-check -->; scripts/pi_check/guide.py extracts them and prints every line it
#    has to substitute) in a Debian bookworm arm64 root: the venv /opt/edge, the wheel built
#    from this checkout, the pi.lock install with numpy<2 and the mqtt extra, the import
#    check, `edge run --max-frames 50`, `edge service install` into a staging root; then
#    checks that the venv is exactly pi.lock without TensorFlow, imports the installed
#    wheel, and that systemd-analyze verify passes the installed unit without a warning;
# 2. runs every shipped model on the same MJPG clips on x86 and in the arm64 root and
#    compares the records (scripts/pi_check/compare.py records);
# 3. re-measures every shipped model's held-out figure in the arm64 root with `edge eval`
#    (device install only, no TensorFlow) against the README's table;
# 4. runs the picamera2 fake tests with pytest in the device venv (numpy 1.26, OpenCV 4.11).
#
# Needs: root, binfmt_misc (mounted here if it is not), the Debian mirror and the package
# index. When either does not answer, it prints one line and exits 0 (the check did not
# run); any failure after that check fails the script. Debian bookworm's qemu 7.2 crashes
# in LiteRT 2.3, so qemu-user 10.0 comes from Debian trixie through a private apt source
# list (the host's /etc/apt is not touched; checked after the run) and is registered in
# binfmt_misc with the F flag, replacing any qemu-aarch64 registration there.
# The root is cached in $EDGE_PI_CACHE (default /var/cache/edge-infer-pi) keyed by the
# debootstrap arguments; every run works in a throw-away overlay on top of it, so the
# guide's venv and install are made from the current checkout each time. Everything runs
# in a private mount namespace, and an exit trap unmounts what it mounted. What this
# script and scripts/test-ha.sh do alike (the cached debootstrap root, the overlay, the
# stages under `timeout`, the namespace, the lock and the exit trap's unmounting) is in
# scripts/lib/debian-root.sh, which it sources from its own folder; the qemu and
# binfmt_misc setup, the stages after the root and the apt sources check are here.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$REPO/scripts/test-pi.sh"
# shellcheck source-path=SCRIPTDIR source=lib/debian-root.sh
. "$REPO/scripts/lib/debian-root.sh"
CHECK_NAME=test-pi
CACHE=${EDGE_PI_CACHE:-/var/cache/edge-infer-pi}
HOST_PY="$REPO/.venv/bin/python"
MIRROR=http://deb.debian.org/debian
SUITE=bookworm
# What Pi OS Lite has or the guide's apt lines install: python3, python3-venv, git, numpy
# (for picamera2), sudo (the guide's commands use it), procps (/bin/kill, the unit's
# ExecReload) and systemd (systemd-sysusers and systemctl for `edge service install
# --root`, systemd-analyze for the unit).
PACKAGES=python3,python3-venv,python3-numpy,git,sudo,ca-certificates,procps,systemd
DEBOOTSTRAP_OPTS=(--arch=arm64 --variant=minbase "--include=$PACKAGES")
ROOT_SETUP_VERSION=1 # bump when root_setup below changes: part of the cache key
ROOT_MARKER=.edge-pi-root # in a complete cached root (scripts/lib/debian-root.sh)
ROOT_MINUTES="3 to 6"     # debootstrap's time, for its message
IN_ROOT_ENV=()            # in_root's environment is the lib's alone
# Time budgets in seconds: each stage runs under `timeout`, the whole run too. Measured
# cold on 2 shared cores (2026-12-07): qemu 5 s, root 3 min (debootstrap; 0 s cached),
# guide 2-3 min, models 0.5-1 min, eval 1-2 min, pytest 1.5-2 min; 9 min in all cold,
# 5.5-7.5 min warm (depending on the load).
BUDGET_QEMU=300
BUDGET_ROOT=900
BUDGET_GUIDE=600
BUDGET_MODELS=420
BUDGET_EVAL=420
BUDGET_PYTEST=600
BUDGET_TOTAL=1800
BINFMT=/proc/sys/fs/binfmt_misc
QEMU="$CACHE/qemu/qemu-aarch64"
AARCH64_MAGIC='\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'
AARCH64_MASK='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'

BASE="$CACHE/root-$SUITE-arm64-$(root_key)"

# ---------------------------------------------------------------------------------------
# Stages: each runs as `bash test-pi.sh --stage NAME` under `timeout`, in the mount
# namespace of the main run; state comes through the environment (RUN, ROOT). The stage
# root (stage_root) is the lib's.

stage_qemu() {
    if [ -x "$QEMU" ] && "$QEMU" --version | grep -q 'version 10\.'; then
        say "qemu: cached $QEMU"
    else
        # Debian trixie's qemu-user, fetched through a private source list, lists and
        # cache: the host's apt configuration and state are not used or changed.
        local d="$RUN/apt-trixie"
        mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/deb"
        echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR trixie main" \
            >"$d/sources.list"
        local opts=(-o "Dir::Etc::sourcelist=$d/sources.list" -o Dir::Etc::sourceparts=-
            -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache" -o APT::Sandbox::User=root)
        say "qemu: apt-get update (private list: $MIRROR trixie main) and download qemu-user"
        apt-get -q "${opts[@]}" update >"$d/update.log" 2>&1 ||
            { tail -n 20 "$d/update.log"; die "apt-get update of the private trixie list"; }
        (cd "$d/deb" && apt-get -q "${opts[@]}" download qemu-user) >"$d/download.log" 2>&1 ||
            { tail -n 20 "$d/download.log"; die "apt-get download qemu-user"; }
        dpkg-deb -x "$d"/deb/qemu-user_*.deb "$d/x"
        mkdir -p "$(dirname "$QEMU")"
        install -m 755 "$d/x/usr/bin/qemu-aarch64" "$QEMU.new"
        mv -f "$QEMU.new" "$QEMU"
        say "qemu: $(basename "$d"/deb/qemu-user_*.deb) -> $QEMU"
        rm -rf "$d"
    fi
    ldd "$QEMU" 2>&1 | grep -qE 'statically linked|not a dynamic executable' ||
        die "$QEMU is not a static binary (it must work inside the chroot)"
    say "qemu: $("$QEMU" --version | head -n 1)"

    if [ ! -e "$BINFMT/register" ]; then
        mount -t binfmt_misc binfmt_misc "$BINFMT"
        touch "$RUN/binfmt-mounted"
        say "binfmt_misc: mounted at $BINFMT in this run's private mount namespace (the" \
            "kernel drops the registration below when the run unmounts it)"
    else
        say "binfmt_misc: already mounted; the registration below stays after the run"
    fi
    if [ -e "$BINFMT/qemu-aarch64" ]; then
        local old flags
        old=$(sed -n 's/^interpreter //p' "$BINFMT/qemu-aarch64")
        flags=$(sed -n 's/^flags: //p' "$BINFMT/qemu-aarch64")
        if [ "$old" = "$QEMU" ]; then
            say "binfmt_misc: re-registering qemu-aarch64 (it was this script's, flags $flags)"
        else
            say "binfmt_misc: replacing the existing qemu-aarch64 registration" \
                "(interpreter $old, flags $flags) with $QEMU"
        fi
        echo -1 >"$BINFMT/qemu-aarch64"
    fi
    printf '%s' ":qemu-aarch64:M:0:$AARCH64_MAGIC:$AARCH64_MASK:$QEMU:F" >"$BINFMT/register"
    grep -q '^flags: .*F' "$BINFMT/qemu-aarch64" || die "binfmt_misc registration without F"
    say "binfmt_misc: qemu-aarch64 -> $QEMU, flags $(sed -n 's/^flags: //p' "$BINFMT/qemu-aarch64")"
    local entry
    for entry in "$BINFMT"/*; do
        case "$(basename "$entry")" in register | status | qemu-aarch64) continue ;; esac
        if grep -q '^magic 7f454c460201010000000000000000000200b700' "$entry" 2>/dev/null; then
            say "binfmt_misc: note: $(basename "$entry") also matches aarch64 ELF files" \
                "(registered earlier, so qemu-aarch64 takes precedence)"
        fi
    done
}

root_setup() { # $1: the fresh root (cached with it; stage_root adds the marker)
    # The guide's `apt install` lines run non-interactively without editing them.
    echo 'APT::Get::Assume-Yes "true";' >"$1/etc/apt/apt.conf.d/90edge-pi-check"
}

stage_guide() {
    in_root python3 -c 'import platform, numpy; print("root:", platform.machine(), "Debian",
open("/etc/debian_version").read().strip(), "Python", platform.python_version(),
"apt numpy", numpy.__version__)'
    # The clone: what `git clone` of this checkout would give, with uncommitted changes.
    local src="$ROOT/root/edge-infer.src"
    mkdir -p "$src" "$ROOT/root/pi-check"
    (cd "$REPO" && git ls-files -z -co --exclude-standard) |
        while IFS= read -r -d '' f; do [ -e "$REPO/$f" ] && printf '%s\0' "$f"; done |
        tar -C "$REPO" --null -T - -cf - | tar -C "$src" -xf -
    say "guide: copied the checkout ($(find "$src" -type f | wc -l) files) to /root/edge-infer.src"
    "$HOST_PY" "$REPO/scripts/pi_check/guide.py" "$REPO/docs/raspberry-pi.md" \
        --out "$ROOT/root/pi-check/guide.sh"
    say "guide: running the marked commands of docs/raspberry-pi.md in the arm64 root"
    in_root bash /root/pi-check/guide.sh ||
        die "a command of the guide failed (full output: the guide log above)"

    say "guide: checks after the guide's commands"
    in_root /bin/sh -c 'cd / && /opt/edge/bin/python -c "
import cv2, numpy, edge, ai_edge_litert, pydantic
assert edge.__file__.startswith(\"/opt/edge/lib/\"), edge.__file__
print(\"  import from /: edge\", edge.__file__, \"numpy\", numpy.__version__, \"opencv\", cv2.__version__)
"'
    in_root /opt/edge/bin/pip check | sed 's/^/  pip check: /'
    in_root /opt/edge/bin/pip list --format=json >"$RUN/pip-list.json" 2>/dev/null
    "$HOST_PY" "$REPO/scripts/pi_check/compare.py" lock "$RUN/pip-list.json" \
        "$REPO/requirements/pi.lock" | sed 's/^/  /'
    local records
    records=$(in_root /bin/sh -c 'wc -l </root/edge-infer/detections.jsonl')
    [ "$records" -eq 50 ] || die "edge run --max-frames 50 wrote $records records, not 50"
    say "  edge run --max-frames 50 (synthetic camera): 50 records in ./detections.jsonl"
    local unit=/root/staging/etc/systemd/system/edge.service verify
    in_root grep -q '^ExecStart=/opt/edge/bin/edge run ' "$unit" ||
        die "the installed unit does not run /opt/edge/bin/edge: $(grep ExecStart "$ROOT$unit")"
    verify=$(in_root systemd-analyze verify --man=no "$unit" 2>&1) ||
        { say "$verify"; die "systemd-analyze verify $unit"; }
    [ -z "$verify" ] || { say "$verify"; die "systemd-analyze verify $unit printed warnings"; }
    say "  systemd-analyze verify (systemd $(in_root systemd-analyze --version | sed -n 's/^systemd \([0-9]*\).*/\1/p')) of the installed $unit: no warning"
}

stage_models() {
    local out="$ROOT/root/pi-check" zoo m stem clip rc
    "$HOST_PY" "$REPO/scripts/pi_check/clip.py" "$out/clips" | sed 's/^/models: clip /'
    mkdir -p "$RUN/x86" "$out/arm64"
    zoo=$(in_root /opt/edge/bin/python -c 'from edge.model.zoo import zoo_dir; print(zoo_dir())')
    say "models: x86 uses models/zoo of the checkout, arm64 the wheel's $zoo"
    for m in "$REPO"/models/zoo/*.int8.tflite; do
        stem=$(basename "$m" .int8.tflite)
        clip=digits.avi
        case "$stem" in *detector*) clip=scene.avi ;; esac
        rc=0
        (cd "$RUN/x86" && XDG_CACHE_HOME="$RUN/xdg" "$REPO/.venv/bin/edge" run --model "$m" \
            --source "$out/clips/$clip" --sink "jsonl:$RUN/x86/$stem.jsonl" --device pi-check) \
            >"$RUN/x86/$stem.log" 2>&1 || rc=$?
        if [ "$rc" -eq 78 ] && grep -q 'is a generator' "$RUN/x86/$stem.log"; then
            rm -f "$RUN/x86/$stem.jsonl"
            rc=0
            in_root /bin/sh -c "cd /root/pi-check/arm64 && /opt/edge/bin/edge run \
                --model $zoo/$stem.int8.tflite --source /root/pi-check/clips/$clip \
                --sink jsonl:/root/pi-check/arm64/$stem.jsonl" >"$out/arm64/$stem.log" 2>&1 ||
                rc=$?
            [ "$rc" -eq 78 ] && grep -q 'is a generator' "$out/arm64/$stem.log" ||
                die "$stem: refused on x86 but not on arm64 (exit $rc)"
            say "$stem: edge run refuses it on x86 and arm64 alike (exit 78: it is a generator," \
                "it takes latent vectors, not frames) — not a camera model, not compared"
            continue
        fi
        [ "$rc" -eq 0 ] || { cat "$RUN/x86/$stem.log"; die "$stem: edge run on x86 (exit $rc)"; }
        in_root /bin/sh -c "cd /root/pi-check/arm64 && /opt/edge/bin/edge run \
            --model $zoo/$stem.int8.tflite --source /root/pi-check/clips/$clip \
            --sink jsonl:/root/pi-check/arm64/$stem.jsonl --device pi-check" \
            >"$out/arm64/$stem.log" 2>&1 ||
            { cat "$out/arm64/$stem.log"; die "$stem: edge run in the arm64 root"; }
        say "models: $stem on $clip: arm64 $(grep -o 'done: .*' "$out/arm64/$stem.log" | cut -d, -f1-2)"
    done
    # The detector with its second stage ([refine]): crops cut from the frame and named
    # by the classifier, on both sides; the records are compared like the others.
    printf '[refine]\npath = "%s"\n' "$REPO/models/zoo/digits-crops.int8.tflite" >"$RUN/x86/refine.toml"
    printf '[refine]\npath = "%s"\n' "$zoo/digits-crops.int8.tflite" >"$out/arm64/refine.toml"
    stem=digits-detector-refine
    (cd "$RUN/x86" && XDG_CACHE_HOME="$RUN/xdg" "$REPO/.venv/bin/edge" run --config refine.toml \
        --model "$REPO/models/zoo/digits-detector.int8.tflite" --source "$out/clips/scene.avi" \
        --sink "jsonl:$RUN/x86/$stem.jsonl" --device pi-check) >"$RUN/x86/$stem.log" 2>&1 ||
        { cat "$RUN/x86/$stem.log"; die "$stem: edge run on x86"; }
    in_root /bin/sh -c "cd /root/pi-check/arm64 && /opt/edge/bin/edge run --config refine.toml \
        --model $zoo/digits-detector.int8.tflite --source /root/pi-check/clips/scene.avi \
        --sink jsonl:/root/pi-check/arm64/$stem.jsonl --device pi-check" \
        >"$out/arm64/$stem.log" 2>&1 ||
        { cat "$out/arm64/$stem.log"; die "$stem: edge run in the arm64 root"; }
    say "models: $stem on scene.avi: arm64 $(grep -o 'done: .*' "$out/arm64/$stem.log" | cut -d, -f1-2)"
    "$HOST_PY" "$REPO/scripts/pi_check/compare.py" records "$RUN/x86" "$out/arm64" --frames 300
}

stage_eval() {
    in_root /opt/edge/bin/edge eval --help >/dev/null 2>&1 ||
        die "the installed edge has no \`edge eval\` command"
    in_root /opt/edge/bin/python -c 'import importlib.util as u; assert u.find_spec("tensorflow") is None' ||
        die "TensorFlow is importable in the device venv"
    local out="$ROOT/root/pi-check/eval" m stem data
    mkdir -p "$out"
    for m in "$REPO"/models/zoo/*.int8.tflite; do
        stem=$(basename "$m" .int8.tflite)
        data=$(printf '%s\n' $EVAL_DATA | sed -n "s/^$stem=//p")
        [ -n "$data" ] || die "no held-out data for $stem: add it to EVAL_DATA in $SELF"
        # The device's files: the wheel's model, the clone's data (the wheel ships only
        # digits-holdout.npz).
        in_root /bin/sh -c "cd /root/edge-infer && /opt/edge/bin/edge eval --json \
            \$(/opt/edge/bin/python -c 'from edge.model.zoo import zoo_dir; print(zoo_dir())')/$stem.int8.tflite \
            models/zoo/$data" >"$out/$stem.json" 2>"$out/$stem.log" ||
            { cat "$out/$stem.log"; die "edge eval $stem in the arm64 root"; }
        say "eval: $stem on $data: $(grep -o '[0-9]* samples in .*' "$out/$stem.log" | head -n 1)"
    done
    "$HOST_PY" "$REPO/scripts/pi_check/compare.py" figures "$out"
}

stage_pytest() {
    say "pytest: installing the test tools into /opt/edge, pinned by requirements/dev.lock"
    in_root /bin/sh -c 'cd /root/edge-infer && /opt/edge/bin/pip install -q -c requirements/dev.lock \
        pytest pytest-timeout hypothesis jsonschema' 2>&1 | tail -n 5
    in_root /opt/edge/bin/pip list --format=json >"$RUN/pip-list-tests.json" 2>/dev/null
    "$HOST_PY" "$REPO/scripts/pi_check/compare.py" lock "$RUN/pip-list-tests.json" \
        "$REPO/requirements/pi.lock" | sed 's/^/pytest: with the test tools: /'
    # The installed wheel, not the clone's sources: the pytest script (not python -m, which
    # puts the current folder first) and --import-mode=append (the clone goes last on
    # sys.path, for `tests` only); pytest_where prints what was imported.
    cp "$REPO/scripts/pi_check/pytest_where.py" "$ROOT/root/pi-check/"
    local rc=0
    in_root /bin/sh -c "cd /root/edge-infer && PYTHONPATH=/root/pi-check /opt/edge/bin/pytest \
        -p pytest_where -p no:cacheprovider --import-mode=append $PYTEST_FILES" \
        >"$RUN/pytest.log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        tail -n 80 "$RUN/pytest.log"
        die "pytest in the arm64 root (exit $rc)"
    fi
    grep '^pi-check: ' "$RUN/pytest.log" | sed 's/^pi-check: /pytest: /'
    grep -q '^pi-check: edge from /opt/edge/lib/' "$RUN/pytest.log" ||
        die "the tests did not import the installed edge"
    grep -E '^(PASSED|FAILED|SKIPPED|ERROR|XFAIL)' "$RUN/pytest.log" | sed 's/^/pytest: /' || true
    say "pytest (arm64, numpy 1.26.4, OpenCV 4.11): $(tail -n 1 "$RUN/pytest.log" | tr -d '=' | sed 's/^ *//')"
}

# The tests that exercise the picamera2 source through tests/fakes/picamera2 (among them
# one that runs tests/hardware against the fake).
PYTEST_FILES="tests/edge/sources/test_picamera2_source.py"
# Model stem = its held-out data in models/zoo/ (edge eval --help lists them).
EVAL_DATA="digits-cnn=digits-holdout.npz digits-vit=digits-holdout.npz
digits-detector=digits-detector-eval.npz digits-anomaly=digits-anomaly-eval.npz
digits-dcgan-generator=digits-dcgan-eval.npz digits-crops=digits-crops-eval.npz"

# ---------------------------------------------------------------------------------------
# The main run, inside a private mount namespace.

cleanup() {
    local rc=$?
    trap - EXIT TERM INT
    cleanup_processes
    # Unmount everything under the cache (deepest first) and binfmt_misc if mounted here.
    cleanup_mounts
    if [ -n "${RUN:-}" ] && [ -e "$RUN/binfmt-mounted" ]; then
        umount "$BINFMT" || true
        UNMOUNTED=$((UNMOUNTED + 1))
    fi
    end_cleanup "$rc" "$UNMOUNTED"
}

inner() {
    begin_inner
    run_stage qemu "$BUDGET_QEMU"
    run_stage root "$BUDGET_ROOT"
    mount_root
    run_stage guide "$BUDGET_GUIDE"
    run_stage models "$BUDGET_MODELS"
    run_stage eval "$BUDGET_EVAL"
    run_stage pytest "$BUDGET_PYTEST"
    end_inner
}

apt_sources_digest() {
    # shellcheck disable=SC2012
    {
        ls -la --time-style=+%s /etc/apt/sources.list* 2>/dev/null || true
        cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null || true
    } | sha256sum | cut -c1-16
}

main() {
    stage_or_inner "$@"
    if [ -n "${1:-}" ]; then
        echo "usage: bash scripts/test-pi.sh   (as root; see the comment at the top)" >&2
        exit 2
    fi

    [ "$(id -u)" -eq 0 ] || die "needs root (chroot, mounts, binfmt_misc)"
    [ -x "$HOST_PY" ] || die "no $HOST_PY: run bash scripts/test.sh first (it makes .venv)"
    network_check pip "the Pi check"
    before=$(apt_sources_digest)
    run_inner
    after=$(apt_sources_digest)
    if [ "$before" != "$after" ]; then
        say "test-pi: FAILED: /etc/apt/sources.list* changed during the run"
        rc=1
    else
        say "host: /etc/apt/sources.list* unchanged"
    fi
    end_main
}

# Everything above is definitions: bash has read the whole file, and at the top all of
# scripts/lib/debian-root.sh, before main runs, so editing either during a run cannot
# change the process that is running (the inner run and each stage read both anew).
main "$@"
exit "$?"
