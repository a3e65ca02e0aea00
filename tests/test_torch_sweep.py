"""benchmarks/torch_sweep.py: the parts of the PyTorch port that decide what each run trains
on must match the Keras trainer's (torch itself is not needed for these)."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def sweep():
    spec = importlib.util.spec_from_file_location("torch_sweep", BENCH / "torch_sweep.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_pack(sweep, tmp_path):
    labels = ["anger", "fear", "sadness"]
    y = np.array([0, 0, 1, 2, 2, 2, 0, 1], np.int8)
    corpus = np.array(["crema-d"] * 6 + ["emodb"] * 2)
    voted = np.zeros((8, 3), np.int8)
    voted[0, 0] = 1                 # the vote agrees
    voted[1, [0, 1]] = 1            # a tie that includes the intended emotion
    voted[2, 2] = 1                 # the vote disagrees
    meta = {"labels": labels, "scale": 32.0, "splits": {}}
    path = tmp_path / "pack.npz"
    np.savez(path, X=np.zeros((8, 4, 3), np.int8), y=y, speakers=np.array(list("aabbccde")),
             corpus=corpus, voted=voted, meta=np.array(json.dumps(meta)))
    return sweep.Pack(path)


def test_draws_match_the_keras_trainer(sweep, tmp_path):
    from sernet_edge.train.trainer import sample_weights
    pack = fake_pack(sweep, tmp_path)
    idx = np.array([0, 2, 3, 4, 6, 7])     # a training subset, as a split gives
    expected = sample_weights(pack.y[idx].astype(np.int64), pack.corpus[idx], "corpus")
    np.testing.assert_allclose(sweep.draw_weights(pack, idx, "corpus"), expected)
    assert sweep.draw_weights(pack, idx, "none") is None


def test_soft_vote_targets(sweep, tmp_path):
    pack = fake_pack(sweep, tmp_path)
    cfg = sweep.DEFAULTS | {"labels": "soft", "label_smoothing": 0.0}
    T = sweep.targets(pack, np.arange(8), cfg)
    np.testing.assert_allclose(T.sum(1), 1.0)
    np.testing.assert_allclose(T[0], [1, 0, 0])              # agreeing vote: one-hot
    np.testing.assert_allclose(T[1], [0.75, 0.25, 0])        # tie: half the weight split
    np.testing.assert_allclose(T[2], [0, 0.5, 0.5])          # disagreeing: half each
    np.testing.assert_allclose(T[6], [1, 0, 0])              # EMO-DB: no votes, one-hot
    smoothed = sweep.targets(pack, np.arange(8), sweep.DEFAULTS)
    np.testing.assert_allclose(smoothed[2], [0.1 / 3, 0.9 + 0.1 / 3, 0.1 / 3])


def test_plan_gives_every_setting_the_same_seeds_in_order(sweep):
    runs = sweep.plan("both", 4, 1, ["recipe", "mixup"])
    assert len(runs) == 4 * 2 + 5 * 2
    first_cv = next(i for i, r in enumerate(runs) if r["split"] != "loco")
    assert first_cv == 2 * 2                                 # after half the seeds
    loco = [(r["name"], r["seed"]) for r in runs if r["split"] == "loco"]
    assert sorted(loco) == sorted((n, 1000 + s) for n in ("recipe", "mixup") for s in range(4))
    assert all(r["mixup"] for r in runs if r["name"] == "mixup")


def test_uar_ignores_classes_absent_from_the_truth(sweep):
    assert sweep.uar(np.array([0, 0, 1]), np.array([0, 1, 1]), 3) == pytest.approx(0.75)
