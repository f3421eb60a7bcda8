#!/usr/bin/env bash
# Set up the development environment in ./.venv and run the whole test suite.
# This is the README's test command and exactly what CI runs first (.ci/run).
#
#   bash scripts/test.sh [PYTEST ARGS]           the gate: every package at the exact version
#                                                pinned in requirements/dev.lock
#   bash scripts/test.sh --latest [PYTEST ARGS]  the same suite in ./.venv-latest against the
#                                                newest releases pip picks today (not the gate:
#                                                it finds drift on purpose; lock it with
#                                                bash scripts/lock.sh once it passes)
#
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` for the training check.
set -euo pipefail
cd "$(dirname "$0")/.."

latest=0
if [ "${1:-}" = "--latest" ]; then
    latest=1
    shift
fi
lock=requirements/dev.lock

# System tools the tests use as real peers: mosquitto (the MQTT broker and an independent
# subscriber), Xvfb and libXtst (a display, and key presses and mouse clicks for the
# preview and edge zones draw windows),
# systemd-analyze (verify and score the unit), debootstrap and systemd-nspawn (a Debian root
# booted with systemd as PID 1 runs the service), chromium (headless: the status page test
# of edge run --http). Installed from Debian when missing.
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v Xvfb >/dev/null 2>&1 || need+=(xvfb)
ldconfig -p 2>/dev/null | grep -q libXtst.so.6 || need+=(libxtst6)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
command -v systemd-nspawn >/dev/null 2>&1 || need+=(systemd-container)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1; then
        sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        echo "installing ${need[*]} (Debian packages the tests need)"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
            "${need[@]}" >/dev/null
    else
        echo "warning: ${need[*]} missing and no apt-get; tests that need them are skipped" >&2
    fi
fi

pinned() { sed -n "s/^$1==//p" "$lock"; }

if [ "$latest" -eq 1 ]; then
    venv=.venv-latest
    pins=()
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
    "$venv/bin/python" -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[dev]'
    echo "--latest: testing against the newest releases (differences from $lock):"
    "$venv/bin/python" scripts/lock_check.py "$lock" --report || true
else
    venv=.venv
    pins=(-c "$lock")
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    # The installer and the build backend come from the lock too, and the editable build
    # uses them (no build isolation, which would fetch the newest setuptools).
    "$venv/bin/python" -m pip install --quiet "pip==$(pinned pip)"
    "$venv/bin/python" -m pip install --quiet -c "$lock" setuptools wheel
    # The lock is a constraints file: it fixes the version of everything installed, and the
    # GUI OpenCV it also pins (below) is not installed into the venv itself.
    "$venv/bin/python" -m pip install --quiet --no-build-isolation -c "$lock" -e '.[dev]'
    # Anything installed that the lock does not pin exactly (a dependency added to
    # pyproject.toml without refreshing the lock, or a leftover) stops the gate here.
    "$venv/bin/python" scripts/lock_check.py "$lock"
fi

# A GUI build of OpenCV for the preview tests, in its own folder so the headless build
# stays the default (both wheels provide the cv2 module); the tests put it first on
# PYTHONPATH in a subprocess under Xvfb. Always the headless build's own release.
headless=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("opencv-python-headless"))')
gui="$PWD/$venv/opencv-gui"
if [ ! -d "$gui/opencv_python-$headless.dist-info" ]; then
    rm -rf "$gui"
    "$venv/bin/python" -m pip install --quiet --no-deps --target "$gui" "${pins[@]}" \
        "opencv-python==$headless" \
        || echo "warning: no opencv-python $headless wheel; the preview tests are skipped" >&2
fi
export EDGE_TEST_OPENCV_GUI="$gui"
exec "$venv/bin/python" -m pytest "$@"
