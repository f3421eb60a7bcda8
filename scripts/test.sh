#!/usr/bin/env bash
# Set up the development environment in ./.venv and run the whole test suite.
# This is the README's test command and exactly what CI runs (.ci/run).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` for the training check.
set -euo pipefail
cd "$(dirname "$0")/.."

# System tools the tests use as real peers: mosquitto (the MQTT broker and an independent
# subscriber), Xvfb (a display for the preview window). Installed from Debian when missing.
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v Xvfb >/dev/null 2>&1 || need+=(xvfb)
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

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
exec .venv/bin/python -m pytest "$@"
