#!/usr/bin/env bash
# Runs inside the arm64 root (check.sh copies the checkout to /root/sernet-edge and starts this
# under qemu-aarch64): the Raspberry Pi guide's install, the compared commands, the device tests.
set -euo pipefail
export HOME=/root LANG=C.UTF-8
SRC=$HOME/sernet-edge
OUT=$HOME/arm64-out
rm -rf "$OUT" "$HOME/sernet"
mkdir -p "$OUT"
: > "$OUT/steps.tsv"
fail() { echo "arm64-check (inside): error: $*" >&2; exit 1; }

# step NAME CMD...: log to OUT/NAME.log, wall time to OUT/steps.tsv
# (SOFT=1: a failure is recorded, not fatal: the tests' outcome goes into the results)
step() {
  local name=$1 t0 t1 rc=0
  shift
  echo "arm64-check (inside): $name" >&2
  t0=$(date +%s%N)
  "$@" > "$OUT/$name.log" 2>&1 || rc=$?
  t1=$(date +%s%N)
  printf '%s\t%s\t%s\n' "$name" "$rc" "$(( (t1 - t0) / 1000000 ))" >> "$OUT/steps.tsv"
  [ "$rc" = 0 ] || [ "${SOFT:-0}" = 1 ] || { tail -n 20 "$OUT/$name.log" >&2; fail "$name failed (exit $rc): see $OUT/$name.log"; }
}

[ "$(uname -m)" = aarch64 ] || fail "not running as aarch64 (uname -m: $(uname -m))"

# 3. the guide's install steps, as extracted from docs/raspberry-pi.md by check.sh (the root has
# no sudo: it runs as root, so sudo is a pass-through)
cd "$HOME"
step install-base bash -euxo pipefail "$HOME/arm64-guide-base.sh"
step install-mic bash -euxo pipefail "$HOME/arm64-guide-mic.sh"
"$HOME/sernet/bin/python" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("tensorflow") is not None)' \
  || fail "TensorFlow is installed in the device venv"

# the environment, for the result files
{
  echo "uname_m=$(uname -m)"
  echo "debian=$(cat /etc/debian_version)"
  echo "glibc=$(ldd --version | head -1)"
  echo "python=$("$HOME/sernet/bin/python" -c 'import platform; print(platform.python_version())')"
  echo "pip=$("$HOME/sernet/bin/pip" --version | cut -d' ' -f2)"
  echo "libportaudio2=$(dpkg-query -W -f='${Version}' libportaudio2)"
} > "$OUT/env.txt"
"$HOME/sernet/bin/pip" freeze --all > "$OUT/pip-freeze.txt"

# 4. the compared commands (same file as on the host)
step commands bash "$SRC/benchmarks/arm64/commands.sh" "$HOME/sernet/bin/sernet-edge" "$SRC/sernet_edge/clips" "$OUT/arm64"

# the device-side tests, in the guide's own install (not editable) with the test tools added:
# all of tests/, started from an empty folder so that the installed package is imported (in the
# tests' subprocesses too), as .ci/run's device stage does; everything that needs TensorFlow,
# Keras, torch, matplotlib or scipy skips with its reason
step install-test-tools "$HOME/sernet/bin/pip" install pytest hypothesis
rm -rf "$HOME/pytest-cwd"
mkdir -p "$HOME/pytest-cwd"
cd "$HOME/pytest-cwd"
SOFT=1 step pytest "$HOME/sernet/bin/python" -m pytest "$SRC/tests" -q -p no:cacheprovider \
  --junitxml "$OUT/pytest.xml"
echo "arm64-check (inside): done" >&2
