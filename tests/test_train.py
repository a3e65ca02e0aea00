"""Trainer: the model, the recipe, folds, focal loss, a tiny run with every report, resume."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest
from click.testing import CliRunner

from sernet_edge.cli import main
from sernet_edge.features import FeatureConfig
from sernet_edge.train.folds import loso_folds
from sernet_edge.train.recipe import Recipe, learning_rate

tf = pytest.importorskip("tensorflow", reason="training needs the [train] extra (TensorFlow)")


def test_parameter_count_matches_paper():
    from sernet_edge.train.model import build_model
    assert build_model((184, 40, 1), 7).count_params() == 463_431
    assert build_model((184, 40, 1), 4).count_params() == 462_468


@pytest.mark.parametrize("seconds,frames,pooled", [(3, 184, (6, 5)), (7, 434, (14, 5))])
def test_layer_shapes(seconds, frames, pooled):
    from sernet_edge.train.model import build_model
    cfg = FeatureConfig(seconds=seconds)
    assert cfg.input_shape == (frames, 40, 1)
    m = build_model(cfg.input_shape, 7)
    shape = lambda name: tuple(m.get_layer(name).output.shape[1:])  # noqa: E731
    assert shape("concat") == (frames // 2, 20, 96)
    assert shape("lflb1_pool") == (math.ceil(frames / 4), 10, 64)
    assert shape("final_relu") == (*pooled, 320)
    assert shape("gap") == (320,)
    assert shape("emotion") == (7,)


def test_learning_rate_schedule():
    r = Recipe()
    d = math.exp(-0.15)
    expected = {0: 1e-4, 49: 1e-4, 50: 1e-4 * d, 69: 1e-4 * d, 70: 1e-4 * d ** 2,
                300: 1e-4 * d ** 13}
    for epoch, lr in expected.items():
        assert learning_rate(epoch, r) == pytest.approx(lr, rel=1e-12), epoch


def test_cosine_schedule():
    r = Recipe(schedule="cosine", learning_rate=1e-3, epochs=40)
    assert learning_rate(0, r) == pytest.approx(1e-3, rel=1e-12)
    assert learning_rate(20, r) == pytest.approx(5e-4, rel=1e-12)
    assert learning_rate(40, r) == pytest.approx(0.0, abs=1e-18)
    assert learning_rate(10, r) == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi / 4)))
    # `epochs` overrides the recipe's, as for the final model's own epoch count
    assert learning_rate(5, r, epochs=10) == pytest.approx(5e-4, rel=1e-12)
    rates = [learning_rate(e, r) for e in range(41)]
    assert all(a > b for a, b in zip(rates, rates[1:]))   # decreasing, unlike the step's plateau


@pytest.mark.parametrize("bad,message", [
    (dict(schedule="linear"), "unknown schedule"), (dict(balance="speaker"), "unknown balance"),
    (dict(label_smoothing=1.0), "--label-smoothing"),
    (dict(label_smoothing=-0.1), "--label-smoothing"),
    (dict(protocol="kfold"), "unknown protocol"), (dict(val_speakers=-1), "--val-speakers"),
    (dict(distill_weight=0.0), "--distill-weight"), (dict(distill_weight=1.5), "--distill-weight"),
    (dict(distill_temperature=0.0), "--distill-temperature"),
    (dict(distill="no-such-teacher"), "--distill no-such-teacher"),
])
def test_recipe_refuses_bad_new_settings(bad, message):
    from sernet_edge.errors import SernetError
    with pytest.raises(SernetError, match=message):
        Recipe(**bad).validate()
    r = Recipe()
    assert (r.protocol, r.cv, r.val_speakers, r.schedule, r.balance, r.label_smoothing) == \
        ("loso", 5, 0, "step", "auto", 0.0)


# ---- balanced sampling ----

def test_sample_weights_none_and_auto():
    from sernet_edge.train.trainer import sample_weights
    y = np.array([0, 0, 0, 1])
    assert sample_weights(y, np.array(["a"] * 4), "none") is None
    assert sample_weights(y, np.array(["a"] * 4), "auto") is None       # one corpus
    assert sample_weights(y, np.array(["a", "a", "b", "b"]), "none") is None
    auto = sample_weights(y, np.array(["a", "a", "b", "b"]), "auto")    # several: by corpus
    np.testing.assert_allclose(auto, sample_weights(y, np.array(["a", "a", "b", "b"]), "corpus"))


def test_sample_weights_by_class():
    from sernet_edge.train.trainer import sample_weights
    y = np.array([0] * 6 + [1] * 3 + [2] * 1)
    w = sample_weights(y, np.array(["a"] * 10), "class")
    assert w.shape == (10,) and w.sum() == pytest.approx(1.0)
    for c in range(3):
        assert w[y == c].sum() == pytest.approx(1 / 3)
        assert np.allclose(w[y == c], w[y == c][0])    # equal within a class
    assert w[9] == pytest.approx(1 / 3) and w[0] == pytest.approx(1 / 18)


def test_sample_weights_sqrt_tilts_to_the_small_corpus_by_the_square_root():
    from sernet_edge.train.trainer import sample_weights
    # corpus a: 16 clips (12 of class 0, 4 of class 1); corpus b: 4 clips (1 of 0, 3 of 1)
    y = np.array([0] * 12 + [1] * 4 + [0] + [1] * 3)
    origin = np.array(["a"] * 16 + ["b"] * 4)
    w = sample_weights(y, origin, "sqrt")
    assert w.sum() == pytest.approx(1.0) and np.all(w > 0)
    assert w[origin == "a"].sum() == pytest.approx(4 / 6)     # sqrt 16 : sqrt 4 = 4 : 2
    assert w[origin == "b"].sum() == pytest.approx(2 / 6)
    for name in ("a", "b"):
        for c in (0, 1):
            m = (origin == name) & (y == c)
            assert w[m].sum() == pytest.approx(w[origin == name].sum() / 2)
            assert np.allclose(w[m], w[m][0])
    # two corpora of one size: the same draws as "corpus"
    same = np.array(["a"] * 10 + ["b"] * 10)
    np.testing.assert_allclose(sample_weights(y, same, "sqrt"), sample_weights(y, same, "corpus"))


def test_sample_weights_by_corpus():
    from sernet_edge.train.trainer import sample_weights
    # corpus a: 8 of class 0, 2 of class 1; corpus b: 1 of class 0, 3 of class 1, 1 of class 2
    y = np.array([0] * 8 + [1] * 2 + [0] + [1] * 3 + [2])
    origin = np.array(["a"] * 10 + ["b"] * 5)
    w = sample_weights(y, origin, "corpus")
    assert w.sum() == pytest.approx(1.0) and np.all(w > 0)
    for name, classes in (("a", (0, 1)), ("b", (0, 1, 2))):
        in_corpus = origin == name
        assert w[in_corpus].sum() == pytest.approx(1 / 2)
        for c in classes:
            assert w[in_corpus & (y == c)].sum() == pytest.approx(1 / 2 / len(classes))
    assert w[0] == pytest.approx(1 / 32) and w[14] == pytest.approx(1 / 6)


def test_train_batches_draw_by_weight_and_smooth_labels():
    from sernet_edge.train.augment import TrainBatches
    X = np.arange(20, dtype=np.float32).reshape(20, 1, 1, 1)
    y = np.arange(20) % 4
    w = np.zeros(20)
    w[[2, 5, 11]] = [0.5, 0.25, 0.25]
    batches = TrainBatches(X, y, 4, Recipe(batch_size=8), seed=1, weights=w)
    assert len(batches) == 3
    drawn = []
    for _ in range(20):
        for i in range(len(batches)):
            Xb, Yb = batches[i]
            drawn += Xb.ravel().astype(int).tolist()
            np.testing.assert_array_equal(Yb.argmax(1), y[Xb.ravel().astype(int)])
        batches.on_epoch_end()
    assert len(drawn) == 20 * 20 and set(drawn) == {2, 5, 11}   # only nonzero weights
    share = Counter(drawn)
    assert 0.4 < share[2] / len(drawn) < 0.6                     # in proportion to the weight
    # without weights: every example once per epoch
    plain = TrainBatches(X, y, 4, Recipe(batch_size=8), seed=1)
    assert sorted(int(v) for i in range(len(plain)) for v in plain[i][0].ravel()) == list(range(20))
    # one-hot targets, or smoothed: rows sum to 1, the other classes get ls / n
    assert set(np.unique(plain.Y)) == {0.0, 1.0}
    smooth = TrainBatches(X, y, 4, Recipe(batch_size=8, label_smoothing=0.2), seed=1)
    _, Yb = smooth[0]
    np.testing.assert_allclose(Yb.sum(1), 1.0, rtol=1e-6)
    assert Yb.min() == pytest.approx(0.2 / 4) and Yb.max() == pytest.approx(1 - 0.2 + 0.2 / 4)
    np.testing.assert_array_equal(Yb.argmax(1), y[smooth[0][0].ravel().astype(int)])


def test_folds_never_share_a_speaker():
    speakers = ["03", "08", "09", "10", "11", "12", "13", "14"]
    for n_val in (1, 2):
        folds = loso_folds(speakers, n_val)
        assert len(folds) == 8
        assert sorted(s for f in folds for s in f.test) == speakers
        for f in folds:
            assert len(f.val) == n_val
            assert not set(f.test) & set(f.val)
            assert not set(f.test) & set(f.train)
            assert not set(f.val) & set(f.train)
            assert set(f.test) | set(f.val) | set(f.train) == set(speakers)


def test_too_few_speakers_is_a_clear_error():
    from sernet_edge.errors import CorpusError
    with pytest.raises(CorpusError, match="at least 3 speakers"):
        loso_folds(["a", "b"], 1)


def test_focal_loss_against_hand_computation():
    from sernet_edge.train.losses import FocalLoss
    y = np.array([[0, 1, 0], [1, 0, 0]], np.float32)
    p = np.array([[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]], np.float32)
    # -(1-p_t)^2 log p_t per row, then the mean
    hand = (0.3 ** 2 * -math.log(0.7) + 0.5 ** 2 * -math.log(0.5)) / 2
    assert float(FocalLoss(2.0)(y, p)) == pytest.approx(hand, rel=1e-5)
    # gamma 0 is cross-entropy
    ce = (-math.log(0.7) - math.log(0.5)) / 2
    assert float(FocalLoss(0.0)(y, p)) == pytest.approx(ce, rel=1e-5)


def _train_cli(corpus, out, *extra):
    return CliRunner().invoke(main, ["train", str(corpus), "-o", str(out), "--seconds", "1",
                                     "--epochs", "2", "--batch-size", "4", "--folds", "0,1",
                                     "--final-epochs", "1", *extra], catch_exceptions=False)


def test_train_batches_mix_the_teacher_into_the_smoothed_labels():
    from sernet_edge.train.augment import TrainBatches
    X = np.arange(4, dtype=np.float32).reshape(4, 1, 1, 1)
    y = np.array([0, 1, 2, 0])
    soft = np.array([[0.5, 0.5, 0, 0], [0, 0, 0, 1], [0.25] * 4, [1, 0, 0, 0]], np.float32)
    b = TrainBatches(X, y, 4, Recipe(batch_size=4, label_smoothing=0.2, distill_weight=0.25),
                     seed=0, soft=soft)
    Xb, Yb = b[0]
    labels = np.eye(4)[y] * 0.8 + 0.05
    np.testing.assert_allclose(Yb, (0.75 * labels + 0.25 * soft)[Xb.ravel().astype(int)], rtol=1e-6)
    np.testing.assert_allclose(Yb.sum(1), 1.0, rtol=1e-6)


def test_teacher_targets_soften_by_the_temperature(tmp_path):
    from sernet_edge.train.model import build_model
    from sernet_edge.train.trainer import predict, teacher_targets
    teacher = build_model((16, 40, 1), 3, width=0.25)
    teacher.save(tmp_path / "t.keras")
    X = np.random.default_rng(0).normal(size=(5, 16, 40, 1)).astype(np.float32)
    p = predict(teacher, X)
    one, = teacher_targets(Recipe(distill=str(tmp_path / "t.keras")), [X], ["a", "b", "c"])
    np.testing.assert_allclose(one, p, rtol=1e-4, atol=1e-6)
    soft, longer = teacher_targets(Recipe(distill=str(tmp_path / "t.keras"), distill_temperature=2.0),
                                   [X, np.zeros((2, 32, 40, 1), np.float32)], ["a", "b", "c"])
    expected = np.sqrt(p) / np.sqrt(p).sum(1, keepdims=True)
    np.testing.assert_allclose(soft, expected, rtol=1e-4, atol=1e-6)
    assert longer.shape == (2, 3)        # another input length: the same weights, re-framed
    assert np.all(soft.max(1) <= p.max(1) + 1e-6)       # softer, never sharper
    from sernet_edge.errors import SernetError
    with pytest.raises(SernetError, match="3 classes, this run has 2"):
        teacher_targets(Recipe(distill=str(tmp_path / "t.keras")), [X], ["a", "b"])


def test_distill_trains_on_the_teacher_and_the_card_says_so(mini_emodb, tmp_path):
    from sernet_edge.train.model import build_model
    build_model((63, 40, 1), 7, width=0.25).save(tmp_path / "teacher.keras")
    out = tmp_path / "run"
    res = _train_cli(mini_emodb, out, "--distill", str(tmp_path / "teacher.keras"),
                     "--distill-weight", "0.3", "--folds", "0", "--width", "0.25")
    assert res.exit_code == 0, res.output
    card = json.loads((out / "final" / "card.json").read_text())
    assert card["training"]["distilled_from"] == str(tmp_path / "teacher.keras")
    assert card["training"]["recipe"]["distill_weight"] == 0.3
    settings = json.loads((out / "settings.json").read_text())
    assert settings["recipe"]["distill"] == str(tmp_path / "teacher.keras")
    build_model((63, 40, 1), 5, width=0.25).save(tmp_path / "five.keras")
    bad = _train_cli(mini_emodb, tmp_path / "bad", "--distill", str(tmp_path / "five.keras"),
                     "--folds", "0", "--no-final")
    assert bad.exit_code != 0 and "--distill" in bad.output and "5 classes" in bad.output


def test_tiny_run_writes_every_report(mini_emodb, tmp_path):
    out = tmp_path / "run"
    res = _train_cli(mini_emodb, out, "--cache-dir", str(tmp_path / "cache"), "--select-on-test")
    assert res.exit_code == 0, res.output
    for name in ("report.json", "settings.json", "confusion.png", "curves.png",
                 "final/model.keras", "final/card.json"):
        assert (out / name).is_file(), name
    folds = sorted(p.name for p in (out / "folds").iterdir())
    assert folds == ["fold00-03", "fold01-08"]
    report = json.loads((out / "report.json").read_text())
    assert report["folds_run"] == 2 and report["folds_total"] == 6
    assert len(report["per_fold"]) == 2
    assert report["overall"]["n"] == 2  # one test clip per speaker
    assert np.array(report["overall"]["confusion"]).shape == (7, 7)
    assert "selected_on_test_OPTIMISTIC" in report
    assert report["epochs_counted_from"] == 1
    result = json.loads((out / "folds" / "fold00-03" / "result.json").read_text())
    assert [h["epoch"] for h in result["history"]] == [1, 2]   # counted from 1
    assert result["selected_epoch"] in (1, 2)
    assert report["per_fold"][0]["selected_epoch"] == result["selected_epoch"]
    assert list(report["per_corpus"]) == ["emodb"] and result["corpus"] == ["emodb"]
    assert result["test_speakers"] == ["03"] and "03" not in result["train"] + result["val"]
    card = json.loads((out / "final" / "card.json").read_text())
    assert card["labels"] == report["labels"] and card["features"]["seconds"] == 1.0
    # features were cached: one .npy per file
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 7


@pytest.mark.parametrize("strategy", ["default", "mirrored"])  # Keras fit / the distributed loop
def test_resume_after_interruption(mini_emodb, tmp_path, monkeypatch, strategy):
    from sernet_edge.train import trainer
    out, cache = tmp_path / "run", str(tmp_path / "cache")
    cli = lambda: _train_cli(mini_emodb, out, "--cache-dir", cache, "--no-final",  # noqa: E731
                             "--strategy", strategy)
    original = trainer._EpochEnd.on_epoch_end

    def die_after_first_epoch(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 0:
            raise KeyboardInterrupt  # as if killed right after the checkpoint
    monkeypatch.setattr(trainer._EpochEnd, "on_epoch_end", die_after_first_epoch)
    res = cli()
    assert res.exit_code == 130 and "interrupted" in res.output
    # state.json keeps the 0-based index of the last finished epoch; the log counts from 1
    state = json.loads((out / "folds" / "fold00-03" / "state.json").read_text())
    assert state["epoch"] == 0 and [h["epoch"] for h in state["history"]] == [1] and not (out / "folds" / "fold00-03" / "result.json").exists()

    monkeypatch.setattr(trainer._EpochEnd, "on_epoch_end", original)
    res = cli()
    assert res.exit_code == 0, res.output
    assert "resuming after epoch 1" in res.output
    result = json.loads((out / "folds" / "fold00-03" / "result.json").read_text())
    assert [h["epoch"] for h in result["history"]] == [1, 2]

    done = (out / "folds" / "fold00-03" / "result.json").stat().st_mtime_ns
    res = cli()
    assert "done before, skipped" in res.output
    assert (out / "folds" / "fold00-03" / "result.json").stat().st_mtime_ns == done


def test_changed_settings_refuse_to_mix(mini_emodb, tmp_path):
    out = tmp_path / "run"
    assert _train_cli(mini_emodb, out, "--no-final", "--folds", "0").exit_code == 0
    res = CliRunner().invoke(main, ["train", str(mini_emodb), "-o", str(out), "--seconds", "1",
                                    "--epochs", "3"])
    assert res.exit_code == 2
    assert "other settings" in res.output


def test_help_documents_every_option():
    res = CliRunner().invoke(main, ["train", "--help"])
    assert res.exit_code == 0
    for opt in ("--epochs", "--batch-size", "--learning-rate", "--decay-start", "--decay-every",
                "--decay-factor", "--l2", "--dropout", "--loss", "--focal-gamma", "--seed",
                "--val-speakers", "--select-on-test", "--final-epochs", "--augment", "--folds",
                "--strategy", "--config", "--cache-dir", "--seconds", "--no-final", "--labels",
                "--protocol", "--cv", "--cmvn", "--schedule", "--balance", "--label-smoothing",
                "--label-source", "--votes", "--init", "--distill", "--distill-weight",
                "--distill-temperature"):
        assert opt in res.output, opt


@pytest.mark.parametrize("setup,message", [
    (lambda p: p / "missing", "no such folder"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "layout not recognised"),
])
def test_bad_corpus_is_one_line_error(tmp_path, setup, message):
    res = CliRunner().invoke(main, ["train", str(setup(tmp_path)), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1


def test_config_file_sets_recipe_and_cli_wins(mini_emodb, tmp_path):
    cfg = tmp_path / "recipe.toml"
    cfg.write_text('[train]\nepochs = 1\nbatch_size = 4\nloss = "focal"\n')
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["train", str(mini_emodb), "-o", str(out), "--config", str(cfg),
                                    "--seconds", "1", "--folds", "0", "--no-final", "--seed", "7"])
    assert res.exit_code == 0, res.output
    settings = json.loads((out / "settings.json").read_text())["recipe"]
    assert settings["epochs"] == 1 and settings["loss"] == "focal" and settings["seed"] == 7


def test_config_augmentation_applies_and_augment_none_turns_it_off(mini_emodb, tmp_path):
    cfg = tmp_path / "recipe.toml"
    cfg.write_text('[train]\nepochs = 1\naugment = ["speed"]\n')
    for extra, expected in (((), ["speed"]), (("--augment", "none"), [])):
        out = tmp_path / f"run{len(extra)}"
        res = CliRunner().invoke(main, ["train", str(mini_emodb), "-o", str(out), "--config", str(cfg),
                                        "--seconds", "1", "--folds", "0", "--no-final",
                                        "--cache-dir", str(tmp_path / "cache"), *extra])
        assert res.exit_code == 0, res.output
        assert json.loads((out / "settings.json").read_text())["recipe"]["augment"] == expected
    res = CliRunner().invoke(main, ["train", str(mini_emodb), "-o", str(tmp_path / "bad"),
                                    "--augment", "none", "--augment", "speed"])
    assert res.exit_code == 2 and "--augment none cannot go with" in res.output


def test_mirrored_strategy_trains(mini_emodb, tmp_path):
    res = _train_cli(mini_emodb, tmp_path / "run", "--folds", "0", "--no-final",
                     "--strategy", "mirrored")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "run" / "folds" / "fold00-03" / "result.json").is_file()


def test_distributed_loop_matches_keras_fit(tmp_path):
    """The written-out loop used under tf.distribute does the same step as Keras's fit: one
    batch, no dropout, same seed. Adam turns float noise in near-zero gradients into full
    steps, so a handful of weights may differ; the rest must agree."""
    import keras
    from sernet_edge.train import trainer
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 59, 40, 1)).astype("float32")
    y = rng.integers(0, 7, 20)
    recipe = Recipe(epochs=1, batch_size=32, dropout=0.0)
    losses, weights = {}, {}
    for strategy in ("default", "mirrored"):
        history = trainer._fit(X, y, (X[:5], y[:5]), None, 7, recipe, tmp_path / strategy, seed=3,
                               strategy=strategy, tag=strategy)
        losses[strategy] = history[0]["loss"]
        weights[strategy] = np.concatenate([w.ravel() for w in keras.models.load_model(
            tmp_path / strategy / "last.keras").get_weights()])
    assert losses["mirrored"] == pytest.approx(losses["default"], rel=1e-5)
    assert np.mean(np.abs(weights["mirrored"] - weights["default"]) <= 1e-6) > 0.999


def _free_ports(n):
    import socket
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _two_workers(corpus, out, tmp_path, *extra):
    """Two MultiWorkerMirroredStrategy workers on this host, as two machines would run."""
    import os
    import subprocess
    import sys
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    procs = []
    try:
        for i in range(2):
            env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster,
                                                          "task": {"type": "worker", "index": i}})}
            procs.append(subprocess.Popen(
                [sys.executable, "-c", "from sernet_edge.cli import main; main()", "train",
                 str(corpus), "-o", str(out), "--seconds", "1", "--epochs", "2", "--batch-size", "4",
                 "--strategy", "multiworker", "--cache-dir", str(tmp_path / f"cache{i}"), *extra],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env))
        logs = [p.communicate(timeout=600)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-3000:]
    return logs


def test_multiworker_strategy_trains_on_two_workers(mini_emodb, tmp_path):
    out = tmp_path / "run"
    logs = _two_workers(mini_emodb, out, tmp_path, "--folds", "0", "--no-final")
    for log in logs:
        assert "fold00-03: 2 replica(s) in sync" in log
    # the workers all-reduce every step, so both report the same loss each epoch
    epochs = [[ln.split(" loss ")[1].split()[0] for ln in log.splitlines() if ": epoch " in ln]
              for log in logs]
    assert len(epochs[0]) == 2 and epochs[0] == epochs[1]
    assert (out / "folds" / "fold00-03" / "result.json").is_file()
    assert (out / "folds" / "fold00-03" / "best.weights.h5").is_file()

    # rerun with one more fold and the final model: both skip the finished fold (read from
    # the shared folder), train the rest in step, and only the chief writes the final model
    logs = _two_workers(mini_emodb, out, tmp_path, "--folds", "0,1", "--final-epochs", "1")
    for log in logs:
        assert "fold00-03: done before, skipped" in log
        assert "fold01-08: 2 replica(s) in sync" in log and "final: 2 replica(s) in sync" in log
    report = json.loads((out / "report.json").read_text())
    assert report["folds_run"] == 2 and report["final"]["epochs"] == 1
    assert (out / "final" / "model.keras").is_file() and (out / "final" / "card.json").is_file()


def test_augmentations_make_extra_copies(mini_emodb, tmp_path):
    res = _train_cli(mini_emodb, tmp_path / "run", "--folds", "0", "--no-final",
                     "--cache-dir", str(tmp_path / "cache"), "--augment", "speed",
                     "--augment", "specaugment", "--augment", "mixup")
    assert res.exit_code == 0, res.output
    # originals + 0.9x + 1.1x copies, each cached under its own key
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 21
    assert "train 09, 11, 13, 14 (15), val 08 (1), test 03 (1)" in res.output  # 5 utterances x 3


def test_ema_weights_are_selected_and_shipped(mini_emodb, tmp_path):
    import keras
    from sernet_edge.train.trainer import load_ema
    out = tmp_path / "run"
    res = _train_cli(mini_emodb, out, "--folds", "0", "--ema-decay", "0.9")
    assert res.exit_code == 0, res.output
    fold = out / "folds" / "fold00-03"
    shadow = load_ema(fold)
    live = keras.models.load_model(fold / "last.keras").get_weights()
    assert len(shadow) == len(live)
    assert any(not np.allclose(s, w) for s, w in zip(shadow, live))  # really an average
    final = keras.models.load_model(out / "final" / "model.keras").get_weights()
    assert all(np.allclose(f, s) for f, s in zip(final, load_ema(out / "final" / "checkpoint")))


# ---- BatchNorm statistics recomputed for the weights that are scored ----

def test_recompute_bn_sets_each_layer_to_the_mean_of_its_batch_statistics():
    import keras
    from sernet_edge.train.model import build_model
    from sernet_edge.train.trainer import recompute_bn
    model = build_model((63, 40, 1), 7)
    X = np.random.default_rng(0).normal(size=(40, 63, 40, 1)).astype(np.float32)
    trainable = [w.copy() for w in model.get_weights()]
    bn = model.get_layer("lflb2_bn")
    probe = keras.Model(model.input, bn.input)
    # in training mode no layer uses the moving statistics, so each batch's input to the
    # layer does not depend on them; batches of 32 and 8 count equally
    batches = [np.asarray(probe(X[i:i + 32], training=True)) for i in (0, 32)]
    mean = np.mean([b.mean(axis=(0, 1, 2)) for b in batches], axis=0)
    var = np.mean([b.var(axis=(0, 1, 2)) for b in batches], axis=0)
    recompute_bn(model, X)
    np.testing.assert_allclose(bn.moving_mean.numpy(), mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), var, rtol=1e-4, atol=1e-5)
    assert bn.momentum == 0.99
    names = [w.path for w in model.weights]
    for name, before, after in zip(names, trainable, model.get_weights()):
        if "moving" not in name:
            np.testing.assert_array_equal(before, after)
    again = [w.copy() for w in model.get_weights()]
    recompute_bn(model, X)                                   # same input, same statistics
    for a, b in zip(again, model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_recompute_bn_in_a_run_is_a_recorded_setting(mini_emodb, tmp_path):
    out = tmp_path / "run"
    res = _train_cli(mini_emodb, out, "--recompute-bn", "--ema-decay", "0.9", "--folds", "0")
    assert res.exit_code == 0, res.output
    settings = json.loads((out / "settings.json").read_text())
    assert settings["recipe"]["recompute_bn"] is True
    card = json.loads((out / "final" / "card.json").read_text())
    assert card["training"]["recipe"]["recompute_bn"] is True
    res = _train_cli(mini_emodb, out, "--folds", "0")        # the same folder, another setting
    assert res.exit_code == 2 and "other settings (recipe)" in res.output


# ---- starting from another model's weights ----

def test_init_copies_every_layer_of_the_same_shape(tmp_path):
    from sernet_edge.train.model import build_model
    from sernet_edge.train.trainer import init_weights
    source = build_model((184, 40, 1), 6)        # e.g. CREMA-D's six classes, 3 s
    source.save(tmp_path / "src.keras")
    target = build_model((63, 40, 1), 7)         # EMO-DB's seven, another input length
    copied, fresh = init_weights(target, tmp_path / "src.keras")
    assert fresh == {"emotion": ""}              # the classifier: 6 -> 7 outputs
    assert copied == sum(1 for layer in target.layers if layer.weights) - 1
    for name in ("path1_conv", "lflb4_bn", "final_conv"):
        for a, b in zip(source.get_layer(name).get_weights(), target.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)


SIX = ["anger", "disgust", "fear", "happiness", "neutral", "sadness"]
SEVEN = ["anger", "boredom", "disgust", "fear", "happiness", "neutral", "sadness"]


def test_init_shared_classes_keeps_the_classifier_of_the_classes_both_have(tmp_path):
    """A 6-class model starts a 7-class one: the six keep their classifier weights (moved to
    their new positions), boredom keeps its fresh initialisation."""
    from sernet_edge.train.model import build_model
    from sernet_edge.train.trainer import init_weights
    source = build_model((184, 40, 1), 6)
    source.save(tmp_path / "model.keras")
    (tmp_path / "card.json").write_text(json.dumps({"labels": SIX}))
    target = build_model((184, 40, 1), 7)
    before = [w.copy() for w in target.get_layer("emotion").get_weights()]
    copied, fresh = init_weights(target, tmp_path / "model.keras", SEVEN)
    assert fresh == {"emotion": "classes boredom"}
    assert copied == sum(1 for layer in target.layers if layer.weights) - 1
    for new, old, start in zip(target.get_layer("emotion").get_weights(),
                               source.get_layer("emotion").get_weights(), before):
        for c in SIX:
            np.testing.assert_array_equal(new[..., SEVEN.index(c)], old[..., SIX.index(c)])
        np.testing.assert_array_equal(new[..., 1], start[..., 1])
    # without labels (or without the source's), the classifier starts fresh as before
    target = build_model((184, 40, 1), 7)
    assert init_weights(target, tmp_path / "model.keras")[1] == {"emotion": ""}
    (tmp_path / "card.json").unlink()
    assert init_weights(target, tmp_path / "model.keras", SEVEN)[1] == {"emotion": ""}


def test_freeze_init_trains_only_the_classifier(mini_emodb, tmp_path):
    """--freeze-init: every layer copied from --init ends as it started (BatchNorm statistics
    included), the classifier learns; without --init the option is refused."""
    from sernet_edge.train.model import build_model
    from sernet_edge.train.trainer import load_init_model
    pre = build_model((63, 40, 1), 6)
    pre.save(tmp_path / "model.keras")
    (tmp_path / "card.json").write_text(json.dumps({"labels": SIX}))
    out = tmp_path / "run"
    res = _train_cli(mini_emodb, out, "--init", str(tmp_path / "model.keras"), "--freeze-init",
                     "--init-shared-classes", "--folds", "none", "--final-epochs", "2",
                     "--recompute-bn", "--ema-decay", "0.5")
    assert res.exit_code == 0, res.output
    assert "copied layers frozen" in res.output
    final = load_init_model(out / "final" / "model.keras")
    for layer in pre.layers:
        if layer.weights and layer.name != "emotion":
            for a, b in zip(layer.get_weights(), final.get_layer(layer.name).get_weights()):
                np.testing.assert_array_equal(a, b)
    kernel = final.get_layer("emotion").get_weights()[0]
    assert not np.array_equal(kernel[:, [0, 2, 3, 4, 5, 6]], pre.get_layer("emotion").get_weights()[0])
    bad = CliRunner().invoke(main, ["train", str(mini_emodb), "-o", str(tmp_path / "b"), "--freeze-init"])
    assert bad.exit_code == 2 and "need --init" in bad.output


def test_init_from_a_run_and_bad_init(mini_emodb, tmp_path):
    from sernet_edge.train.model import build_model
    build_model((63, 40, 1), 7).save(tmp_path / "pre.keras")
    out = tmp_path / "run"
    res = _train_cli(mini_emodb, out, "--init", str(tmp_path / "pre.keras"), "--no-final")
    assert res.exit_code == 0, res.output
    settings = json.loads((out / "settings.json").read_text())
    assert settings["recipe"]["init"] == str(tmp_path / "pre.keras")
    bad = CliRunner().invoke(main, ["train", str(mini_emodb), "-o", str(tmp_path / "b"),
                                    "--init", str(tmp_path / "missing.keras")])
    assert bad.exit_code == 2 and "--init" in bad.output and "no such model file" in bad.output
    (tmp_path / "junk.keras").write_text("not a model")
    bad = CliRunner().invoke(main, ["train", str(mini_emodb), "-o", str(tmp_path / "c"),
                                    "--seconds", "1", "--epochs", "1", "--folds", "0",
                                    "--no-final", "--init", str(tmp_path / "junk.keras")])
    assert bad.exit_code == 2 and "cannot load it as a Keras model" in bad.output
    assert len(bad.output.strip().splitlines()) == 1


def test_init_from_a_fold_of_another_run_and_its_front_end(mini_emodb, tmp_path):
    """A fold's selected weights start another run (pre-training scored on held-out
    speakers); a run on another front end is refused, another input length is not."""
    from sernet_edge.train.trainer import load_init_model
    pre = tmp_path / "pre"
    assert _train_cli(mini_emodb, pre, "--no-final", "--folds", "0").exit_code == 0
    fold = next((pre / "folds").iterdir())
    model = load_init_model(fold)
    expected = model.get_layer("final_conv").get_weights()
    out = tmp_path / "run"
    res = _train_cli(mini_emodb, out, "--init", str(fold), "--folds", "0", "--no-final",
                     "--seconds", "2")
    assert res.exit_code == 0, res.output
    every = sum(1 for layer in model.layers if layer.weights)
    assert f"{every} layers from {fold}" in res.output and "fresh:" not in res.output
    np.testing.assert_array_equal(load_init_model(fold).get_layer("final_conv").get_weights()[0],
                                  expected[0])
    bad = CliRunner().invoke(main, ["train", str(mini_emodb), "-o", str(tmp_path / "b"),
                                    "--cmvn", "--init", str(fold)])
    assert bad.exit_code == 2, bad.output
    assert "another front end (cmvn False, this run True)" in bad.output
    assert len(bad.output.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    bad = CliRunner().invoke(main, ["train", str(mini_emodb), "-o", str(tmp_path / "c"),
                                    "--init", str(tmp_path / "empty")])
    assert bad.exit_code == 2 and "not a model file nor a finished fold" in bad.output


def test_a_run_from_before_a_new_setting_still_resumes(mini_emodb, tmp_path):
    """settings.json written before `init` existed: the missing setting had its default."""
    out = tmp_path / "run"
    assert _train_cli(mini_emodb, out, "--no-final", "--folds", "0").exit_code == 0
    path = out / "settings.json"
    old = json.loads(path.read_text())
    del old["recipe"]["init"]
    path.write_text(json.dumps(old))
    res = _train_cli(mini_emodb, out, "--no-final", "--folds", "0")
    assert res.exit_code == 0 and "done before, skipped" in res.output
    from sernet_edge.train.model import build_model
    build_model((63, 40, 1), 7).save(tmp_path / "pre.keras")
    res = CliRunner().invoke(main, ["train", str(mini_emodb), "-o", str(out), "--seconds", "1",
                                    "--epochs", "2", "--batch-size", "4", "--folds", "0",
                                    "--no-final", "--init", str(tmp_path / "pre.keras")])
    assert res.exit_code == 2 and "other settings (recipe)" in res.output   # a real change


def test_init_front_end_check_reads_missing_settings_as_their_defaults(tmp_path):
    """A card written before `cmvn_variance` existed means full CMVN: starting a mean-only
    (CMN) run from it is refused, and starting a full-CMVN run from it is not."""
    from sernet_edge.errors import SernetError
    from sernet_edge.train.trainer import check_init_features
    old = {k: v for k, v in FeatureConfig(cmvn=True).to_dict().items() if k != "cmvn_variance"}
    (tmp_path / "model.keras").write_bytes(b"")
    (tmp_path / "card.json").write_text(json.dumps({"features": old}))
    check_init_features(tmp_path / "model.keras", FeatureConfig(cmvn=True, seconds=7.0))
    with pytest.raises(SernetError, match="cmvn_variance True, this run False"):
        check_init_features(tmp_path / "model.keras", FeatureConfig(cmvn=True, cmvn_variance=False))


def test_channel_augmentation_is_a_fixed_random_band_limited_filter():
    from sernet_edge.train.augment import _channel, random_channel
    sr, t = 16_000, np.arange(16_000) / 16_000
    x = (0.4 * np.sin(2 * np.pi * 20 * t) + 0.4 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    for seed in range(20):
        y = random_channel(x, np.random.default_rng(seed))
        assert y.dtype == np.float32 and len(y) == len(x)
        assert np.isclose(np.abs(y).max(), np.abs(x).max(), rtol=1e-5)  # level kept
        mag = np.abs(np.fft.rfft(y))
        # 20 Hz lies below every low cut (>= 50 Hz): at least 11.7 dB under 1 kHz
        assert 20 * np.log10(mag[20] / mag[1000]) < -11.7
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, sr).astype(np.float32)
    a, b = _channel(4321)(noise), _channel(4321)(noise)
    assert np.array_equal(a, b)  # a clip always gets the same channel
    other = _channel(4321)(noise[::-1].copy())
    gain = lambda out, inp: np.abs(np.fft.rfft(out)) / np.abs(np.fft.rfft(inp))  # noqa: E731
    assert not np.allclose(gain(a, noise), gain(other[::-1], noise), rtol=0.05)  # another clip, another one


def test_short_augmentation_is_a_fixed_piece_of_the_speech():
    from sernet_edge.train.augment import SHORT_SECONDS, _short, speech_part
    sr = 16_000
    rng = np.random.default_rng(0)
    speech = lambda n: (0.3 * rng.standard_normal(n)).astype(np.float32)  # noqa: E731
    # 1 s silence, 2.5 s "speech", 1 s silence: the gate keeps the middle (and its short edges)
    x = np.concatenate([np.zeros(sr, np.float32), speech(int(2.5 * sr)), np.zeros(sr, np.float32)])
    kept = speech_part(x)
    assert 2.5 * sr <= len(kept) <= 3.1 * sr
    short = _short(2468)
    lengths = set()
    for k in range(8):
        clip = np.roll(x, 800 * k)               # other samples, another piece
        piece = short(clip)
        assert np.array_equal(piece, short(clip))           # the same clip, the same piece
        assert SHORT_SECONDS[0] * sr - 1 <= len(piece) <= SHORT_SECONDS[1] * sr
        assert np.abs(piece).max() > 0.1                   # speech, not the silence
        lengths.add(len(piece))
    assert len(lengths) == 8
    word = np.concatenate([np.zeros(sr, np.float32), speech(4000), np.zeros(sr, np.float32)])
    assert len(short(word)) < 0.5 * sr           # shorter than the piece: all its speech
    silence = np.zeros(2 * sr, np.float32)
    assert np.array_equal(short(silence), silence)   # no speech found: the clip as it is


@pytest.mark.parametrize("kind", ["channel", "short"])
def test_offline_augmentation_adds_one_cached_copy(mini_emodb, tmp_path, kind):
    res = _train_cli(mini_emodb, tmp_path / "run", "--folds", "0", "--no-final",
                     "--cache-dir", str(tmp_path / "cache"), "--augment", kind)
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 14
    assert "train 09, 11, 13, 14 (10), val 08 (1), test 03 (1)" in res.output  # 5 utterances x 2
