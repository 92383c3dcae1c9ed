#!/usr/bin/env bash
# The release check (`make release-check`, after `make dist`): the wheel from dist/, installed
# into a fresh venv outside the checkout, with nothing of the checkout on its path, must
#   1. find every kernel source of kernels/ inside the installed package, byte for byte;
#   2. run `minimal-unet demo` (output in a temporary folder);
#   3. make the course assignment (`minimal-unet assignment make`) with its exercises stubbed.
# Usage: .ci/release_check.sh [PYTHON]   (default python3; the venv is made with it)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PYTHON=${1:-python3}
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml)
WHEEL="$REPO/dist/minimal_unet-$VERSION-py3-none-any.whl"
SDIST="$REPO/dist/minimal_unet-$VERSION.tar.gz"
for f in "$WHEEL" "$SDIST"; do
    [ -f "$f" ] || { echo "release-check: expected $f (run make dist first), not found" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/minimal-unet-release.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
unset PYTHONPATH  # the checkout must not be importable
echo "release-check: fresh venv ($("$PYTHON" --version)) in $WORK, installing $(basename "$WHEEL")"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet "$WHEEL"
mkdir "$WORK/elsewhere" && cd "$WORK/elsewhere"   # outside the checkout

echo "release-check: 1/3 kernel sources"
"$WORK/venv/bin/python" - "$REPO" "$WORK/venv" <<'EOF'
import sys
from pathlib import Path

import minimal_unet
from minimal_unet.backends import sources

repo, venv = Path(sys.argv[1]), Path(sys.argv[2]).resolve()
package = Path(minimal_unet.__file__).resolve()
root = sources.kernels_root().resolve()
for what, path in (("minimal_unet", package), ("kernels_root()", root)):
    if not path.is_relative_to(venv):
        sys.exit(f"release-check: {what} is {path}, expected it inside the fresh venv {venv}")
shipped = sorted(p.relative_to(repo / "kernels") for p in (repo / "kernels").rglob("*")
                 if p.is_file() and p.suffix in (".cu", ".h", ".py") and "__pycache__" not in p.parts)
missing = [str(p) for p in shipped if not (root / p).is_file()]
changed = [str(p) for p in shipped
           if (root / p).is_file() and (root / p).read_bytes() != (repo / "kernels" / p).read_bytes()]
if missing or changed:
    sys.exit(f"release-check: kernel sources missing {missing}, different {changed} in {root}")
for name in sorted(p.stem for p in (repo / "kernels" / "cuda").glob("*.cu")):
    assert sources.read_cuda_source(name), name
print(f"  {len(shipped)} kernel files found under {root}")
EOF

echo "release-check: 2/3 minimal-unet demo"
"$WORK/venv/bin/minimal-unet" demo --out "$WORK/demo" --no-progress
for f in metrics.json model.npz learning_curves.png predictions.png; do
    [ -s "$WORK/demo/$f" ] || { echo "release-check: demo did not write $f" >&2; exit 1; }
done

echo "release-check: 3/3 minimal-unet assignment make"
"$WORK/venv/bin/minimal-unet" assignment make --out "$WORK/hw"
[ -s "$WORK/hw/ASSIGNMENT.md" ] || { echo "release-check: no ASSIGNMENT.md" >&2; exit 1; }
grep -q 'raise NotImplementedError' "$WORK/hw/minimal_unet/ops/relu.py" \
    || { echo "release-check: the student copy's relu is not stubbed" >&2; exit 1; }
if grep -rlE --include='*.py' '^\s*# BEGIN SOLUTION' "$WORK/hw/minimal_unet" \
        | grep -v '/assignment/regions\.py$'; then  # regions.py quotes the marker in its docstring
    echo "release-check: a solution region survived in the student copy" >&2; exit 1
fi
echo "release-check: passed (wheel $(basename "$WHEEL"), sdist $(basename "$SDIST"))"
