#!/bin/sh
# Lay out the TensorFlow Lite Micro tree that build.sh needs, offline, from local git clones at
# the commits tflite-micro pins, with TFLM's own patches applied. Fetches nothing.
#   benchmarks/cortex-m/tflm_tree.sh SRC DEST
# SRC holds one git clone (plain or bare) per repository, named as on GitHub: tflite-micro,
# flatbuffers, gemmlowp, ruy, kissfft, CMSIS_6, Cortex_DFP, CMSIS-NN (see README.md). DEST must
# not exist; it becomes the tree to give build.sh. DEST/SOURCES.txt records what went in.
set -eu
die() { echo "tflm_tree: error: $*" >&2; exit 1; }
[ $# = 2 ] || die "usage: tflm_tree.sh SRC DEST"
SRC=$1
DEST=$2
[ -d "$SRC" ] || die "$SRC is not a folder"
[ ! -e "$DEST" ] || die "$DEST exists: give a new folder"
command -v patch > /dev/null || die "needs patch (apt-get install patch)"

# name commit owner: the pins of tflite-micro 90b983c2 (its *_download.sh and
# third_party_downloads.inc)
PINS="tflite-micro 90b983c2b3f1480642e040bbd2ddb37b998f3424 tensorflow
flatbuffers 187240970746d00bbd26b0f5873ed54d2477f9f3 google
gemmlowp 719139ce755a0f31cbf1c37f7f98adcc7fc9f425 google
ruy d37128311b445e758136b8602d1bbd2a755e115d google
kissfft 918336beac80868ad3011cb283063bb224e3e5da mborgerding
CMSIS_6 5782d6f8057906d360f4b95ec08a2354afe5c9b9 ARM-software
Cortex_DFP c2c70a97a20fb355815e2ead3d4a40e35a4a3cdf ARM-software
CMSIS-NN 4ab83cc3cc98fb85ed6dafb55e8ca02f1628dcae ARM-software"

repo() {   # the clone of $1 in SRC (plain, bare, or NAME.git)
  for d in "$SRC/$1" "$SRC/$1.git"; do
    [ -d "$d" ] && git -C "$d" rev-parse --git-dir > /dev/null 2>&1 && { echo "$d"; return; }
  done
  echo ""
}
echo "$PINS" | while read -r name commit owner; do
  r=$(repo "$name")
  if [ -z "$r" ]; then
    echo "tflm_tree: no clone of $name in $SRC: git clone https://github.com/$owner/$name $SRC/$name" >&2
    exit 1
  fi
  git -C "$r" cat-file -e "$commit^{commit}" 2>/dev/null \
    || { echo "tflm_tree: $r lacks commit $commit: git -C $r fetch origin" >&2; exit 1; }
done || die "missing sources (above)"

# extract NAME FOLDER: the pinned commit of NAME's clone into FOLDER
extract() {
  c=$(echo "$PINS" | awk -v n="$1" '$1 == n { print $2 }')
  mkdir -p "$2"
  git -C "$(repo "$1")" archive "$c" | tar -x -C "$2"
  echo "$1 $c" >> "$DEST/SOURCES.txt"
}

mkdir -p "$DEST"
: > "$DEST/SOURCES.txt"
extract tflite-micro "$DEST"
D="$DEST/tensorflow/lite/micro/tools/make/downloads"
mkdir -p "$D"
# flatbuffers v25.9.23: BUILD files removed and tensorflow/lite/micro/tools/make/flatbuffers.patch
# applied, as flatbuffers_download.sh does
extract flatbuffers "$D/flatbuffers"
find "$D/flatbuffers" \( -name BUILD -o -name BUILD.bazel \) -exec rm -f {} +
patch -s -p1 -d "$D/flatbuffers" < "$DEST/tensorflow/lite/micro/tools/make/flatbuffers.patch"
extract gemmlowp "$D/gemmlowp"
extract ruy "$D/ruy"
# kissfft v130 with third_party/kissfft/kissfft.patch, as kissfft_download.sh does
extract kissfft "$D/kissfft"
patch -s -p1 -d "$D/kissfft" < "$DEST/third_party/kissfft/kissfft.patch"
# cmsis: CMSIS_6 with Cortex_DFP inside it, as ext_libs/cmsis_download.sh lays them out
extract CMSIS_6 "$D/cmsis"
extract Cortex_DFP "$D/cmsis/Cortex_DFP"
extract CMSIS-NN "$D/cmsis_nn"
# pigweed: only TFLM's tests use it; an empty folder stops the Makefile cloning it
mkdir -p "$D/pigweed"
# the toolchain: the system arm-none-eabi-* (the Makefile would download its own otherwise)
mkdir -p "$D/gcc_embedded/bin"
for tool in $(cd /usr/bin && ls arm-none-eabi-* 2>/dev/null); do
  ln -s "/usr/bin/$tool" "$D/gcc_embedded/bin/$tool"
done
[ -e "$D/gcc_embedded/bin/arm-none-eabi-gcc" ] \
  || echo "tflm_tree: note: no /usr/bin/arm-none-eabi-gcc to link (apt-get install gcc-arm-none-eabi); link it into $D/gcc_embedded/bin" >&2
echo "patches flatbuffers.patch kissfft.patch" >> "$DEST/SOURCES.txt"
echo "tflm_tree: $DEST is ready: benchmarks/cortex-m/build.sh $DEST"
