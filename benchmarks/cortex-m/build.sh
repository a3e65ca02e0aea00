#!/bin/sh
# Build and run the sernet-edge front end (and, given a TFLM tree, the int8 model) on
# QEMU's mps2-an386 (Cortex-M4F) or, with CORE=m55, its mps3-an547 (Cortex-M55: Helium
# kernels of CMSIS-NN). Fetches nothing: see README.md for the sources it needs.
#   benchmarks/cortex-m/build.sh [TFLM_DIR]     (from the repository root)
# Needs: arm-none-eabi-gcc with newlib (Debian gcc-arm-none-eabi, libnewlib-arm-none-eabi),
# qemu-system-arm, and the project's venv (.venv) for export-c and the host reference.
set -eu
TFLM=${1:-}
HERE=benchmarks/cortex-m
OUT=${OUT:-$HERE/build}
MODEL=${MODEL:-multi-micro}
CLIP=${CLIP:-03a01Wa.wav}
PY=${PY:-.venv/bin/python}
CORE=${CORE:-m4}
case "$CORE" in
  m4)  CPU="-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16"; ARCH=cortex-m4+fp
       BOARD=mps2-an386; LDS=$HERE/mps2_an386.ld ;;
  m55) CPU="-mcpu=cortex-m55 -mthumb -mfloat-abi=hard"; ARCH=cortex-m55
       BOARD=mps3-an547; LDS=$HERE/mps3_an547.ld ;;
  *)   echo "build.sh: error: CORE=$CORE: use m4 or m55" >&2; exit 2 ;;
esac
CFLAGS="$CPU -O2 -ffunction-sections -fdata-sections -Wall -Wextra"
LDFLAGS="$CPU -T $LDS -nostartfiles --specs=rdimon.specs -Wl,--gc-sections"
QEMU="qemu-system-arm -M $BOARD -nographic -semihosting-config enable=on,target=native -icount shift=0"

[ -f "$HERE/build.sh" ] || { echo "build.sh: error: run it from the repository root" >&2; exit 2; }
for tool in arm-none-eabi-gcc qemu-system-arm; do
  command -v $tool > /dev/null || { echo "build.sh: error: $tool not found (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)" >&2; exit 2; }
done
[ -z "$TFLM" ] || [ -d "$TFLM/tensorflow/lite/micro" ] || { echo "build.sh: error: $TFLM: not a tflite-micro tree" >&2; exit 2; }
# a fresh gen/ and fresh outputs: OUT may hold another model's or clip's files
rm -rf "$OUT/gen" "$OUT/host.txt" "$OUT/sernet.txt" "$OUT/check.txt" "$OUT/sernet.sizes.json"
mkdir -p "$OUT/gen"
$PY -m sernet_edge export-c "$MODEL" -o "$OUT/gen" > /dev/null
$PY $HERE/make_clip.py "$CLIP" "$OUT/gen/clip_data.h" "$MODEL" | tee "$OUT/host.txt"

# 1. the front end alone
arm-none-eabi-gcc -std=c99 $CFLAGS -Werror -I "$OUT/gen" -c "$OUT/gen/sernet_frontend.c" -o "$OUT/sernet_frontend.o"
arm-none-eabi-gcc -std=c99 $CFLAGS -I "$OUT/gen" -c $HERE/frontend_only.c -o "$OUT/frontend_only.o"
arm-none-eabi-gcc $CFLAGS -c $HERE/startup.c -o "$OUT/startup.o"
arm-none-eabi-gcc $LDFLAGS "$OUT/startup.o" "$OUT/frontend_only.o" "$OUT/sernet_frontend.o" \
  -Wl,-Map="$OUT/frontend_only.map" -lm -o "$OUT/frontend_only.elf"
arm-none-eabi-size -A "$OUT/sernet_frontend.o" > "$OUT/sernet_frontend.size"
arm-none-eabi-size "$OUT/frontend_only.elf" | tee "$OUT/frontend_only.size"
$QEMU -kernel "$OUT/frontend_only.elf" | tee "$OUT/frontend_only.txt"

[ -n "$TFLM" ] || exit 0

# 2. the whole pipeline under TensorFlow Lite Micro with CMSIS-NN kernels. Only what the bundled
# models need is compiled (the framework, the kernels of their ops, CMSIS-NN's convolution,
# fully connected, pooling, softmax and support functions) and archived as our own library:
# the whole `microlite` target is 315 sources, too many for a small shared machine. The
# objects land in TFLM's own gen/ folder, with its own flags (framework and CMSIS-NN -Os,
# kernels -O2; CMSIS-NN is then rebuilt at NN_OPT, below). Its Makefile generates test data with PIL while it parses, so the venv's
# python3 goes first on PATH; the example, benchmark and integration-test lists are emptied.
MK="make --no-print-directory -C $TFLM -f tensorflow/lite/micro/tools/make/Makefile \
  TARGET=cortex_m_generic TARGET_ARCH=$ARCH OPTIMIZED_KERNEL_DIR=cmsis_nn BUILD_TYPE=release \
  MICRO_LITE_EXAMPLE_TESTS= MICRO_LITE_GEN_MUTABLE_OP_RESOLVER_TEST= MICRO_LITE_BENCHMARKS= \
  OLD_MICRO_LITE_BENCHMARKS= MICRO_LITE_INTEGRATION_TESTS= MICRO_LITE_LAYER_BY_LAYER_OUTPUT="
PATH="$(cd "$(dirname "$PY")" && pwd):$PATH"
G=gen/cortex_m_generic_${ARCH}_release_cmsis_nn_gcc/obj
KERNELS="concatenation cmsis_nn/conv conv_common cmsis_nn/depthwise_conv depthwise_conv_common
  cmsis_nn/fully_connected fully_connected_common kernel_util cmsis_nn/pooling pooling_common
  reduce reduce_common cmsis_nn/softmax softmax_common strided_slice strided_slice_common"
OBJS=$( { $MK -s list_library_sources 2>/dev/null | tr ' ' '\n' \
            | grep -v -e '^$' -e 'micro/kernels/' -e '^signal/' | sed "s|^|$G/core/|"
          for k in $KERNELS; do echo "$G/kernels/tensorflow/lite/micro/kernels/$k.cc"; done
          $MK -s list_third_party_sources 2>/dev/null | tr ' ' '\n' \
            | grep -E '/(NNSupport|Convolution|FullyConnected|Pooling|Softmax)Functions/' \
            | sed "s|^|$G/third_party/|"; } | sed 's/\.[a-z]*$/.o/')
nice -n 10 $MK -j2 $OBJS > "$OUT/tflm.log" 2>&1 || { tail -20 "$OUT/tflm.log" >&2; exit 1; }
LIB="$(cd "$OUT" && pwd)/libtflm-sernet.a"
rm -f "$LIB"
(cd "$TFLM" && arm-none-eabi-ar rcs "$LIB" $OBJS)
# CMSIS-NN recompiled into OUT/nn at NN_OPT (default -O2, TFLM's level for its kernels) instead
# of TFLM's -Os for third-party code, with TFLM's own command lines otherwise, and swapped into
# the library; TFLM's tree is not touched. multi-xs-micro's Invoke(): -Os 63.1 M instructions,
# -O2 47.9 M, -O3 48.3 M, -O3 -funroll-loops 53.1 M. NN_OPT=-Os: TFLM's objects as they are.
NN_OPT=${NN_OPT:--O2}
if [ "$NN_OPT" != "-Os" ]; then
  mkdir -p "$OUT/nn"
  NNDIR="$(cd "$OUT/nn" && pwd)"
  $MK -n -B $(echo "$OBJS" | grep '/third_party/.*/cmsis_nn/') 2>/dev/null | grep -e ' -c .*/cmsis_nn/Source/' \
    | sed "s| -Os | $NN_OPT |; s| -o [^ ]*/\([^/ ]*\.o\)\$| -o $NNDIR/\1|; s| -MD | |" > "$OUT/nn.sh"
  # the same commands as the last run in this OUT: its objects serve again
  if ! cmp -s "$OUT/nn.sh" "$NNDIR/build.sh"; then
    rm -f "$NNDIR"/*
    (cd "$TFLM" && nice -n 10 sh "$OUT/nn.sh") >> "$OUT/tflm.log" 2>&1 || { tail -20 "$OUT/tflm.log" >&2; exit 1; }
    mv "$OUT/nn.sh" "$NNDIR/build.sh"
  fi
  rm -f "$OUT/nn.sh"
  arm-none-eabi-ar rs "$LIB" "$NNDIR"/*.o
fi
D="$TFLM/tensorflow/lite/micro/tools/make/downloads"
STEM=$(basename "$(ls "$OUT"/gen/*_model_data.h)" _model_data.h)
IDENT=$(grep -o 'extern const unsigned char [a-z0-9_]*_model_data' "$OUT/gen/${STEM}_model_data.h" | cut -d' ' -f5)
printf '#include "%s_model_data.h"\n#define MODEL_DATA %s\n' "$STEM" "$IDENT" > "$OUT/gen/model_data.h"
arm-none-eabi-gcc -std=c11 $CFLAGS -c "$OUT/gen/${STEM}_model_data.c" -o "$OUT/model_data.o"
arm-none-eabi-g++ -std=c++17 $CFLAGS -Wno-unused-parameter -fno-rtti -fno-exceptions -fno-threadsafe-statics \
  -fno-use-cxa-atexit -DTF_LITE_STATIC_MEMORY -DTF_LITE_STRIP_ERROR_STRINGS -I "$OUT/gen" -I "$TFLM" -I "$D/flatbuffers/include" -I "$D/gemmlowp" \
  -c $HERE/main.cc -o "$OUT/main.o"
arm-none-eabi-g++ $LDFLAGS "$OUT/startup.o" "$OUT/main.o" "$OUT/sernet_frontend.o" "$OUT/model_data.o" \
  "$LIB" -Wl,-Map="$OUT/sernet.map" -lm -o "$OUT/sernet.elf"
arm-none-eabi-size "$OUT/sernet.elf" | tee "$OUT/sernet.size"
$QEMU -kernel "$OUT/sernet.elf" > "$OUT/sernet.txt"
grep -v "^input tensor:" "$OUT/sernet.txt"

$PY $HERE/map_sizes.py "$OUT/sernet.map" > "$OUT/sernet.sizes.json"

# 3. the emulator against the host: its own int8 input tensor through LiteRT's builtin kernels
# must give exactly its int8 output (host.txt has the numpy front end's input hash beside it)
if ! $PY $HERE/make_clip.py --check "$OUT/sernet.txt" "$MODEL" > "$OUT/check.txt"; then
  cat "$OUT/check.txt"; exit 1
fi
cat "$OUT/check.txt"
