"""Light-SERNet in PyTorch, for recipe sweeps with many seeds on a GPU machine.

Exploration only: the shipped models are trained by `sernet-edge train` (Keras, CPU). On the
unseen-corpus check one seed moves the score by 12 points, so a setting needs many seeds
before it can be told apart from the recipe, and a CPU run costs 20-40 minutes. This port
runs the same network and recipe (Adam, cosine schedule, L2 on the conv kernels, dropout,
label smoothing, EMA of every weight and BN statistic, corpus- and class-balanced draws,
epoch chosen on validation speakers) on the packed features of `torch_sweep_pack.py`,
many runs at once. A setting that wins here is then run with the Keras trainer before it
is believed. Needs numpy and torch only.

`--group K` trains K seeds of one setting as one network whose convolutions have K groups
(`grouped`): the same arithmetic per seed, K times the work per kernel launch. A network
this small leaves a GPU waiting on launches, and separate processes only time-slice it.

  python experiments/torch-sweep/torch_sweep.py PACK.npz --out results.jsonl --plan loco --seeds 8
  python experiments/torch-sweep/torch_sweep.py PACK.npz --out r.jsonl --plan loco --seeds 32 --group 16
  python experiments/torch-sweep/torch_sweep.py PACK.npz --out r.jsonl --smoke     # a short check, CPU
"""

from __future__ import annotations

import argparse
import json
import math
import queue
import time

import numpy as np

DEFAULTS = dict(split="loco", seed=0, epochs=20, lr=5e-4, batch=32, l2=1e-6, dropout=0.3,
                label_smoothing=0.1, ema=0.995, balance="corpus", labels="intended",
                soft_weight=0.5, specaugment=False, mixup=False, max_train=0)

# settings swept, each a change from DEFAULTS (the shipped multi recipe, CMVN features)
SETTINGS = {
    "recipe": {},
    "soft-votes": {"labels": "soft"},
    "agreed-only": {"labels": "agreed"},
    "specaugment": {"specaugment": True},
    "mixup": {"mixup": True},
    "dropout-0.5": {"dropout": 0.5},
    "l2-1e-4": {"l2": 1e-4},
    "smoothing-0": {"label_smoothing": 0.0},
    "smoothing-0.2": {"label_smoothing": 0.2},
    "epochs-10": {"epochs": 10},
    "epochs-40": {"epochs": 40},
    "lr-1e-3": {"lr": 1e-3},
    "no-ema": {"ema": 0.0},
    # issue 40 (experiments/recipe-on-dev-corpora/): which examples an epoch draws, and the rate
    "balance-none": {"balance": "none"},
    "balance-sqrt": {"balance": "sqrt"},
    "lr-2.5e-4": {"lr": 2.5e-4},
}


# ---- the network (sernet_edge/train/model.py, Keras defaults kept) ----

def build(n_classes: int, dropout: float):
    import torch
    from torch import nn

    def conv(cin, cout, k, bias=True):
        c = nn.Conv2d(cin, cout, k, padding="same", bias=bias)
        nn.init.xavier_uniform_(c.weight)        # Keras glorot_uniform, zero bias
        if bias:
            nn.init.zeros_(c.bias)
        return c

    def bn(c):
        return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)   # Keras: epsilon 1e-3, momentum 0.99

    def pool(k):
        # TF "same" average pooling: a window past the edge averages the values it covers
        return nn.AvgPool2d(k, k, ceil_mode=True, count_include_pad=False)

    class LightSERNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.paths = nn.ModuleList(nn.Sequential(conv(1, 32, k), bn(32), nn.ReLU(), pool(2))
                                       for k in ((11, 1), (1, 9), (3, 3)))
            blocks, cin = [], 96
            for cout, p in zip((64, 96, 128, 160), ((2, 2), (2, 2), (2, 1), (2, 1))):
                blocks += [conv(cin, cout, 3, bias=False), bn(cout), nn.ReLU(), pool(p)]
                cin = cout
            blocks += [conv(cin, 320, 1, bias=False), bn(320), nn.ReLU()]
            self.body = nn.Sequential(*blocks)
            self.drop = nn.Dropout(dropout)
            self.head = nn.Linear(320, n_classes)
            nn.init.xavier_uniform_(self.head.weight)
            nn.init.zeros_(self.head.bias)

        def forward(self, x):                        # x: (B, frames, 40), time first
            x = x.unsqueeze(1)
            x = torch.cat([p(x) for p in self.paths], 1)
            x = self.body(x).mean((2, 3))
            return self.head(self.drop(x))           # logits

        def l2_terms(self):
            return [m.weight for m in self.modules() if isinstance(m, nn.Conv2d)]

    return LightSERNet()


def grouped(models):
    """K networks from `build` as one: each convolution gets K groups, each BatchNorm K times
    the channels, and the head one matrix per network, so network k computes on input
    channel k exactly what it computes alone. Input (B, K, frames, 40), logits (B, K, classes)."""
    import torch
    from torch import nn

    k = len(models)

    def merge(layers):
        first = layers[0]
        if isinstance(first, nn.Conv2d):
            m = nn.Conv2d(first.in_channels * k, first.out_channels * k, first.kernel_size,
                          padding="same", groups=k, bias=first.bias is not None)
        elif isinstance(first, nn.BatchNorm2d):
            m = nn.BatchNorm2d(first.num_features * k, eps=first.eps, momentum=first.momentum)
        else:
            return first                                  # ReLU, pooling: no state
        with torch.no_grad():
            for name, value in m.named_parameters(recurse=False):
                value.copy_(torch.cat([getattr(layer, name) for layer in layers]))
            for name, value in m.named_buffers(recurse=False):
                if value.dtype.is_floating_point:
                    value.copy_(torch.cat([getattr(layer, name) for layer in layers]))
        return m

    def sequential(seqs):
        return nn.Sequential(*(merge(list(layers)) for layers in zip(*seqs)))

    class Grouped(nn.Module):
        def __init__(self):
            super().__init__()
            self.k = k
            self.paths = nn.ModuleList(sequential([m.paths[i] for m in models])
                                       for i in range(len(models[0].paths)))
            self.body = sequential([m.body for m in models])
            self.drop = nn.Dropout(models[0].drop.p)
            self.head_w = nn.Parameter(torch.stack([m.head.weight.detach() for m in models]))
            self.head_b = nn.Parameter(torch.stack([m.head.bias.detach() for m in models]))

        def forward(self, x):                        # x: (B, K, frames, 40)
            b = x.shape[0]
            # each path gives (B, K*32, ...); the body wants network k's 96 channels together
            x = torch.cat([p(x).unflatten(1, (self.k, -1)) for p in self.paths], 2).flatten(1, 2)
            x = self.body(x).mean((2, 3)).view(b, self.k, -1)
            return torch.einsum("bkc,koc->bko", self.drop(x), self.head_w) + self.head_b

        def l2_terms(self):
            return [m.weight for m in self.modules() if isinstance(m, nn.Conv2d)]

    return Grouped()


# ---- data ----

def quantise_int8(X: np.ndarray, scale: float) -> tuple[np.ndarray, dict]:
    """Features as int8 steps of 1/scale (beyond +-127 steps clipped), and what that cost."""
    q = np.clip(np.round(X * scale), -127, 127).astype(np.int8)
    return q, {"max_abs_quantisation_error": float(np.abs(q / scale - X).max()),
               "clipped_fraction": float(np.mean(np.abs(X) > 127 / scale))}


def encode_int8(q: np.ndarray) -> np.ndarray:
    """(clips, frames, coeffs) int8 as lzma bytes of the differences between successive frames
    (mod 256): neighbouring frames overlap by 3/4 of a window, so they compress to about 57 %."""
    import lzma
    d = q.copy()
    d[:, 1:] = (q[:, 1:].astype(np.int16) - q[:, :-1]).astype(np.int8)
    return np.frombuffer(lzma.compress(d.tobytes(), preset=6), np.uint8)


def decode_int8(buf: np.ndarray, shape) -> np.ndarray:
    import lzma
    d = np.frombuffer(lzma.decompress(buf.tobytes()), np.int8).reshape(shape)
    return np.cumsum(d.view(np.uint8), axis=1, dtype=np.uint8).view(np.int8)


def load_int8(z) -> np.ndarray:
    """A pack's X, plain int8 or `encode_int8`'s bytes (Xz, with its shape)."""
    return decode_int8(z["Xz"], tuple(z["X_shape"])) if "Xz" in z.files else z["X"]


class DevPack:
    """Windows of the development corpora (experiments/recipe-on-dev-corpora/pack_dev.py):
    evaluation only. A clip's answer is the mean of its windows' probabilities, as `evaluate`."""

    def __init__(self, path):
        z = np.load(path)
        self.meta = json.loads(str(z["meta"]))
        self.Xq, self.window_clip = load_int8(z), z["window_clip"].astype(np.int64)
        self.corpus, self.y, self.speakers = z["corpus"], z["y"].astype(np.int64), z["speakers"]

    def features(self, device):
        import torch
        return torch.from_numpy(self.Xq).to(device).float() / self.meta["scale"]


def dev_scores(dev: DevPack, probs: np.ndarray, labels: list[str]) -> dict:
    """Per corpus: UAR of the most probable of all classes and of the classes the corpus has
    (shared), recall per class, and each clip's two answers ('-': no speech, no window)."""
    n = len(labels)
    clip_p = np.zeros((len(dev.y), n))
    count = np.bincount(dev.window_clip, minlength=len(dev.y))
    np.add.at(clip_p, dev.window_clip, probs)
    has = count > 0
    clip_p[has] /= count[has, None]
    out = {}
    for name in sorted(set(dev.corpus.tolist())):
        inside = dev.corpus == name
        y = dev.y[inside]
        present = sorted(set(y.tolist()))
        p = clip_p[inside]
        answer_all = np.where(has[inside], p.argmax(1), -1)
        masked = np.full_like(p, -np.inf)
        masked[:, present] = p[:, present]
        answer_shared = np.where(has[inside], masked.argmax(1), -1)
        out[name] = {
            "n": int(inside.sum()), "no_speech": int((~has[inside]).sum()),
            "classes": [labels[c] for c in present],
            "uar_all": round(uar(y, answer_all, n), 5),
            "uar_shared": round(uar(y, answer_shared, n), 5),
            "recall_shared": {labels[c]: round(float(np.mean(answer_shared[y == c] == c)), 5)
                              for c in present},
            "answers_all": "".join("-" if a < 0 else str(a) for a in answer_all),
            "answers_shared": "".join("-" if a < 0 else str(a) for a in answer_shared)}
    return out


def dev_means(scores: dict) -> dict:
    """`dev_scores`'s UARs (shared classes, all classes) averaged over the corpora."""
    return {"dev_mean_shared": round(float(np.mean([d["uar_shared"] for d in scores.values()])), 5),
            "dev_mean_all": round(float(np.mean([d["uar_all"] for d in scores.values()])), 5)}


class Pack:
    def __init__(self, path):
        z = np.load(path)
        self.meta = json.loads(str(z["meta"]))
        self.Xq, self.y = load_int8(z), z["y"].astype(np.int64)
        self.speakers, self.corpus, self.voted = z["speakers"], z["corpus"], z["voted"]
        self.labels = self.meta["labels"]

    def features(self, device):
        """Every clip's features, dequantised, as one float32 tensor on `device`."""
        import torch
        return torch.from_numpy(self.Xq).to(device).float() / self.meta["scale"]

    def index(self, speakers) -> np.ndarray:
        return np.flatnonzero(np.isin(self.speakers, list(speakers)))


def targets(pack: Pack, idx, cfg) -> np.ndarray:
    n = len(pack.labels)
    T = np.eye(n, dtype=np.float32)[pack.y[idx]]
    if cfg["labels"] == "soft":
        v = pack.voted[idx].astype(np.float32)
        has = v.sum(1) > 0
        v[has] /= v[has].sum(1, keepdims=True)
        w = cfg["soft_weight"]
        T[has] = (1 - w) * T[has] + w * v[has]
    if cfg["label_smoothing"]:
        T = T * (1 - cfg["label_smoothing"]) + cfg["label_smoothing"] / n
    return T


def draw_weights(pack: Pack, idx, balance: str):
    """As trainer.sample_weights: every corpus ("corpus"), or each corpus in proportion to the
    square root of its size ("sqrt"), and within a corpus every class, equally often."""
    if balance == "none":
        return None
    y, origin = pack.y[idx], pack.corpus[idx]
    w = np.zeros(len(idx))
    corpora = sorted(set(origin.tolist()))
    sizes = {name: int(np.sum(origin == name)) for name in corpora}
    share = {name: (math.sqrt(sizes[name]) if balance == "sqrt" else 1.0) for name in corpora}
    total = sum(share.values())
    for name in corpora:
        inside = origin == name
        classes = np.unique(y[inside])
        for c in classes:
            m = inside & (y == c)
            w[m] = share[name] / total / (m.sum() * len(classes))
    return w / w.sum()


def uar(y_true, y_pred, n) -> float:
    recalls = [np.mean(y_pred[y_true == c] == c) for c in range(n) if np.any(y_true == c)]
    return float(np.mean(recalls)) if recalls else 0.0


# ---- one run, or several seeds of one setting as one network ----

# what may differ between the runs of one group (the rest shapes the data and the schedule)
PER_RUN = ("seed",)


def shared_settings(cfg: dict) -> dict:
    """What runs must agree on to train as one group."""
    return {k: v for k, v in cfg.items() if k not in PER_RUN}


def run(pack: Pack, cfg: dict, device: str, X_all=None) -> dict:
    return run_group(pack, [cfg], device, X_all)[0]


def run_group(pack: Pack, cfgs: list[dict], device: str, X_all=None, dev: DevPack | None = None,
              dev_X=None) -> list[dict]:
    """Train the runs `cfgs` (settings that differ only in PER_RUN) together; one result each.
    Each run has its own initial weights, draws and augmentation from its seed, as alone;
    only dropout's masks come from one generator for all. With `dev`, each run's selected
    weights then score the development corpora (`dev_scores`)."""
    import torch
    import torch.nn.functional as F

    t0 = time.time()
    cfgs = [DEFAULTS | c for c in cfgs]
    cfg = cfgs[0]
    if any(shared_settings(c) != shared_settings(cfg) for c in cfgs):
        raise ValueError("runs of one group must differ only in " + ", ".join(PER_RUN))
    split = pack.meta["splits"][cfg["split"]]
    tr, va, te = (pack.index(split[k]) for k in ("train", "val", "test"))
    if cfg["labels"] == "agreed":   # CREMA-D clips whose voice vote includes the intended emotion
        keep = (pack.corpus[tr] != "crema-d") | (pack.voted[tr, pack.y[tr]] == 1)
        tr = tr[keep]
    if cfg["max_train"]:
        tr = tr[np.random.default_rng(0).permutation(len(tr))[:cfg["max_train"]]]
        va, te = va[:200], te[:200]
    n, k = len(pack.labels), len(cfgs)
    rngs = [np.random.default_rng(c["seed"]) for c in cfgs]
    singles = []
    for c in cfgs:
        torch.manual_seed(c["seed"])
        singles.append(build(n, cfg["dropout"]))
    model = grouped(singles).to(device)
    shadow = grouped(singles).to(device).eval()
    if X_all is None:
        X_all = pack.features(device)
    T = torch.from_numpy(targets(pack, tr, cfg)).to(device)
    tr_dev = torch.from_numpy(tr).to(device)
    weights = draw_weights(pack, tr, cfg["balance"])

    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], eps=1e-7)
    ema = {name: v.detach().clone() for name, v in model.state_dict().items()
           if v.dtype.is_floating_point}
    chunk = max(64, 1024 // k)   # evaluation activations grow with k

    def evaluate(idx):
        """Per run: (UAR, mean loss, predictions) of the EMA weights on clips `idx`."""
        shadow.load_state_dict(ema, strict=False)
        preds, losses = [], []
        with torch.no_grad():
            for i in range(0, len(idx), chunk):
                j = torch.from_numpy(idx[i:i + chunk]).to(device)
                x = X_all[j]
                logp = F.log_softmax(shadow(x[:, None].expand(-1, k, -1, -1)), -1)
                truth = torch.from_numpy(pack.y[idx[i:i + chunk]]).to(device)
                preds.append(logp.argmax(-1).cpu().numpy())
                losses.append(-logp.gather(2, truth[:, None, None].expand(-1, k, 1))[..., 0]
                              .clamp(max=16.1).cpu().numpy())
        p, loss = np.concatenate(preds), np.concatenate(losses)      # (clips, k)
        return [(uar(pack.y[idx], p[:, r], n), float(loss[:, r].mean()), p[:, r])
                for r in range(k)]

    histories, best, best_state = [[] for _ in cfgs], [None] * k, [None] * k
    steps = math.ceil(len(tr) / cfg["batch"])
    for epoch in range(cfg["epochs"]):
        lr = cfg["lr"] * 0.5 * (1 + math.cos(math.pi * epoch / cfg["epochs"]))
        for g in opt.param_groups:
            g["lr"] = lr
        orders = np.stack([rng.permutation(len(tr)) if weights is None else
                           rng.choice(len(tr), size=len(tr), replace=True, p=weights)
                           for rng in rngs])
        orders = torch.from_numpy(orders).to(device)                 # (k, clips)
        model.train()
        for s in range(steps):
            b = orders[:, s * cfg["batch"]:(s + 1) * cfg["batch"]]      # (k, batch)
            x, t = X_all[tr_dev[b]].transpose(0, 1), T[b].transpose(0, 1)   # batch first
            if cfg["specaugment"] or cfg["mixup"]:
                x, t = x.clone(), t.clone()
                for r, rng in enumerate(rngs):
                    if cfg["specaugment"]:
                        x[:, r] = spec_augment(x[:, r], rng)
                    if cfg["mixup"]:
                        lam = torch.from_numpy(rng.beta(0.2, 0.2, len(x)).astype(np.float32)).to(device)
                        perm = torch.from_numpy(rng.permutation(len(x))).to(device)
                        x[:, r] = lam[:, None, None] * x[:, r] + (1 - lam[:, None, None]) * x[perm, r]
                        t[:, r] = lam[:, None] * t[:, r] + (1 - lam[:, None]) * t[perm, r]
            # the sum of each run's mean loss: run r's gradient is its own loss's
            loss = -(t * F.log_softmax(model(x), -1)).sum(-1).mean(0).sum()
            if cfg["l2"]:
                loss = loss + cfg["l2"] * sum((w * w).sum() for w in model.l2_terms())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if cfg["ema"]:
                with torch.no_grad():
                    state = model.state_dict()
                    keys = list(ema)
                    torch._foreach_lerp_([ema[key] for key in keys], [state[key] for key in keys],
                                         1.0 - cfg["ema"])
        if not cfg["ema"]:      # evaluate scores the weights themselves
            ema = {name: v.detach().clone() for name, v in model.state_dict().items()
                   if v.dtype.is_floating_point}
        for r, ((v_uar, v_loss, _), (t_uar, _, t_pred)) in enumerate(zip(evaluate(va), evaluate(te))):
            row = {"epoch": epoch + 1, "val_uar": round(v_uar, 5), "val_loss": round(v_loss, 5),
                   "test_uar": round(t_uar, 5)}
            histories[r].append(row)
            if best[r] is None or (round(v_uar, 6), -v_loss) > (round(best[r][0]["val_uar"], 6),
                                                               -best[r][0]["val_loss"]):
                best[r] = (row, t_pred)
                if dev is not None:
                    best_state[r] = {key: v.clone() for key, v in ema.items()}
    dev_out = [None] * k
    if dev is not None:
        if dev_X is None:
            dev_X = dev.features(device)
        for r in range(k):
            shadow.load_state_dict(best_state[r], strict=False)
            probs = []
            with torch.no_grad():
                for i in range(0, len(dev_X), chunk):
                    x = dev_X[i:i + chunk]
                    probs.append(F.softmax(shadow(x[:, None].expand(-1, k, -1, -1))[:, r], -1)
                                 .cpu().numpy())
            dev_out[r] = dev_scores(dev, np.concatenate(probs), pack.labels)
    seconds = round(time.time() - t0, 1)
    out = []
    for r, (c, history, (row, pred)) in enumerate(zip(cfgs, histories, best)):
        per_corpus = {name: round(uar(pack.y[te][pack.corpus[te] == name],
                                      pred[pack.corpus[te] == name], n), 5)
                      for name in sorted(set(pack.corpus[te].tolist()))}
        out.append({"config": c, "front": pack.meta.get("front", "mfcc"),
                    "selected_epoch": row["epoch"], "val_uar": row["val_uar"],
                    "test_uar": row["test_uar"], "test_per_corpus": per_corpus,
                    "best_test_uar_any_epoch": max(h["test_uar"] for h in history),
                    "y_pred": "".join(map(str, pred.tolist())), "history": history,
                    "seconds": seconds, "group_size": k})
        if dev_out[r] is not None:
            out[-1] |= {"dev": dev_out[r], **dev_means(dev_out[r])}
    return out


def spec_augment(x, rng, masks=2, max_time=20, max_freq=4):
    """As augment.spec_augment: two time masks (<= 20 frames), two coefficient masks (<= 4)."""
    import torch
    b, frames, coeffs = x.shape
    keep = torch.ones_like(x)
    for size, length, axis in ((max_time, frames, 1), (max_freq, coeffs, 2)):
        for _ in range(masks):
            w = rng.integers(0, size + 1, b)
            start = rng.integers(0, np.maximum(1, length - w))
            pos = np.arange(length)
            m = (pos[None] >= start[:, None]) & (pos[None] < (start + w)[:, None])
            m = torch.from_numpy(m).to(x.device)
            keep = keep * (~m[:, :, None] if axis == 1 else ~m[:, None, :])
    return x * keep


# ---- many runs ----

def plan(kind: str, seeds: int, cv_seeds: int, settings) -> list[dict]:
    """Seed-major order, so that a sweep cut short has every setting at the same seeds; with
    "both", the first CV seed comes after half the leave-one-corpus-out seeds."""
    def loco(s):
        return [{"name": n, "split": "loco", "seed": 1000 + s} | SETTINGS[n] for n in settings]

    def cv(s):
        return [{"name": n, "split": f"cv{fold}", "seed": 2000 + s} | SETTINGS[n]
                for fold in range(5) for n in settings]

    if kind == "loco":
        return [r for s in range(seeds) for r in loco(s)]
    if kind == "cv":
        return [r for s in range(cv_seeds) for r in cv(s)]
    half = (seeds + 1) // 2
    return [r for s in range(half) for r in loco(s)] + cv(0) + \
        [r for s in range(half, seeds) for r in loco(s)] + \
        [r for s in range(1, cv_seeds) for r in cv(s)]


def groups(runs: list[dict], size: int) -> list[list[dict]]:
    """The planned runs as jobs of at most `size` runs that may train together (the same
    but for PER_RUN), each job where its first run was planned."""
    jobs, open_jobs = [], {}
    for r in runs:
        key = json.dumps(shared_settings(r), sort_keys=True)
        job = open_jobs.get(key)
        if job is None or len(job) == size:
            job = open_jobs[key] = []
            jobs.append(job)
        job.append(r)
    return jobs


def worker(pack_path, device, jobs, results, deadline, dev_path=None):
    import torch
    torch.backends.cudnn.benchmark = True
    pack = Pack(pack_path)
    X_all = pack.features(device)
    dev = DevPack(dev_path) if dev_path else None
    dev_X = dev.features(device) if dev is not None else None
    while time.time() < deadline:
        try:
            job = jobs.get_nowait()
        except queue.Empty:
            return
        names = [cfg.pop("name") for cfg in job]
        try:
            outs = run_group(pack, job, device, X_all, dev, dev_X)
        except Exception as e:  # one bad job must not lose the others
            outs = [{"config": cfg, "error": repr(e)} for cfg in job]
        for name, out in zip(names, outs):
            results.put(out | {"name": name})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pack")
    ap.add_argument("--out", required=True, help="results, one JSON line per run (appended)")
    ap.add_argument("--plan", choices=("loco", "cv", "both"), default="loco")
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--cv-seeds", type=int, default=1)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--group", type=int, default=1,
                    help="train up to this many seeds of a setting as one network")
    ap.add_argument("--minutes", type=float, default=8.0, help="start no run after this")
    ap.add_argument("--hard-minutes", type=float, default=0.0,
                    help="stop the runs still going after this (default: let them finish)")
    ap.add_argument("--smoke", action="store_true", help="2 epochs on 600 clips, one run each")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dev", help="development corpora's windows (pack_dev.py): score each run there")
    ap.add_argument("--quick", action="store_true",
                    help="every planned run cut to 1 epoch on 300 clips (to check the machinery)")
    a = ap.parse_args()
    if a.smoke:
        import torch
        pack = Pack(a.pack)
        dev = DevPack(a.dev) if a.dev else None
        device = "cuda" if torch.cuda.is_available() else "cpu"
        for name in a.settings.split(","):
            job = [{"epochs": 2, "max_train": 600, "seed": 1 + s} | SETTINGS[name]
                   for s in range(a.group)]
            for out in run_group(pack, job, device, dev=dev):
                print(name, {k: out.get(k) for k in ("selected_epoch", "val_uar", "test_uar",
                                                     "dev_mean_shared", "seconds")})
        return
    import torch.multiprocessing as mp
    ctx = mp.get_context("spawn")
    jobs, results = ctx.Queue(), ctx.Queue()
    runs = plan(a.plan, a.seeds, a.cv_seeds, a.settings.split(","))
    if a.quick:
        runs = [r | {"epochs": 1, "max_train": 300} for r in runs]
    for job in groups(runs, a.group):
        jobs.put(job)
    deadline = time.time() + 60 * a.minutes
    procs = [ctx.Process(target=worker, args=(a.pack, a.device, jobs, results, deadline, a.dev))
             for _ in range(a.workers)]
    for p in procs:
        p.start()
    done, t0 = 0, time.time()
    hard = t0 + 60 * a.hard_minutes if a.hard_minutes else float("inf")
    with open(a.out, "a") as f:
        while any(p.is_alive() for p in procs) or not results.empty():
            if time.time() > hard:
                for p in procs:
                    p.terminate()
                hard = float("inf")
                print("hard deadline: runs still going were stopped", flush=True)
            try:
                out = results.get(timeout=2)
            except queue.Empty:
                continue
            f.write(json.dumps(out) + "\n")
            f.flush()
            done += 1
            print(f"{time.time() - t0:6.0f} s  {done}/{len(runs)}  {out['name']} "
                  f"{out['config'].get('split')} seed {out['config'].get('seed')}: "
                  f"test {out.get('test_uar')} val {out.get('val_uar')} "
                  f"dev {out.get('dev_mean_shared')} "
                  f"({out.get('seconds')} s) {out.get('error', '')}", flush=True)
    print(f"{done} of {len(runs)} runs in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
