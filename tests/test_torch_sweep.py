"""experiments/torch-sweep/torch_sweep.py: the parts of the PyTorch port that decide what each run trains
on must match the Keras trainer's (torch itself is not needed for these)."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "experiments" / "torch-sweep"


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
    pytest.importorskip("keras", reason="sernet_edge.train.trainer needs Keras (the [train] extra)")
    from sernet_edge.train.trainer import sample_weights
    pack = fake_pack(sweep, tmp_path)
    idx = np.array([0, 2, 3, 4, 6, 7])     # a training subset, as a split gives
    expected = sample_weights(pack.y[idx].astype(np.int64), pack.corpus[idx], "corpus")
    np.testing.assert_allclose(sweep.draw_weights(pack, idx, "corpus"), expected)
    np.testing.assert_allclose(sweep.draw_weights(pack, idx, "sqrt"),
                               sample_weights(pack.y[idx].astype(np.int64), pack.corpus[idx], "sqrt"))
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


def test_groups_keep_settings_apart_and_plan_order(sweep):
    runs = sweep.plan("both", 5, 1, ["recipe", "mixup"])
    jobs = sweep.groups(runs, 2)
    assert sorted(json_key(r) for job in jobs for r in job) == sorted(json_key(r) for r in runs)
    for job in jobs:
        assert 1 <= len(job) <= 2
        assert len({(r["name"], r["split"]) for r in job}) == 1      # only the seed differs
    loco_recipe = [[r["seed"] for r in job] for job in jobs
                   if job[0]["name"] == "recipe" and job[0]["split"] == "loco"]
    assert loco_recipe == [[1000, 1001], [1002, 1003], [1004]]
    assert sweep.groups(runs, 1) == [[r] for r in runs]


def json_key(run):
    return json.dumps(run, sort_keys=True)


def tiny_pack(sweep, tmp_path, n=48, frames=32):
    """Random features for 6 speakers of two corpora, split 4 train, 1 val, 1 test."""
    rng = np.random.default_rng(0)
    labels = ["anger", "fear", "sadness"]
    speakers = np.repeat(list("abcdef"), n // 6)
    meta = {"labels": labels, "scale": 32.0,
            "splits": {"loco": {"train": list("abcd"), "val": ["e"], "test": ["f"]}}}
    path = tmp_path / "tiny.npz"
    np.savez(path, X=rng.integers(-64, 64, (n, frames, 40)).astype(np.int8),
             y=np.tile(np.arange(3), n // 3).astype(np.int8), speakers=speakers,
             corpus=np.where(np.isin(speakers, list("ab")), "emodb", "crema-d"),
             voted=np.zeros((n, 3), np.int8), meta=np.array(json.dumps(meta)))
    return sweep.Pack(path)


def test_grouped_network_computes_each_network_as_alone(sweep):
    torch = pytest.importorskip("torch", reason="the sweep port needs torch, which the project does not install")
    singles = []
    for seed in (1, 2, 3):
        torch.manual_seed(seed)
        singles.append(sweep.build(3, 0.0))
    group = sweep.grouped(singles)
    assert sum(p.numel() for p in group.parameters()) == 3 * sum(
        p.numel() for p in singles[0].parameters())
    x = torch.randn(5, 3, 32, 40)
    with torch.no_grad():
        group.eval(), [m.eval() for m in singles]
        together = group(x)
        for k, m in enumerate(singles):
            torch.testing.assert_close(together[:, k], m(x[:, k]), rtol=1e-4, atol=1e-5)
    # in training (batch statistics, dropout off): each network's gradients and BatchNorm
    # statistics are its own. Adam works element by element, so equal gradients give equal
    # steps (compared directly, a first Adam step turns the noise-level gradient of a bias
    # before BatchNorm into a full step either way)
    group.train(), [m.train() for m in singles]
    t = torch.softmax(torch.randn(5, 3, 3), -1)
    loss = -(t * torch.log_softmax(group(x), -1)).sum(-1).mean(0).sum()
    (loss + 1e-3 * sum((w * w).sum() for w in group.l2_terms())).backward()
    for k, m in enumerate(singles):
        loss_k = -(t[:, k] * torch.log_softmax(m(x[:, k]), -1)).sum(-1).mean()
        (loss_k + 1e-3 * sum((w * w).sum() for w in m.l2_terms())).backward()
    for m in singles:      # gradients as parameters, to merge them as the weights are merged
        with torch.no_grad():
            for w in m.parameters():
                w.copy_(w.grad)
    expected = sweep.grouped(singles)
    got = {name: w.grad for name, w in group.named_parameters()}
    for name, w in expected.named_parameters():
        torch.testing.assert_close(got[name], w, rtol=1e-4, atol=1e-5, msg=name)
    for (name, a), (_, b) in zip(group.named_buffers(), expected.named_buffers()):
        if a.dtype.is_floating_point:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)


def test_a_group_of_runs_scores_as_the_runs_alone(sweep, tmp_path):
    pytest.importorskip("torch", reason="the sweep port needs torch, which the project does not install")
    pack = tiny_pack(sweep, tmp_path)
    # no EMA, so that the weights scored have moved. Float noise in a group keeps the losses
    # within 1.1e-4 of the runs alone; the networks' channels crossed, or the seeds'
    # augmentation swapped, put them 1.1e-3 or more apart (at lr 3e-3 noise grows too far)
    cfg = {"epochs": 3, "batch": 8, "lr": 1e-3, "ema": 0.0, "dropout": 0.0,
           "specaugment": True, "mixup": True}
    together = sweep.run_group(pack, [cfg | {"seed": 5}, cfg | {"seed": 6}], "cpu")
    for out in together:
        alone = sweep.run(pack, cfg | {"seed": out["config"]["seed"]}, "cpu")
        assert out["group_size"] == 2 and alone["group_size"] == 1
        assert out["y_pred"] == alone["y_pred"]
        for a, b in zip(out["history"], alone["history"]):
            assert a["val_loss"] == pytest.approx(b["val_loss"], abs=5e-4)
    assert together[0]["history"] != together[1]["history"]        # the seeds differ
    with pytest.raises(ValueError, match="differ only in seed"):
        sweep.run_group(pack, [cfg | {"seed": 5}, cfg | {"seed": 6, "lr": 2e-3}], "cpu")


def test_int8_codec_round_trips_every_value(sweep):
    rng = np.random.default_rng(0)
    q = rng.integers(-127, 128, size=(5, 17, 4)).astype(np.int8)
    q[2] = 127          # the largest steps between frames wrap around mod 256
    q[2, ::2] = -127
    buf = sweep.encode_int8(q)
    assert buf.dtype == np.uint8
    np.testing.assert_array_equal(sweep.decode_int8(buf, q.shape), q)


def test_a_pack_loads_plain_or_encoded_features(sweep, tmp_path):
    q = np.arange(-60, 60, dtype=np.int8).reshape(3, 10, 4)
    np.savez(tmp_path / "plain.npz", X=q)
    np.savez(tmp_path / "lzma.npz", Xz=sweep.encode_int8(q), X_shape=np.array(q.shape))
    for name in ("plain.npz", "lzma.npz"):
        np.testing.assert_array_equal(sweep.load_int8(np.load(tmp_path / name)), q)


def test_dev_scores_average_windows_and_restrict_to_the_corpus_classes(sweep, tmp_path):
    labels = ["anger", "disgust", "neutral"]
    # clip 0 (corpus x, anger): two windows whose mean is anger; clip 1 (x, neutral): one
    # window, disgust first, neutral second; clip 2 (x, anger): no speech; clip 3 (y, neutral)
    window_clip = np.array([0, 0, 1, 3])
    probs = np.array([[0.6, 0.3, 0.1], [0.3, 0.4, 0.3], [0.1, 0.5, 0.4], [0.2, 0.2, 0.6]])
    np.savez(tmp_path / "dev.npz", Xz=sweep.encode_int8(np.zeros((4, 2, 1), np.int8)),
             X_shape=np.array([4, 2, 1]), window_clip=window_clip,
             corpus=np.array(["x", "x", "x", "y"]), y=np.array([0, 2, 0, 2], np.int8),
             speakers=np.array(["s1", "s1", "s2", "s3"]), meta=np.array(json.dumps({"scale": 16})))
    out = sweep.dev_scores(sweep.DevPack(tmp_path / "dev.npz"), probs, labels)
    x = out["x"]
    assert x["n"] == 3 and x["no_speech"] == 1 and x["classes"] == ["anger", "neutral"]
    assert x["answers_all"] == "01-" and x["answers_shared"] == "02-"
    assert x["uar_all"] == pytest.approx((1 / 2 + 0) / 2)      # anger 1 of 2, neutral 0 of 1
    assert x["uar_shared"] == pytest.approx((1 / 2 + 1) / 2)
    assert x["recall_shared"] == {"anger": 0.5, "neutral": 1.0}
    assert out["y"]["uar_all"] == 1.0 and out["y"]["answers_shared"] == "2"
