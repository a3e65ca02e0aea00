#!/bin/sh
# Build and run the sernet-edge front end (and, given a TFLM tree, the int8 model) on
# QEMU's mps2-an386 (Cortex-M4F). Fetches nothing: see README.md for the sources it needs.
#   benchmarks/cortex-m/build.sh [TFLM_DIR]     (from the repository root)
# Needs: arm-none-eabi-gcc with newlib (Debian gcc-arm-none-eabi, libnewlib-arm-none-eabi),
# qemu-system-arm, and the project's venv (.venv) for export-c and the host reference.
set -eu
TFLM=${1:-}
HERE=benchmarks/cortex-m
OUT=${OUT:-$HERE/build}
MODEL=${MODEL:-multi}
CLIP=${CLIP:-03a01Wa.wav}
PY=${PY:-.venv/bin/python}
CPU="-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16"
CFLAGS="$CPU -O2 -ffunction-sections -fdata-sections -Wall -Wextra"
LDFLAGS="$CPU -T $HERE/mps2_an386.ld -nostartfiles --specs=rdimon.specs -Wl,--gc-sections"
QEMU="qemu-system-arm -M mps2-an386 -nographic -semihosting-config enable=on,target=native -icount shift=0"

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

# 2. the whole pipeline under TensorFlow Lite Micro with CMSIS-NN kernels
MK="make -C $TFLM -f tensorflow/lite/micro/tools/make/Makefile TARGET=cortex_m_generic \
  TARGET_ARCH=cortex-m4+fp OPTIMIZED_KERNEL_DIR=cmsis_nn BUILD_TYPE=release \
  MICRO_LITE_EXAMPLE_TESTS= MICRO_LITE_GEN_MUTABLE_OP_RESOLVER_TEST= MICRO_LITE_BENCHMARKS= \
  OLD_MICRO_LITE_BENCHMARKS= MICRO_LITE_INTEGRATION_TESTS= MICRO_LITE_LAYER_BY_LAYER_OUTPUT="
nice -n 10 $MK microlite -j2 > "$OUT/tflm.log"
LIB=$(ls "$TFLM"/gen/cortex_m_generic_cortex-m4+fp_release_cmsis_nn_gcc/lib/libtensorflow-microlite.a)
D="$TFLM/tensorflow/lite/micro/tools/make/downloads"
STEM=$(basename "$(ls "$OUT"/gen/*_model_data.h)" _model_data.h)
IDENT=$(grep -o 'extern const unsigned char [a-z0-9_]*_model_data' "$OUT/gen/${STEM}_model_data.h" | cut -d' ' -f4)
printf '#include "%s_model_data.h"\n#define MODEL_DATA %s\n' "$STEM" "$IDENT" > "$OUT/gen/model_data.h"
arm-none-eabi-gcc -std=c11 $CFLAGS -c "$OUT/gen/${STEM}_model_data.c" -o "$OUT/model_data.o"
arm-none-eabi-g++ -std=c++17 $CFLAGS -fno-rtti -fno-exceptions -fno-threadsafe-statics \
  -DTF_LITE_STATIC_MEMORY -I "$OUT/gen" -I "$TFLM" -I "$D/flatbuffers/include" -I "$D/gemmlowp" \
  -c $HERE/main.cc -o "$OUT/main.o"
arm-none-eabi-g++ $LDFLAGS "$OUT/startup.o" "$OUT/main.o" "$OUT/sernet_frontend.o" "$OUT/model_data.o" \
  "$LIB" -Wl,-Map="$OUT/sernet.map" -lm -o "$OUT/sernet.elf"
arm-none-eabi-size "$OUT/sernet.elf" | tee "$OUT/sernet.size"
$QEMU -kernel "$OUT/sernet.elf" | tee "$OUT/sernet.txt"
