import functools, sys, numpy as np
import sernet_edge.runtime as runtime
from sernet_edge.corpora import load_corpus
from sernet_edge.speech import recording_gate
clf = runtime.EmotionClassifier("multi")
c = load_corpus('/work/data/crema-d'); items = sorted(c.items, key=lambda it: str(it.path)); items=[items[i*len(items)//100] for i in range(100)]
res={}
for t in (False, True):
    runtime.recording_gate = functools.partial(recording_gate, track_noise=t)
    rs=[clf.classify_file(it.path) for it in items]; res[t]=([r.label for r in rs], sum(r.speech_seconds for r in rs))
print('changed', sum(a!=b for a,b in zip(res[False][0],res[True][0])), 'speech', res[False][1], res[True][1])
