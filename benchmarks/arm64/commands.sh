#!/usr/bin/env bash
# The commands whose outputs check.sh compares between the arm64 root and this x86-64 host.
# Both sides run this same file.  usage: commands.sh SERNET_EDGE CLIPS_DIR OUT_DIR
set -euo pipefail
[ $# = 3 ] || { echo "usage: commands.sh SERNET_EDGE CLIPS_DIR OUT_DIR" >&2; exit 2; }
SE=$1; CLIPS=$2; OUT=$3
MODELS=(multi multi-float16 multi-micro emodb emodb-float16)
LISTEN_CLIP=13a05Tc.wav    # the longest bundled clip (4.5 s): 9 hops
mkdir -p "$OUT"
: > "$OUT/times.tsv"

# timed NAME OUTFILE CMD...: stdout to OUT/OUTFILE, stderr to OUT/NAME.err; a failure is
# recorded (exit code column) and the next command still runs
timed() {
  local name=$1 out=$2 t0 t1 rc=0
  shift 2
  t0=$(date +%s%N)
  "$@" > "$OUT/$out" 2> "$OUT/$name.err" || rc=$?
  t1=$(date +%s%N)
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$(( (t1 - t0) / 1000000 ))" "${*/#$SE/sernet-edge}" >> "$OUT/times.tsv"
}

timed version version.txt "$SE" --version
for m in "${MODELS[@]}"; do
  timed "classify-$m" "classify-$m.json" "$SE" classify -m "$m" -f json "$CLIPS"/*.wav
done
timed listen listen.jsonl "$SE" listen --file "$CLIPS/$LISTEN_CLIP" --fast --json --min-speech 0 --vad webrtc
timed bench bench.json "$SE" bench --no-timing --json - "${MODELS[@]}"
