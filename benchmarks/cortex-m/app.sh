#!/bin/sh
# Build `sernet-edge export-c --app`'s streaming app for QEMU's mps2-an386 (Cortex-M4F) or,
# with CORE=m55, its mps3-an547 (Cortex-M55) and run one audio file through it, hop by hop.
#   benchmarks/cortex-m/app.sh TFLM_DIR AUDIO.raw     (from the repository root)
# AUDIO.raw: mono int16 at 16 kHz, little-endian (make_raw.py writes one from a WAV). The app
# reads it by semihosting in 512-sample blocks, as a microphone's DMA would deliver them.
# It first runs build.sh (same OUT, MODEL, CORE, NN_OPT) for the TFLM library and the
# one-window check, then compiles the app's generated sources, links and runs them.
# Environment as build.sh, plus HOP (seconds, default listen's 0.5). Outputs in OUT:
# app.txt (one line per hop with its ticks), app.map, app.sizes.json.
set -eu
TFLM=${1:?usage: app.sh TFLM_DIR AUDIO.raw}
AUDIO=${2:?usage: app.sh TFLM_DIR AUDIO.raw}
HERE=benchmarks/cortex-m
OUT=${OUT:-$HERE/build}
MODEL=${MODEL:-multi-xs-micro}
PY=${PY:-.venv/bin/python}
CORE=${CORE:-m4}
HOP=${HOP:-0.5}
case "$CORE" in
  m4)  CPU="-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16"
       BOARD=mps2-an386; LDS=$HERE/mps2_an386.ld ;;
  m55) CPU="-mcpu=cortex-m55 -mthumb -mfloat-abi=hard"
       BOARD=mps3-an547; LDS=$HERE/mps3_an547.ld ;;
  *)   echo "app.sh: error: CORE=$CORE: use m4 or m55" >&2; exit 2 ;;
esac
CFLAGS="$CPU -O2 -ffunction-sections -fdata-sections -Wall -Wextra"
LDFLAGS="$CPU -T $LDS -nostartfiles --specs=rdimon.specs -Wl,--gc-sections"
QEMU="qemu-system-arm -M $BOARD -nographic -semihosting-config enable=on,target=native -icount shift=0"
[ -f "$AUDIO" ] || { echo "app.sh: error: $AUDIO: no such file" >&2; exit 2; }
AUDIO=$(cd "$(dirname "$AUDIO")" && pwd)/$(basename "$AUDIO")

if [ ! -f "$OUT/libtflm-sernet.a" ] || [ "${APP_REBUILD:-1}" = 1 ]; then
  OUT=$OUT MODEL=$MODEL CORE=$CORE PY=$PY "$HERE/build.sh" "$TFLM" > "$OUT.build.log" 2>&1 \
    || { tail -20 "$OUT.build.log" >&2; exit 1; }
fi
G="$OUT/app"
rm -rf "$G"
mkdir -p "$G"
$PY -m sernet_edge export-c "$MODEL" --app --hop "$HOP" -o "$G" > /dev/null
D="$TFLM/tensorflow/lite/micro/tools/make/downloads"
STEM=$(basename "$(ls "$G"/*_model_data.h)" _model_data.h)
DEFS="-DSERNET_APP_SYSTICK -DSERNET_APP_CLOCK=sernet_app_clock -DSERNET_APP_INPUT=\"$AUDIO\""
for f in sernet_app sernet_gate sernet_frontend; do
  arm-none-eabi-gcc -std=c99 $CFLAGS $DEFS -I "$G" -c "$G/$f.c" -o "$G/$f.o"
done
arm-none-eabi-gcc -std=c99 $CFLAGS $DEFS -I "$G" -c "$G/app_main.c" -o "$G/app_main.o"
arm-none-eabi-gcc -std=c11 $CFLAGS -c "$G/${STEM}_model_data.c" -o "$G/model_data.o"
arm-none-eabi-g++ -std=c++17 $CFLAGS -Wno-unused-parameter -fno-rtti -fno-exceptions -fno-threadsafe-statics \
  -fno-use-cxa-atexit -DTF_LITE_STATIC_MEMORY -DTF_LITE_STRIP_ERROR_STRINGS -I "$G" -I "$TFLM" \
  -I "$D/flatbuffers/include" -I "$D/gemmlowp" -c "$G/sernet_app_tflm.cc" -o "$G/sernet_app_tflm.o"
arm-none-eabi-g++ $LDFLAGS "$OUT/startup.o" "$G/app_main.o" "$G/sernet_app.o" "$G/sernet_gate.o" \
  "$G/sernet_frontend.o" "$G/model_data.o" "$G/sernet_app_tflm.o" "$OUT/libtflm-sernet.a" \
  -Wl,-Map="$OUT/app.map" -lm -o "$OUT/app.elf"
arm-none-eabi-size "$OUT/app.elf" | tee "$OUT/app.size"
$QEMU -kernel "$OUT/app.elf" > "$OUT/app.txt"
tail -3 "$OUT/app.txt"
$PY $HERE/map_sizes.py "$OUT/app.map" > "$OUT/app.sizes.json"
