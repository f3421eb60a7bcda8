#!/usr/bin/env bash
# The lint step: ruff and mypy --strict on the whole tree, with the tool versions pinned
# in requirements/dev.lock, from the .venv that scripts/test.sh builds from that lock.
# CI runs it after the tests (.ci/run); .pre-commit-config.yaml runs the same checks.
#
#   bash scripts/lint.sh
#
# Checks: ruff check, ruff format --check, mypy --strict on the packages (edge, converter,
# models), mypy --strict on the tests and scripts. Each runs even when an earlier one
# failed, and prints a verdict line with its time; the exit status is 1 if any failed,
# 2 if there is no .venv matching the lock (nothing is checked then).
set -uo pipefail # no -e: a failing check must not skip the ones after it
cd "$(dirname "$0")/.."

venv=.venv
lock=requirements/dev.lock

# Other versions of ruff or mypy (or of numpy, pydantic: their types) judge the code
# differently, so the checks run only in an environment that is exactly the lock.
if [ ! -x "$venv/bin/ruff" ] || [ ! -x "$venv/bin/mypy" ]; then
    echo "lint: no $venv with ruff and mypy. Build it from $lock as the tests do:" >&2
    echo "  bash scripts/test.sh --collect-only -q   (sets up $venv, runs no test)" >&2
    exit 2
fi
if ! "$venv/bin/python" scripts/lock_check.py "$lock" >&2; then
    echo "lint: $venv does not match $lock; bash scripts/test.sh --collect-only -q" \
        "brings it back to the lock" >&2
    exit 2
fi

now_ms() {
    if [ -n "${EPOCHREALTIME:-}" ]; then # bash 5
        local micros=${EPOCHREALTIME/[.,]/}
        echo $((10#$micros / 1000))
    else
        echo $((SECONDS * 1000))
    fi
}

checks=0
failed=()
# check NAME COMMAND...: run it, then one line: ok|FAIL, the name, the seconds it took.
check() {
    local name=$1 start status elapsed verdict
    shift
    echo "lint: $name"
    start=$(now_ms)
    "$@"
    status=$?
    elapsed=$(($(now_ms) - start))
    verdict=ok
    if [ "$status" -ne 0 ]; then
        verdict=FAIL
        failed+=("$name")
    fi
    checks=$((checks + 1))
    printf 'lint: %-4s  %-40s %d.%d s\n\n' "$verdict" "$name" \
        $((elapsed / 1000)) $((elapsed % 1000 / 100))
}

scripts=(scripts/*.py scripts/pi_check/*.py scripts/ha_check/*.py)
check "ruff check ." "$venv/bin/ruff" check .
check "ruff format --check ." "$venv/bin/ruff" format --check .
check "mypy --strict edge converter models" "$venv/bin/mypy" --strict edge converter models
check "mypy --strict tests scripts" "$venv/bin/mypy" --strict tests "${scripts[@]}"

if [ ${#failed[@]} -gt 0 ]; then
    list=$(printf '%s, ' "${failed[@]}")
    echo "lint: ${#failed[@]} of $checks checks failed: ${list%, }"
    case " ${failed[*]} " in
        *"ruff format"*) echo "lint: .venv/bin/ruff format . rewrites the layout ruff wants" ;;
    esac
    exit 1
fi
echo "lint: all $checks checks passed"
