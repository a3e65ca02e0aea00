import sys, numpy as np
sys.argv=['x']
import sernet_edge.speech as sp
sys.path.insert(0,'benchmarks')
import noise_gates as ng
from sernet_edge.corpora import load_corpus
from sernet_edge.audio import load_audio
from sernet_edge.noise import Room, Talkers
clips=[]
for folder in ['/work/shared/data/emodb','/work/data/crema-d']:
    c=load_corpus(folder); items=sorted(c.items,key=lambda it:str(it.path)); step=len(items)//15
    clips += [(c.name,it) for it in items[::step][:15]]
talk=Talkers([(str(it.path), f"{c}/{it.speaker}") for c,it in clips], seed=1)
data=[]
for kind in ['pink','brown','babble']:
  for snr in (20,10):
    room=Room(kind,snr,seed=1,pad_seconds=2.0,talkers=talk)
    for name,it in clips:
        x=load_audio(it.path); speech=ng.kept_mask(x,'energy',False)
        y=room.apply(x,str(it.path),f"{name}/{it.speaker}")
        pad=32000; truth=np.zeros(len(y),bool); truth[pad:pad+len(x)]=speech
        no=np.ones(len(y),bool); no[pad:pad+len(x)]=False
        data.append((kind,snr,y,truth,no))
for margin in (6.0,):
  for edge in (1.5,):
    sp.NOISE_MARGIN_DB=margin; sp.EDGE_OVER_NOISE_DB=edge
    res={}
    for kind,snr,y,truth,no in data:
        # edge uses STEADY_RANGE_DB in speech_only
        old=sp.STEADY_RANGE_DB
        k=ng.kept_mask(y,'energy',True)
        r=res.setdefault((kind,snr),np.zeros(4)); r+=[np.sum(k&no),no.sum(),np.sum(k&truth),truth.sum()]
    print(margin, edge, ' '.join(f"{k[0]}{k[1]}:{100*v[0]/v[1]:.1f}/{100*v[2]/v[3]:.1f}" for k,v in res.items()))
