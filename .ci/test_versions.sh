#!/usr/bin/env bash
# `make test-versions`: the core suite on the versions pyproject.toml claims.
#   oldest: the oldest Python of requires-python, every dependency at its floor's release
#           (`name>=X.Y` in pyproject.toml -> `name==X.Y.*`, the floor's latest patch);
#   newest: the newest Python 3 on this machine, every dependency at its newest release.
# Interpreters come from PATH (pythonX.Y) or pyenv ($PYENV_ROOT/versions/X.Y*); one that
# is not found is named and fails the target. Venvs live in .venv-versions/ (git-ignored)
# and are reused while pyproject.toml is unchanged. Without the oracle (torch) and gpu
# extras: the tests that need them skip, and pytest lists them as skipped.
# Usage: .ci/test_versions.sh [oldest|newest]...   (default: both)
#        .ci/test_versions.sh constraints          (print the floors `oldest` pins)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
ROOT=$REPO/.venv-versions
CORE_TESTS=(tests/ops tests/test_model.py tests/test_gradcheck.py tests/test_model_gradcheck.py
            tests/test_metrics.py tests/assignment tests/test_api.py
            "tests/test_notebooks.py::test_notebook_runs_headless[04_gradient_checking]")
EXTRAS="test,notebooks"

# requires-python = ">=3.10" -> 3.10
OLDEST_MINOR=$(sed -n 's/^requires-python = ">=\([0-9]*\.[0-9]*\)".*/\1/p' pyproject.toml)
[ -n "$OLDEST_MINOR" ] || { echo "test-versions: cannot read requires-python" >&2; exit 1; }
PYENV_VERSIONS="${PYENV_ROOT:-$HOME/.pyenv}/versions"

version_of() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }

find_python() {  # find_python 3.10 -> path of a working python3.10, or nothing
    local minor=$1 candidate
    for candidate in "$(command -v "python$minor" || true)" "$PYENV_VERSIONS"/"$minor".*/bin/"python$minor"; do
        if [ -x "$candidate" ] && [ "$(version_of "$candidate")" = "$minor" ]; then
            echo "$candidate"; return
        fi
    done
}

newest_python() {  # the highest python3.N found on PATH or under pyenv
    local n
    for n in $(seq 30 -1 "${OLDEST_MINOR#3.}"); do
        if [ -n "$(find_python "3.$n")" ]; then echo "3.$n"; return; fi
    done
}

# `name>=floor` of the dependencies and the extras we install -> `name==floor.*`
floors() {
    python3 - "$EXTRAS" <<'EOF'
import re, sys
text = open("pyproject.toml").read()
extras = sys.argv[1].split(",")
block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M).group(1)
specs = re.findall(r'"([^"]+)"', block)
for extra in extras:
    specs += re.findall(r'"([^"]+)"', re.search(rf"^{extra} = \[(.*?)\]", text, re.M).group(1))
for spec in specs:
    match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", spec)
    if match:
        print(f"{match.group(1)}=={match.group(2)}.*")
EOF
}

quiet_pip() {  # pip, without this machine's notes about absent local index folders
    "$@" 2>&1 | { grep -v "^WARNING: Location 'file:" || true; }
}

run_one() {  # run_one NAME PYTHON_MINOR (oldest|newest)
    local name=$1 minor=$2 python venv
    python=$(find_python "$minor")
    if [ -z "$python" ]; then
        echo "test-versions: $name: Python $minor not found (looked for python$minor on PATH" \
             "and in $PYENV_VERSIONS/$minor.*): NOT TESTED" >&2
        return 1
    fi
    venv=$ROOT/$name-py$minor
    if [ ! -f "$venv/.stamp" ] || [ pyproject.toml -nt "$venv/.stamp" ]; then
        # (set -e does not apply in a function called with ||: every step checks itself)
        rm -rf "$venv"
        "$python" -m venv "$venv" || return 1
        quiet_pip "$venv/bin/python" -m pip install --quiet --upgrade pip || return 1
        if [ "$name" = oldest ]; then
            floors > "$venv/constraints.txt" || return 1
            quiet_pip "$venv/bin/python" -m pip install --quiet -c "$venv/constraints.txt" \
                -e ".[$EXTRAS]" || return 1
        else
            quiet_pip "$venv/bin/python" -m pip install --quiet --upgrade --upgrade-strategy eager \
                -e ".[$EXTRAS]" || return 1
        fi
        touch "$venv/.stamp"
    fi
    echo "== test-versions: $name: $("$venv/bin/python" --version) from $python"
    "$venv/bin/python" -m pip list --format=freeze 2>/dev/null \
        | grep -iE '^(numpy|scipy|matplotlib|pillow|tifffile|tqdm|scikit-image|pytest|jupytext|nbclient)==' \
        | tr '\n' ' '; echo
    "$venv/bin/python" -m pytest -q --tb=short -p no:cacheprovider "${CORE_TESTS[@]}"
}

if [ "${1:-}" = constraints ]; then floors; exit; fi  # what `oldest` pins, for a look
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(oldest newest)
failed=()
for target in "${targets[@]}"; do
    case $target in
        oldest) minor=$OLDEST_MINOR ;;
        newest) minor=$(newest_python)
                [ -n "$minor" ] || { echo "test-versions: no python3.N found" >&2; failed+=(newest); continue; } ;;
        *) echo "test-versions: expected oldest or newest, got $target" >&2; exit 2 ;;
    esac
    run_one "$target" "$minor" || failed+=("$target")
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "test-versions: FAILED or not run: ${failed[*]}" >&2
    exit 1
fi
echo "test-versions: oldest and newest passed"
