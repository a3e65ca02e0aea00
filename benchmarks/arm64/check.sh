#!/usr/bin/env bash
# The Raspberry Pi guide's install, run in an emulated Debian bookworm arm64 root, compared
# with the same commands on this x86-64 host. Root only. See benchmarks/arm64/README.md.
#   sudo bash benchmarks/arm64/check.sh            # build or reuse the root, check, write results
#   sudo bash benchmarks/arm64/check.sh --root-only
#   bash benchmarks/arm64/check.sh --result-name   # the result stem a run would write now
set -euo pipefail

die() { echo "arm64-check: error: $*" >&2; exit 1; }
say() { echo "arm64-check: $*" >&2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$REPO/benchmarks/arm64"
CACHE=${SERNET_ARM64_CACHE:-/var/cache/sernet-edge-arm64}
ROOT="$CACHE/bookworm-arm64"
MIRROR=${SERNET_ARM64_MIRROR:-http://deb.debian.org/debian}
HOST_PY=${SERNET_ARM64_HOST_PYTHON:-$REPO/.venv/bin/python}
DATE=${SERNET_ARM64_DATE:-$(date -u +%F)}
OUTDIR=${SERNET_ARM64_OUTDIR:-$REPO/benchmarks/results}
# the emulated CPU: a Raspberry Pi 4's Cortex-A72 (ARMv8.0: no dot-product or fp16 arithmetic),
# so LiteRT's XNNPACK picks the kernels it would pick on a Pi 4; cortex-a76 is a Pi 5
CPU=${SERNET_ARM64_CPU:-cortex-a72}
# a network whose TLS is re-signed by a local CA (pip on the host trusts it through PIP_CERT or
# pip.conf's cert): pip in the root is given the same bundle; empty for none
CA=${SERNET_ARM64_CA_BUNDLE-${PIP_CERT:-$(sed -n 's/^cert *= *//p' /etc/pip.conf 2>/dev/null | head -1)}}
NICE=(nice -n "${SERNET_ARM64_NICE:-10}")

# result_stem: OUTDIR/arm64-DATE, or -2, -3, ... when a result of that name exists: a committed
# result stays as it was measured
result_stem() {
  local stem="$OUTDIR/arm64-$DATE" n=1
  while [ -e "$stem.json" ] || [ -e "$stem.md" ]; do
    n=$(( n + 1 ))
    stem="$OUTDIR/arm64-$DATE-$n"
  done
  echo "$stem"
}
[[ $DATE =~ ^[0-9A-Za-z._-]+$ ]] || die "SERNET_ARM64_DATE must be a date or run id of letters, digits, . _ - (got '$DATE')"
case "${1:-}" in
  ""|--root-only) ;;
  --result-name) result_stem; exit 0 ;;
  *) die "unknown argument ${1} (usage: check.sh [--root-only | --result-name])" ;;
esac

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, binfmt_misc and chroot need it): sudo bash $0"
[ "$(uname -m)" = x86_64 ] || die "expects an x86-64 host (uname -m says $(uname -m))"
command -v apt-get >/dev/null || die "needs a Debian host with apt-get"

# -- 1. qemu-user-static, debootstrap, the aarch64 binfmt handler ---------------------------
step1() {
  local need=()
  command -v debootstrap >/dev/null || need+=(debootstrap)
  [ -e /usr/libexec/qemu-binfmt/aarch64-binfmt-P ] || need+=(qemu-user-static)
  if [ ${#need[@]} -gt 0 ]; then
    say "apt-get install ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
      || die "apt-get install ${need[*]} failed"
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || die "cannot mount binfmt_misc"
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    local conf=/usr/lib/binfmt.d/qemu-aarch64.conf
    [ -f "$conf" ] || die "$conf missing: is qemu-user-static installed?"
    # F (fix binary): the interpreter is opened now, so the root needs no copy of it
    grep -v '^#' "$conf" > /proc/sys/fs/binfmt_misc/register || die "cannot register the aarch64 interpreter"
  fi
  [ "$(cat /proc/sys/fs/binfmt_misc/qemu-aarch64 | head -1)" = enabled ] || die "the aarch64 binfmt handler is disabled"
}

# -- 2. a minimal Debian bookworm arm64 root with Python 3.11, cached ----------------------
ROOT_REUSED=no
step2() {
  if [ -f "$ROOT/.sernet-arm64-complete" ]; then
    say "reusing $ROOT"
    ROOT_REUSED=yes
    return
  fi
  mkdir -p "$CACHE"
  rm -rf "$ROOT.tmp"
  local t0=$SECONDS
  say "debootstrap bookworm arm64 into $ROOT (emulated: 10-30 minutes)"
  "${NICE[@]}" debootstrap --arch=arm64 --variant=minbase --include=python3,python3-venv,python3-pip \
    bookworm "$ROOT.tmp" "$MIRROR" > "$CACHE/debootstrap.log" 2>&1 \
    || die "debootstrap failed: see $CACHE/debootstrap.log"
  echo "built=$(date -u +%FT%TZ) seconds=$(( SECONDS - t0 )) debootstrap=$(dpkg-query -W -f='${Version}' debootstrap)" \
    > "$ROOT.tmp/.sernet-arm64-complete"
  rm -rf "$ROOT"
  mv "$ROOT.tmp" "$ROOT"
}

# guide_block NAME: the shell block under `<!-- arm64-check: NAME -->` in docs/raspberry-pi.md,
# so the commands tested here are the guide's, character for character
guide_block() {
  awk -v tag="<!-- arm64-check: $1 -->" '
    $0 == tag { found = 1; next }
    found == 1 && /^```/ { found = 2; next }
    found == 2 && /^```/ { exit }
    found == 2 { print }
  ' "$REPO/docs/raspberry-pi.md"
}

# The root's /proc/cpuinfo: qemu-user shows the host's (x86) one, on which LiteRT's cpuinfo
# library crashes (segmentation fault in classify); a Pi's kernel shows one ARM entry per core.
# One such entry per host core (sysfs, mounted from the host, lists the host's cores).
cpuinfo_file() {
  local part variant rev features i f="$CACHE/cpuinfo-$CPU"
  case $CPU in
    cortex-a72) part=0xd08; variant=0x0; rev=3; features="fp asimd evtstrm crc32 cpuid" ;;
    cortex-a76) part=0xd0b; variant=0x4; rev=1
      features="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp" ;;
    *) die "SERNET_ARM64_CPU must be cortex-a72 or cortex-a76 (got $CPU)" ;;
  esac
  : > "$f.tmp"
  for (( i = 0; i < $(nproc --all); i++ )); do
    printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: %s\nCPU part\t: %s\nCPU revision\t: %s\n\n' \
      "$i" "$features" "$variant" "$part" "$rev" >> "$f.tmp"
  done
  mv "$f.tmp" "$f"
  echo "$f"
}

# in_root CMD...: run in the arm64 root, in a private mount namespace (its /proc, /dev, /sys
# and /tmp mounts vanish with it, however the run ends)
in_root() {
  local pip_cert= cpuinfo
  cpuinfo=$(cpuinfo_file)
  [ -n "$CA" ] && pip_cert=/etc/ssl/sernet-arm64-host-ca.crt
  CPUINFO=$cpuinfo PIP_CERT_IN_ROOT=$pip_cert QEMU_CPU=$CPU "${NICE[@]}" unshare --mount --propagation private -- bash -c '
    set -e; r=$1; shift
    mount -t proc proc "$r/proc"; mount --bind "$CPUINFO" "$r/proc/cpuinfo"; mount -t sysfs sys "$r/sys"
    mount --rbind /dev "$r/dev"; mount -t tmpfs tmpfs "$r/tmp"
    exec chroot "$r" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb QEMU_CPU="$QEMU_CPU" \
      ${PIP_CERT_IN_ROOT:+PIP_CERT="$PIP_CERT_IN_ROOT"} \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"' _ "$ROOT" "$@"
}

# -- 3. copy the checkout (tracked and untracked-not-ignored files, as the host venv sees them)
step3() {
  git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1 || die "$REPO is not a git checkout"
  local block
  for block in base mic; do
    { echo 'sudo() { "$@"; }   # the emulated root runs as root and has no sudo'; guide_block "$block"; } \
      > "$ROOT/root/arm64-guide-$block.sh"
    [ "$(wc -l < "$ROOT/root/arm64-guide-$block.sh")" -gt 1 ] \
      || die "docs/raspberry-pi.md has no shell block under <!-- arm64-check: $block -->"
  done
  rm -rf "$ROOT/root/sernet-edge"
  mkdir -p "$ROOT/root/sernet-edge"
  (cd "$REPO" && git ls-files -z --cached --others --exclude-standard \
     | xargs -0 -r sh -c 'for f; do [ -f "$f" ] && printf "%s\0" "$f"; done' _ \
     | tar --null -T - -cf -) | tar -xf - -C "$ROOT/root/sernet-edge" || die "cannot copy the checkout into the root"
  cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
  if [ -n "$CA" ]; then
    [ -f "$CA" ] || die "CA bundle $CA not found (SERNET_ARM64_CA_BUNDLE= for none)"
    cp -L "$CA" "$ROOT/etc/ssl/sernet-arm64-host-ca.crt"
  fi
}

step1
step2
[ "${1:-}" = --root-only ] && exit 0
step3

WORK="$CACHE/run"
rm -rf "$WORK"
mkdir -p "$WORK"

# -- 4. inside the arm64 root: the guide's install, the commands, the device-side tests ---------
say "inside the arm64 root: install as docs/raspberry-pi.md says, run the commands and the device tests (emulated: slow)"
t0=$SECONDS
rc=0
rm -rf "$ROOT/root/arm64-out"     # nothing of an earlier run is compared
in_root bash /root/sernet-edge/benchmarks/arm64/inside.sh 2> >(tee "$WORK/inside.log" >&2) || rc=$?
echo "$(( SECONDS - t0 ))" > "$WORK/inside-seconds"
echo "$rc" > "$WORK/inside-rc"
# a failed run is still compared and written: its result says which checks failed
[ "$rc" = 0 ] || say "the run inside the arm64 root failed (exit $rc): see $WORK/inside.log; the result will say FAILED"
if [ -d "$ROOT/root/arm64-out" ]; then
  cp -r "$ROOT/root/arm64-out" "$WORK/arm64-out"
else
  mkdir -p "$WORK/arm64-out"
fi
cp "$ROOT"/root/arm64-guide-*.sh "$WORK/"

# -- 5. the same commands on this host, with the project venv ----------------------------------
# (a fresh clone has none: then the same device install, from the checkout, into a host venv
# under the cache)
if [ ! -x "$HOST_PY" ]; then
  say "no venv at $HOST_PY: installing the checkout into $CACHE/host-venv"
  rm -rf "$CACHE/host-venv"
  python3 -m venv "$CACHE/host-venv" || die "python3 -m venv failed on the host (apt install python3-venv)"
  "$CACHE/host-venv/bin/pip" install -q "$REPO[mic,vad]" > "$WORK/host-install.log" 2>&1 \
    || die "pip install of the checkout on the host failed: see $WORK/host-install.log"
  HOST_PY="$CACHE/host-venv/bin/python"
fi
say "the same commands on x86-64 with $HOST_PY"
bash "$HERE/commands.sh" "$(dirname "$HOST_PY")/sernet-edge" "$REPO/sernet_edge/clips" "$WORK/x86_64" \
  || say "the host commands failed: see $WORK/x86_64/; the result will say FAILED"
"$HOST_PY" -m pip freeze --all > "$WORK/x86_64-pip-freeze.txt" 2>/dev/null || true
{
  echo "qemu=$(qemu-aarch64-static --version | head -1)"
  echo "qemu_cpu=$CPU"
  echo "pip_ca_bundle_in_root=${CA:-none}"
  echo "debootstrap=$(dpkg-query -W -f='${Version}' debootstrap)"
  echo "root=$(cat "$ROOT/.sernet-arm64-complete")"
  echo "host_debian=$(cat /etc/debian_version)"
  echo "host_venv=$HOST_PY"
  echo "host_python=$("$HOST_PY" -c 'import platform; print(platform.python_version())')"
  echo "host_cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "host_cores=$(nproc)"
  echo "commit=$(git -C "$REPO" rev-parse HEAD)"
  echo "dirty=$(git -C "$REPO" status --porcelain --untracked-files=no | wc -l)"
  echo "check_seconds=$SECONDS"
  echo "root_reused=$ROOT_REUSED"
} > "$WORK/host-env.txt"

# -- 6. compare and write the result files (atomically) -----------------------------------------
mkdir -p "$OUTDIR"
STEM=$(result_stem)
crc=0
"$HOST_PY" "$HERE/compare.py" "$WORK" "$STEM" || crc=$?
[ "$crc" != 2 ] || die "compare.py refused to write $STEM (see above)"
[ "$crc" = 0 ] && [ "$rc" = 0 ] || die "FAILED: see $STEM.md (its verdict names the checks that failed)"
say "arm64 matches x86-64, every check passes: $STEM.md"
