"""Light-SERNet in PyTorch, for recipe sweeps with many seeds on a GPU machine.

Exploration only: the shipped models are trained by `sernet-edge train` (Keras, CPU). On the
unseen-corpus check one seed moves the score by 12 points, so a setting needs many seeds
before it can be told apart from the recipe, and a CPU run costs 20-40 minutes. This port
runs the same network and recipe (Adam, cosine schedule, L2 on the conv kernels, dropout,
label smoothing, EMA of every weight and BN statistic, corpus- and class-balanced draws,
epoch chosen on validation speakers) on the packed features of `torch_sweep_pack.py`,
many runs at once. A setting that wins here is then run with the Keras trainer before it
is believed. Needs numpy and torch only.

  python benchmarks/torch_sweep.py PACK.npz --out results.jsonl --plan loco --seeds 8
  python benchmarks/torch_sweep.py PACK.npz --out r.jsonl --smoke     # a short check, CPU
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


# ---- data ----

class Pack:
    def __init__(self, path):
        z = np.load(path)
        self.meta = json.loads(str(z["meta"]))
        self.Xq, self.y = z["X"], z["y"].astype(np.int64)
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
    """As trainer.sample_weights: every corpus, and within it every class, equally often."""
    if balance == "none":
        return None
    y, origin = pack.y[idx], pack.corpus[idx]
    w = np.zeros(len(idx))
    corpora = sorted(set(origin.tolist()))
    for name in corpora:
        inside = origin == name
        classes = np.unique(y[inside])
        for c in classes:
            m = inside & (y == c)
            w[m] = 1.0 / (m.sum() * len(classes) * len(corpora))
    return w / w.sum()


def uar(y_true, y_pred, n) -> float:
    recalls = [np.mean(y_pred[y_true == c] == c) for c in range(n) if np.any(y_true == c)]
    return float(np.mean(recalls)) if recalls else 0.0


# ---- one run ----

def run(pack: Pack, cfg: dict, device: str, X_all=None) -> dict:
    import torch
    import torch.nn.functional as F

    t0 = time.time()
    cfg = DEFAULTS | cfg
    split = pack.meta["splits"][cfg["split"]]
    tr, va, te = (pack.index(split[k]) for k in ("train", "val", "test"))
    if cfg["labels"] == "agreed":   # CREMA-D clips whose voice vote includes the intended emotion
        keep = (pack.corpus[tr] != "crema-d") | (pack.voted[tr, pack.y[tr]] == 1)
        tr = tr[keep]
    if cfg["max_train"]:
        tr = tr[np.random.default_rng(0).permutation(len(tr))[:cfg["max_train"]]]
        va, te = va[:200], te[:200]
    n = len(pack.labels)
    rng = np.random.default_rng(cfg["seed"])
    torch.manual_seed(cfg["seed"])
    if X_all is None:
        X_all = pack.features(device)
    T = torch.from_numpy(targets(pack, tr, cfg)).to(device)
    tr_dev = torch.from_numpy(tr).to(device)
    weights = draw_weights(pack, tr, cfg["balance"])

    model = build(n, cfg["dropout"]).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], eps=1e-7)
    ema = {k: v.detach().clone() for k, v in model.state_dict().items() if v.dtype.is_floating_point}
    shadow = build(n, cfg["dropout"]).to(device).eval()

    def evaluate(idx):
        shadow.load_state_dict(ema, strict=False)
        preds, losses = [], []
        with torch.no_grad():
            for i in range(0, len(idx), 1024):
                j = torch.from_numpy(idx[i:i + 1024]).to(device)
                logp = F.log_softmax(shadow(X_all[j]), 1)
                preds.append(logp.argmax(1).cpu().numpy())
                losses.append(-logp.gather(1, torch.from_numpy(pack.y[idx[i:i + 1024]])
                                           .to(device)[:, None]).clamp(max=16.1).cpu().numpy())
        p = np.concatenate(preds)
        return uar(pack.y[idx], p, n), float(np.concatenate(losses).mean()), p

    history, best = [], None
    steps = math.ceil(len(tr) / cfg["batch"])
    for epoch in range(cfg["epochs"]):
        lr = cfg["lr"] * 0.5 * (1 + math.cos(math.pi * epoch / cfg["epochs"]))
        for g in opt.param_groups:
            g["lr"] = lr
        order = rng.permutation(len(tr)) if weights is None else \
            rng.choice(len(tr), size=len(tr), replace=True, p=weights)
        order = torch.from_numpy(order).to(device)
        model.train()
        for s in range(steps):
            b = order[s * cfg["batch"]:(s + 1) * cfg["batch"]]
            x, t = X_all[tr_dev[b]], T[b]
            if cfg["specaugment"]:
                x = spec_augment(x, rng)
            if cfg["mixup"]:
                lam = torch.from_numpy(rng.beta(0.2, 0.2, len(b)).astype(np.float32)).to(device)
                perm = torch.from_numpy(rng.permutation(len(b))).to(device)
                x = lam[:, None, None] * x + (1 - lam[:, None, None]) * x[perm]
                t = lam[:, None] * t + (1 - lam[:, None]) * t[perm]
            loss = -(t * F.log_softmax(model(x), 1)).sum(1).mean()
            if cfg["l2"]:
                loss = loss + cfg["l2"] * sum((w * w).sum() for w in model.l2_terms())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if cfg["ema"]:
                with torch.no_grad():
                    state = model.state_dict()
                    keys = list(ema)
                    torch._foreach_lerp_([ema[k] for k in keys], [state[k] for k in keys],
                                         1.0 - cfg["ema"])
            else:
                ema = {k: v.detach().clone() for k, v in model.state_dict().items()
                       if v.dtype.is_floating_point}
        v_uar, v_loss, _ = evaluate(va)
        t_uar, _, t_pred = evaluate(te)
        row = {"epoch": epoch + 1, "val_uar": round(v_uar, 5), "val_loss": round(v_loss, 5),
               "test_uar": round(t_uar, 5)}
        history.append(row)
        if best is None or (round(v_uar, 6), -v_loss) > (round(best[0]["val_uar"], 6),
                                                         -best[0]["val_loss"]):
            best = (row, t_pred)
    row, pred = best
    per_corpus = {c: round(uar(pack.y[te][pack.corpus[te] == c], pred[pack.corpus[te] == c], n), 5)
                  for c in sorted(set(pack.corpus[te].tolist()))}
    return {"config": cfg, "front": pack.meta.get("front", "mfcc"), "selected_epoch": row["epoch"], "val_uar": row["val_uar"],
            "test_uar": row["test_uar"], "test_per_corpus": per_corpus,
            "best_test_uar_any_epoch": max(h["test_uar"] for h in history),
            "y_pred": "".join(map(str, pred.tolist())), "history": history,
            "seconds": round(time.time() - t0, 1)}


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


def worker(pack_path, device, jobs, results, deadline):
    import torch
    torch.backends.cudnn.benchmark = True
    pack = Pack(pack_path)
    X_all = pack.features(device)
    while time.time() < deadline:
        try:
            cfg = jobs.get_nowait()
        except queue.Empty:
            return
        name = cfg.pop("name")
        try:
            out = run(pack, cfg, device, X_all)
            out["name"] = name
        except Exception as e:  # one bad run must not lose the others
            out = {"name": name, "config": cfg, "error": repr(e)}
        results.put(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pack")
    ap.add_argument("--out", required=True, help="results, one JSON line per run (appended)")
    ap.add_argument("--plan", choices=("loco", "cv", "both"), default="loco")
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--cv-seeds", type=int, default=1)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--minutes", type=float, default=8.0, help="start no run after this")
    ap.add_argument("--hard-minutes", type=float, default=0.0,
                    help="stop the runs still going after this (default: let them finish)")
    ap.add_argument("--smoke", action="store_true", help="2 epochs on 600 clips, one run each")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true",
                    help="every planned run cut to 1 epoch on 300 clips (to check the machinery)")
    a = ap.parse_args()
    if a.smoke:
        import torch
        pack = Pack(a.pack)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        for name in a.settings.split(","):
            out = run(pack, {"epochs": 2, "max_train": 600, "seed": 1} | SETTINGS[name], device)
            print(name, {k: out[k] for k in ("selected_epoch", "val_uar", "test_uar", "seconds")})
        return
    import torch.multiprocessing as mp
    ctx = mp.get_context("spawn")
    jobs, results = ctx.Queue(), ctx.Queue()
    runs = plan(a.plan, a.seeds, a.cv_seeds, a.settings.split(","))
    for r in runs:
        jobs.put(r | ({"epochs": 1, "max_train": 300} if a.quick else {}))
    deadline = time.time() + 60 * a.minutes
    procs = [ctx.Process(target=worker, args=(a.pack, a.device, jobs, results, deadline))
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
                  f"({out.get('seconds')} s) {out.get('error', '')}", flush=True)
    print(f"{done} of {len(runs)} runs in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
