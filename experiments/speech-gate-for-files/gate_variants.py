"""Which gate for files: agreement with no gate and UAR on CREMA-D clips (every 14th) + EMO-DB."""
import glob, collections, json, sys
import numpy as np
import sernet_edge.vad as vad
from sernet_edge.runtime import EmotionClassifier
M = {"ANG":"anger","DIS":"disgust","FEA":"fear","HAP":"happiness","NEU":"neutral","SAD":"sadness"}
files = sorted(glob.glob("/work/data/crema-d/all/*.wav"))[::14]
truth = [M[f.split("/")[-1].split("_")[2]] for f in files]
off = [EmotionClassifier(vad="off").classify_file(f).label for f in files]
def uar(pred):
    rec = collections.defaultdict(list)
    for t, p in zip(truth, pred): rec[t].append(t == p)
    return round(100 * np.mean([np.mean(v) for v in rec.values()]), 2)
out = {"off": uar(off)}
for name, kind, mode in [("energy", "energy", None), ("webrtc3", "webrtc", 3), ("webrtc2", "webrtc", 2), ("webrtc1", "webrtc", 1), ("webrtc0", "webrtc", 0)]:
    if mode is not None: vad.WEBRTC_MODE = mode; vad.WebRtcGate.__init__.__defaults__ = (vad.DEFAULT_ENERGY_DB, mode, vad.MIN_SPEECH_FRACTION)
    clf = EmotionClassifier(vad=kind)
    res = [clf.classify_file(f) for f in files]
    pred = [r.label for r in res]
    out[name] = {"uar": uar(pred), "no_speech": sum(p == "no speech" for p in pred), "changed": sum(a != b for a, b in zip(pred, off)),
                 "short": sum(any(w["code"] == "short" for w in r.warnings) for r in res),
                 "speech_share": round(sum(r.speech_seconds for r in res) / sum(r.duration for r in res), 3)}
    print(name, out[name], flush=True)
print("off", out["off"])
json.dump(out, open(sys.argv[1], "w"), indent=1)
