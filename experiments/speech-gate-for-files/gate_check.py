"""Speech gate on whole corpora: how many clips lose speech, and how often labels change."""
import json, sys, glob, collections
import numpy as np
from sernet_edge.runtime import EmotionClassifier
files = sorted(glob.glob("/work/shared/data/emodb/**/*.wav", recursive=True))
crema = sorted(glob.glob("/work/data/crema-d/all/*.wav"))
files += crema[::7]
on, off = EmotionClassifier(), EmotionClassifier(vad="off")
rows = []
for f in files:
    a, b = on.classify_file(f), off.classify_file(f)
    rows.append({"file": f.split("/")[-1], "corpus": "emodb" if "emodb" in f else "crema-d", "on": a.label, "off": b.label,
                 "speech": a.speech_seconds, "duration": a.duration, "warnings": [w["code"] for w in a.warnings]})
json.dump(rows, open(sys.argv[1], "w"))
for c in ("emodb", "crema-d"):
    r = [x for x in rows if x["corpus"] == c]
    print(c, len(r), "no speech", sum(x["on"] == "no speech" for x in r), "changed", sum(x["on"] != x["off"] for x in r),
          "speech/duration", round(sum(x["speech"] for x in r) / sum(x["duration"] for x in r), 3),
          collections.Counter(w for x in r for w in x["warnings"]))
