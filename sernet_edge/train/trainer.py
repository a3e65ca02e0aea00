"""Train Light-SERNet with speaker-disjoint folds, checkpointed and resumable.

Protocols (folds.py): leave-one-speaker-out, K-fold over speakers, leave-one-corpus-out.
Epochs are counted from 1 in the log, the history and the reports.

Output folder:
  folds/<fold>/last.keras, state.json   checkpoint of the running fold (model + optimizer)
  folds/<fold>/best.weights.h5          weights of the epoch chosen on the validation speakers
  folds/<fold>/result.json              written when the fold is done; a rerun skips it
  final/model.keras, final/card.json    the model trained on every speaker
  report.json, confusion.png, curves.png

Under multi-worker training every worker reads this folder (it must be on shared storage
to resume) and only the chief writes it.
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from sernet_edge import card as model_card
from sernet_edge import heard
from sernet_edge.corpora import Corpus, attribution, licence, non_commercial
from sernet_edge.errors import SernetError
from sernet_edge.features import FeatureConfig
from sernet_edge.io import atomic_path, make_dirs, write_json
from sernet_edge.metrics import scores
from sernet_edge.train import augment
from sernet_edge.train.dataset import load_features
from sernet_edge.train.folds import Fold, make_folds
from sernet_edge.train.recipe import Recipe, learning_rate


EVAL_BATCH = 128


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def train(corpus: Corpus, features: FeatureConfig, recipe: Recipe, out_dir, cache_dir=None,
          strategy: str = "default", folds: list[int] | None = None, final: bool = True,
          progress=None, epoch_bar=None) -> dict:
    """Cross-validate, then train the final model. Returns the report (also in report.json)."""
    recipe.validate()
    _strategy(strategy)  # multi-worker collectives must be set up before any other TF work
    if recipe.init:
        check_init_features(recipe.init, features)
        load_init_model(recipe.init)   # a bad file fails now, not after the features
    if recipe.distill:
        check_init_features(recipe.distill, features, "--distill")
        check_teacher_labels(recipe.distill, corpus.labels)
    # the folds do not move with --seed: seeds are compared on the same speakers. Made before
    # settings.json is written, so that a refused protocol (--cv 20 on 8 speakers) leaves
    # nothing that would block the corrected rerun in the same folder
    try:
        all_folds = make_folds(corpus, recipe.protocol, recipe.cv, recipe.val_speakers or None)
    except SernetError:
        if folds != []:
            raise
        all_folds = []     # --folds none: only the final model, which one speaker can train
    bad = [i for i in folds or [] if not 0 <= i < len(all_folds)]
    if bad:
        raise SernetError(f"--folds {bad[0]}: the protocol has folds 0-{len(all_folds) - 1}")
    from sernet_edge.train import guard
    for line in guard.class_warnings(corpus, recipe.init, init_labels(recipe.init) if recipe.init else None):
        print(f"warning: {line}", file=sys.stderr, flush=True)
    out = make_dirs(out_dir)
    _check_run_settings(out, corpus, features, recipe)
    log(f"features for {len(corpus.items)} files ({corpus.name}, {features.input_shape})")
    data = load_features(corpus, features, cache_dir, progress=progress)
    extra = augment.offline_copies(corpus, features, recipe.augment, cache_dir, progress)
    room = None
    if "room" in recipe.augment:
        log("room augmentation: waveforms, speech levels and simulated rooms")
        room = augment.RoomAudio(corpus, features, recipe.noise_dir, recipe.seed, progress)
    origin = np.array([it.corpus or corpus.name for it in corpus.items])
    soft = teacher_targets(recipe, [data[0]] + [Xa for Xa, _ in extra], corpus.labels) \
        if recipe.distill else None

    chosen = [f for f in all_folds if folds is None or f.index in folds]
    results = []
    for fold in chosen:
        results.append(_run_fold(fold, data, extra, origin, corpus.labels, recipe,
                                 out / "folds" / fold.name, strategy, epoch_bar, soft, room))
    report = _summarise(results, corpus, features, recipe, len(all_folds))
    if is_chief():
        write_json(out / "report.json", report)
        from sernet_edge.train import plots
        plots.write_all(report, results, out)

    if final:
        epochs = recipe.final_epochs or (report.get("median_selected_epoch") or recipe.epochs)
        report["final"] = _train_final(data, extra, origin, corpus, features, recipe, epochs,
                                       out / "final", strategy, report, epoch_bar, soft, room)
        if is_chief():
            write_json(out / "report.json", report)
    return report


# ---- one fold ----

def _run_fold(fold: Fold, data, extra, origin, labels, recipe: Recipe, fold_dir: Path, strategy,
              epoch_bar=None, soft=None, room=None) -> dict:
    result_path = fold_dir / "result.json"
    if result_path.exists():
        log(f"{fold.name}: done before, skipped")
        return json.loads(result_path.read_text())
    X, y, spk = data
    pick = lambda names: np.isin(spk, names)  # noqa: E731
    tr, va, te = pick(fold.train), pick(fold.val), pick(fold.test)
    Xtr, ytr = _with_extra(X[tr], y[tr], extra, tr)
    otr = np.concatenate([origin[tr]] * (1 + len(extra)))
    log(f"{fold.name}: train {_names(fold.train)} ({len(ytr)}), val {_names(fold.val)} "
        f"({va.sum()}), test {_names(fold.test)} ({te.sum()})")

    test_eval = (X[te], y[te]) if recipe.select_on_test else None
    history = _fit(Xtr, ytr, (X[va], y[va]), test_eval, len(labels), recipe, fold_dir,
                   seed=recipe.seed + fold.index, strategy=strategy, tag=fold.name,
                   weights=sample_weights(ytr, otr, recipe.balance), epoch_bar=epoch_bar,
                   labels=labels, soft=_soft_rows(soft, tr),
                   room=room.subset(tr) if room is not None else None)
    if not is_chief():
        _wait_for_all_workers(strategy)  # the chief is writing result.json meanwhile
        return json.loads(result_path.read_text())

    model = _load_best(fold_dir, X.shape[1:], len(labels), recipe)
    prob = model.predict(X[te], verbose=0, batch_size=64)
    best = max(history, key=_selection_key)
    result = {"fold": fold.name, "test_speakers": list(fold.test), "val": list(fold.val),
              "train": list(fold.train), "selected_epoch": best["epoch"],
              "val_uar": best["val_uar"], "test": scores(y[te], prob.argmax(1), labels),
              "per_corpus": _per_corpus(y[te], prob.argmax(1), origin[te], labels),
              "y_true": y[te].tolist(), "y_pred": prob.argmax(1).tolist(),
              "corpus": origin[te].tolist(), "history": history}
    if recipe.init:   # the start on the same held-out clips (train/guard.py)
        from sernet_edge.train import guard
        result["versus_start"] = guard.versus_start(recipe.init, X[te], y[te], prob.argmax(1),
                                                    labels, init_labels(recipe.init))
    if recipe.select_on_test:
        oracle = max(history, key=lambda h: (h["test_uar"], -h["epoch"]))
        result["test_selected_on_test"] = {"epoch": oracle["epoch"], "uar": oracle["test_uar"],
                                           "wa": oracle["test_wa"], "f1": oracle["test_f1"]}
    write_json(result_path, result)
    _wait_for_all_workers(strategy)
    log(f"{fold.name}: selected epoch {best['epoch']} (val UAR {best['val_uar']:.3f}) -> "
        f"test UAR {result['test']['uar']:.3f} WA {result['test']['wa']:.3f}")
    return result


def _names(speakers, show: int = 6) -> str:
    """A fold's speakers for the log: all of a few, or the first ones and a count."""
    if len(speakers) <= show:
        return ", ".join(speakers)
    return ", ".join(speakers[:show]) + f", ... ({len(speakers)} speakers)"


def _per_corpus(y_true, y_pred, origin, labels) -> dict:
    return {c: scores(y_true[origin == c], y_pred[origin == c], labels)
            for c in sorted(set(origin.tolist()))}


def sample_weights(y, origin, balance: str):
    """How often an epoch draws each example, relative (None: each once, in a shuffle).

    "class": every class equally often; "corpus": every corpus equally often, and within a
    corpus every class; "sqrt": each corpus in proportion to the square root of its number of
    examples (a milder tilt to the small corpus: CREMA-D 7,442 and EMO-DB 350 clips are drawn
    82:18, not 50:50 nor 96:4), and within a corpus every class; "auto" is "corpus" when there
    are several corpora, else none."""
    corpora = sorted(set(np.asarray(origin).tolist()))
    if balance == "auto":
        balance = "corpus" if len(corpora) > 1 else "none"
    if balance == "none":
        return None
    y, origin = np.asarray(y), np.asarray(origin)
    w = np.zeros(len(y))
    if balance == "class":
        for c in np.unique(y):
            w[y == c] = 1.0 / np.sum(y == c)
    else:
        share = {name: np.sqrt(np.sum(origin == name)) if balance == "sqrt" else 1.0
                 for name in corpora}
        total = sum(share.values())
        for name in corpora:
            in_corpus = origin == name
            classes = np.unique(y[in_corpus])
            for c in classes:
                m = in_corpus & (y == c)
                w[m] = share[name] / total / (m.sum() * len(classes))
    return w / w.sum()


def _soft_rows(soft, mask):
    """The teacher's rows for the examples `_with_extra` gives: the clips, then each copy."""
    return None if soft is None else np.concatenate([s[mask] for s in soft])


def _with_extra(X, y, extra, mask):
    """Training arrays plus the offline augmented copies of the same utterances."""
    if not extra:
        return X, y
    Xs, ys = [X], [y]
    for Xa, ya in extra:
        Xs.append(Xa[mask])
        ys.append(ya[mask])
    return np.concatenate(Xs), np.concatenate(ys)


# ---- the training loop ----

@functools.cache  # one per process: a second MultiWorkerMirroredStrategy is refused
def _strategy(name: str):
    import tensorflow as tf
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise SernetError(f"unknown strategy {name!r} (use default, mirrored or multiworker)")


def _wait_for_all_workers(strategy: str) -> None:
    """A one-number all-reduce as a barrier: the chief calls it after writing files that the
    other workers then read. Every worker must make the same collective calls in order."""
    if strategy != "multiworker":
        return
    import tensorflow as tf
    dist = _strategy(strategy)

    def one():
        return tf.constant(1.0)

    @tf.function(autograph=False)
    def barrier():
        return dist.reduce(tf.distribute.ReduceOp.SUM, dist.run(one), axis=None)
    barrier()


def is_chief() -> bool:
    """Under multi-worker training only worker 0 writes checkpoints and reports."""
    cfg = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = cfg.get("task", {})
    return task.get("type", "chief") == "chief" or (task.get("type") == "worker"
                                                    and task.get("index", 0) == 0
                                                    and "chief" not in cfg.get("cluster", {}))


def _loss(recipe: Recipe, **kwargs):
    import keras
    from sernet_edge.train.losses import FocalLoss
    return FocalLoss(recipe.focal_gamma, **kwargs) if recipe.loss == "focal" else \
        keras.losses.CategoricalCrossentropy(**kwargs)


def _compile(model, recipe: Recipe):
    import keras
    model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate), loss=_loss(recipe))
    model.optimizer.build(model.trainable_variables)  # in the strategy's scope, not in a step


def _fit(Xtr, ytr, val, test, n_classes, recipe: Recipe, ckpt_dir: Path, seed: int, strategy: str,
         tag: str, epochs: int | None = None, weights=None, epoch_bar=None,
         labels: list[str] | None = None, soft=None, room=None) -> list[dict]:
    """Train with per-epoch checkpoints; resume from `ckpt_dir/last.keras` if present.
    `labels` names the classes, for `init_shared_classes` and --init's classifier; `soft` is
    the teacher's row per example (--distill)."""
    import keras
    from sernet_edge.train import bundled
    from sernet_edge.train.model import build_model

    epochs = epochs or recipe.epochs
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    last, state_path = ckpt_dir / "last.keras", ckpt_dir / "state.json"
    keras.utils.set_random_seed(seed)
    with _strategy(strategy).scope():
        if last.exists() and state_path.exists():
            state = json.loads(state_path.read_text())
            model = keras.models.load_model(last)
            log(f"{tag}: resuming after epoch {state['epoch'] + 1}")
        else:
            state = {"epoch": -1, "history": [], "best_val_uar": -1.0}
            model = build_model(Xtr.shape[1:], n_classes, recipe.l2, recipe.dropout, recipe.width)
            if recipe.init:
                shared = labels if recipe.init_shared_classes else None
                copied, fresh = init_weights(model, recipe.init, shared, classes=labels)
                described = [f"{name} ({note})" if note else name for name, note in fresh.items()]
                log(f"{tag}: {copied} layers from {recipe.init}"
                    + (f"; fresh: {', '.join(described)}" if fresh else ""))
                if bundled.from_tflite(recipe.init):   # they hold the folded biases
                    log(f"{tag}: {bundled.freeze_batchnorm(model)} BatchNorm layers frozen "
                        "(identity plus the folded bias of the .tflite model)")
                if recipe.freeze_init:
                    frozen = freeze_copied(model, fresh)
                    log(f"{tag}: {frozen} copied layers frozen")
            _compile(model, recipe)
    start = state["epoch"] + 1
    if start >= epochs:
        return state["history"]

    batches = augment.TrainBatches(Xtr, ytr, n_classes, recipe, seed=seed + 1000 * start,
                                   weights=weights, soft=soft, room=room)
    callback = _EpochEnd(val, test, recipe, ckpt_dir, state, tag, epochs, epoch_bar, bn_data=Xtr)
    if strategy == "default":
        schedule = keras.callbacks.LearningRateScheduler(lambda e, lr: learning_rate(e, recipe, epochs))
        model.fit(batches, epochs=epochs, initial_epoch=start, verbose=0,
                  callbacks=[schedule, callback])
    else:
        _distributed_loop(model, batches, callback, start, epochs, recipe, _strategy(strategy), tag)
    callback.close()
    return state["history"]


def load_init_model(path):
    """The Keras model that --init names: a `.keras` file, a fold folder of another run
    (`folds/<fold>/`, whose best.weights.h5 and the run's settings.json rebuild it), or a
    bundled model's name or a float .tflite (rebuilt from the float file: bundled.py)."""
    import keras
    from sernet_edge.train import bundled
    if bundled.from_tflite(path):
        return bundled.rebuild(path)
    path = Path(path)
    if path.is_dir():
        settings = _init_settings(path)
        try:
            return fold_model(path, settings)
        except Exception as e:  # noqa: BLE001
            raise SernetError(f"--init {path}: cannot load best.weights.h5 ({e})") from None
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001 - Keras raises many kinds for a bad file
        raise SernetError(f"--init {path}: cannot load it as a Keras model ({e})") from None


def _init_settings(fold_dir: Path) -> dict:
    settings = fold_dir.parent.parent / "settings.json"
    if not (fold_dir / "best.weights.h5").is_file() or not settings.is_file():
        raise SernetError(f"--init {fold_dir}: not a model file nor a finished fold of a run "
                          "(folds/<fold>/best.weights.h5 beside the run's settings.json)")
    return json.loads(settings.read_text())


def _init_description(path) -> dict | None:
    """What is known of the --init model: the run's settings.json for a fold folder, the
    card.json beside a final/model.keras, the card of a bundled model or .tflite; None for a
    bare model file."""
    from sernet_edge.train import bundled
    card = bundled.start_card(path)
    if card is not None:
        return card
    path = Path(path)
    if path.is_dir():
        return _init_settings(path)
    card = path.parent / "card.json"
    if path.suffix == ".keras" and card.is_file():
        return json.loads(card.read_text())
    return None


def init_features(path) -> dict | None:
    """The front end the --init model was trained on, where it is known."""
    return (_init_description(path) or {}).get("features")


def check_init_features(path, features: FeatureConfig, option: str = "--init") -> None:
    """Weights learnt on another front end (CMVN on or off, other mels) would start from
    nonsense; the input length may differ (the network is fully convolutional)."""
    known = init_features(path)
    if known is None:
        return
    ours = features.to_dict()
    theirs = {**FeatureConfig().to_dict(), **known}   # a setting older cards lack had its default
    differ = [k for k in ours if k != "seconds" and theirs[k] != ours[k]]
    if differ:
        k = differ[0]
        raise SernetError(f"{option} {path}: trained on another front end ({k} {theirs[k]!r}, "
                          f"this run {ours[k]!r})")


def check_teacher_labels(path, labels: list[str]) -> None:
    """A teacher answers in its own classes: they must be this run's, in its order."""
    theirs = init_labels(path)
    if theirs is not None and list(theirs) != list(labels):
        raise SernetError(f"--distill {path}: its classes ({', '.join(theirs)}) are not this "
                          f"run's ({', '.join(labels)})")


def teacher_targets(recipe: Recipe, arrays, labels: list[str]) -> list:
    """The --distill teacher's probabilities on each array of examples (the clips, then each
    offline copy), softened by the temperature: p^(1/T), renormalised (softmax of logits / T)."""
    from sernet_edge.train.model import with_input_frames
    teacher = load_init_model(recipe.distill)
    if teacher.output_shape[-1] != len(labels):
        raise SernetError(f"--distill {recipe.distill}: {teacher.output_shape[-1]} classes, this "
                          f"run has {len(labels)}")
    out = []
    for X in arrays:
        if teacher.input_shape[1] != X.shape[1]:
            teacher = with_input_frames(teacher, X.shape[1])
        p = np.clip(predict(teacher, X).astype(np.float64), 1e-12, 1.0) ** (1.0 / recipe.distill_temperature)
        out.append((p / p.sum(1, keepdims=True)).astype(np.float32))
    log(f"distillation: {recipe.distill}'s outputs on {sum(len(X) for X in arrays)} examples, "
        f"weight {recipe.distill_weight}, temperature {recipe.distill_temperature:g}")
    return out


def init_labels(path) -> list[str] | None:
    """The classes of the --init model, where known."""
    return (_init_description(path) or {}).get("labels")


CLASSIFIER = "emotion"   # the output layer's name (model.py)


def init_weights(model, path, labels: list[str] | None = None,
                 classes: list[str] | None = None) -> tuple[int, dict[str, str]]:
    """Copy into `model` the weights of each layer of the Keras model at `path` that has the
    same name and weight shapes (pre-training: a model trained on another corpus or label set).
    With `classes` (this model's classes), a classifier known to be for other classes (the same
    number, other names or order) is not copied whole.
    With `labels` (this model's classes) and a classifier for other classes, the classifier's
    weights of the classes both models have are copied too; the others start as initialised.
    Returns (layers copied whole, {name: note} of the layers not copied whole; the note says
    which classes start fresh where the classifier was copied in part, else it is empty)."""
    source = load_init_model(path)
    by_name = {layer.name: layer for layer in source.layers}
    source_classes = init_labels(path) if classes else None
    copied, fresh = 0, {}
    for layer in model.layers:
        if not layer.weights:
            continue
        src = by_name.get(layer.name)
        other_classes = layer.name == CLASSIFIER and source_classes is not None and \
            list(source_classes) != list(classes)
        if src is not None and [w.shape for w in src.weights] == [w.shape for w in layer.weights] \
                and not other_classes:
            layer.set_weights(src.get_weights())
            copied += 1
            continue
        theirs = init_labels(path) if labels and layer.name == CLASSIFIER and src is not None else None
        if theirs and len(theirs) == src.weights[-1].shape[0]:
            both = [c for c in labels if c in theirs]
            weights = [w.copy() for w in layer.get_weights()]      # kernel (d, n), bias (n,)
            for w, s in zip(weights, src.get_weights()):
                for c in both:
                    w[..., labels.index(c)] = s[..., theirs.index(c)]
            layer.set_weights(weights)
            new = [c for c in labels if c not in theirs]
            if new:
                fresh[layer.name] = f"classes {', '.join(new)}"
            else:
                copied += 1      # the same classes in another order: every one copied
        else:
            fresh[layer.name] = ""
    if not copied:
        raise SernetError(f"--init {path}: no layer matches this network (not a Light-SERNet?)")
    return copied, fresh


def freeze_copied(model, fresh) -> int:
    """Make every layer copied whole from --init untrainable (its BatchNormalization then runs
    in inference mode, so its statistics stay as learnt); the layers named in `fresh` and the
    classifier (copied whole where the classes are the same) go on learning. Returns the
    number frozen."""
    frozen = 0
    for layer in model.layers:
        if layer.weights and layer.name not in fresh and layer.name != CLASSIFIER:
            layer.trainable = False
            frozen += 1
    return frozen


def _distributed_loop(model, batches, callback, start, epochs, recipe: Recipe, dist, tag) -> None:
    """`fit` under tf.distribute, written out: Keras 3's fit fails under
    MultiWorkerMirroredStrategy (keras-team/keras#20585). Every worker draws the same global
    batch (same seed) and each replica takes its slice; losses are scaled by the global batch
    size and the optimizer all-reduces the gradients, so the recipe does not change."""
    import tensorflow as tf
    replicas = dist.num_replicas_in_sync
    per_example_loss = _loss(recipe, reduction=None)
    log(f"{tag}: {replicas} replica(s) in sync")

    def replica_step(x, y, global_batch):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(per_example_loss(y, model(x, training=True))) / global_batch
            if model.losses:
                loss += tf.add_n(model.losses) / replicas  # summed over replicas below
        grads = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function(reduce_retracing=True)
    def step(x, y, global_batch):
        per_replica = dist.run(replica_step, args=(x, y, global_batch))
        return dist.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    def split(a):
        parts = np.array_split(a, replicas)
        return dist.experimental_distribute_values_from_function(
            lambda ctx: tf.constant(parts[ctx.replica_id_in_sync_group]))

    callback.set_model(model)
    callback.on_train_begin()
    for epoch in range(start, epochs):
        callback.on_epoch_begin(epoch)
        model.optimizer.learning_rate.assign(learning_rate(epoch, recipe, epochs))
        total, seen = 0.0, 0
        for i in range(len(batches)):
            X, Y = batches[i]
            if len(X) < replicas:  # a replica with no examples would put NaN into BatchNorm
                continue
            total += float(step(split(X), split(Y), tf.constant(len(X), tf.float32))) * len(X)
            seen += len(X)
            callback.on_train_batch_end(i, {"loss": total / seen})
        batches.on_epoch_end()
        callback.on_epoch_end(epoch, {"loss": total / max(seen, 1)})


def predict(model, X, training: bool = False, batch_size: int = EVAL_BATCH) -> np.ndarray:
    """Class probabilities for `X`, in batches: one call on a few thousand clips holds
    gigabytes of activations. In training mode BatchNorm uses each batch's statistics."""
    return np.concatenate([np.asarray(model(X[i:i + batch_size], training=training))
                           for i in range(0, len(X), batch_size)])


def _evaluate(model, X, y, n_classes) -> dict:
    if len(y) == 0:
        return {"uar": 0.0, "wa": 0.0, "f1": 0.0, "loss": 0.0}
    prob = predict(model, X)
    labels = [str(i) for i in range(n_classes)]
    s = scores(y, prob.argmax(1), labels)
    loss = float(-np.mean(np.log(np.clip(prob[np.arange(len(y)), y], 1e-7, 1))))
    return {"uar": s["uar"], "wa": s["wa"], "f1": s["f1"], "loss": loss}


BN_EXAMPLES = 2048   # examples that recompute the BatchNorm statistics: enough for 40-2048
                     # channel means, a few seconds on CREMA-D


def recompute_bn(model, X, batch_size: int = 32) -> None:
    """Set every BatchNormalization layer's statistics to the mean over batches of the training
    examples `X` (at most BN_EXAMPLES, evenly spaced, in order) of its batch statistics under
    the model's present weights, as SWA does. Deterministic; trainable weights are untouched."""
    import keras
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not bns or len(X) == 0:
        return
    if len(X) > BN_EXAMPLES:
        X = X[np.linspace(0, len(X) - 1, BN_EXAMPLES).round().astype(int)]
    momentum = [layer.momentum for layer in bns]
    try:
        for k, start in enumerate(range(0, len(X), batch_size)):
            for layer in bns:
                layer.momentum = k / (k + 1)       # running mean of the batches' statistics
            model(X[start:start + batch_size], training=True)
    finally:
        for layer, m in zip(bns, momentum):
            layer.momentum = m


def _callback_base():
    import keras
    return keras.callbacks.Callback


class _EpochEnd(_callback_base()):
    """Scores validation (and optionally test) speakers, keeps the best weights, checkpoints.

    With `ema_decay` it keeps a moving average of all weights (BN statistics included),
    updated every batch; scoring, `best.weights.h5` and `ema.npz` use the averaged weights
    while the optimizer goes on with the raw ones. With `recompute_bn` the scored weights get
    BN statistics recomputed on `bn_data` (the training examples) first."""

    def __init__(self, val, test, recipe, ckpt_dir, state, tag, epochs, epoch_bar=None,
                 bn_data=None):
        super().__init__()
        self.val, self.test, self.recipe, self.bn_data = val, test, recipe, bn_data
        self.dir, self.state, self.tag, self.epochs = ckpt_dir, state, tag, epochs
        self.t0 = time.time()
        self.shadow = None
        self.epoch_bar, self.bar = epoch_bar, None

    def on_epoch_begin(self, epoch, logs=None):
        if self.epoch_bar is not None:
            self.bar = self.epoch_bar(self.tag, epoch + 1, self.epochs, self.params_steps())

    def params_steps(self) -> int:
        steps = (getattr(self, "params", None) or {}).get("steps")
        return int(steps) if steps else 0

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_train_begin(self, logs=None):
        if self.recipe.ema_decay > 0:
            self.shadow = load_ema(self.dir) if self.state["epoch"] >= 0 else None
            if self.shadow is None:
                self.shadow = [w.copy() for w in self.model.get_weights()]

    def on_train_batch_end(self, batch, logs=None):
        if self.bar is not None:
            self.bar.update(batch + 1, float((logs or {}).get("loss", float("nan"))))
        if self.shadow is not None:
            d = self.recipe.ema_decay
            for s, w in zip(self.shadow, self.model.get_weights()):
                s *= d
                s += (1.0 - d) * w

    def on_epoch_end(self, epoch, logs=None):
        self.close()
        live = None
        # the final model's epochs score nothing: its statistics are recomputed once, at the end
        recompute = self.recipe.recompute_bn and self.bn_data is not None and \
            (self.val is not None or self.test is not None)
        if self.shadow is not None or recompute:
            live = self.model.get_weights()
        if self.shadow is not None:
            self.model.set_weights(self.shadow)
        if recompute:
            recompute_bn(self.model, self.bn_data)
        try:
            self._score_and_keep(epoch, logs)
        finally:
            if live is not None:
                self.model.set_weights(live)
        if is_chief():
            if self.shadow is not None:
                with atomic_path(self.dir / "ema.npz", suffix=".npz") as tmp:
                    np.savez(tmp, *self.shadow)
            with atomic_path(self.dir / "last.keras", suffix=".keras") as tmp:
                self.model.save(tmp)
            write_json(self.dir / "state.json", self.state)

    def _score_and_keep(self, epoch, logs):
        n_classes = self.model.output_shape[-1]
        row = {"epoch": epoch + 1, "lr": learning_rate(epoch, self.recipe, self.epochs),
               "loss": float((logs or {}).get("loss", float("nan"))),
               "seconds": round(time.time() - self.t0, 2)}
        self.t0 = time.time()
        if self.val is not None:
            v = _evaluate(self.model, *self.val, n_classes)
            row.update({f"val_{k}": v[k] for k in ("uar", "wa", "f1", "loss")})
            if _selection_key({"val_uar": v["uar"], "val_loss": v["loss"]}) > \
                    _selection_key({"val_uar": self.state["best_val_uar"],
                                    "val_loss": self.state.get("best_val_loss", float("inf"))}):
                self.state["best_val_uar"] = v["uar"]
                self.state["best_val_loss"] = v["loss"]
                self.state["best_epoch"] = epoch
                if is_chief():
                    with atomic_path(self.dir / "best.weights.h5", suffix=".weights.h5") as tmp:
                        self.model.save_weights(tmp)
        if self.test is not None:
            t = _evaluate(self.model, *self.test, n_classes)
            row.update({f"test_{k}": t[k] for k in ("uar", "wa", "f1")})
        self.state["history"].append(row)
        self.state["epoch"] = epoch
        if self.epochs <= 50 or epoch % 10 == 0 or epoch == self.epochs - 1:
            extra = f" val UAR {row['val_uar']:.3f}" if "val_uar" in row else ""
            log(f"{self.tag}: epoch {epoch + 1}/{self.epochs} loss {row['loss']:.4f}{extra} "
                f"({row['seconds']:.1f} s)")


def load_ema(ckpt_dir: Path):
    """The averaged weights saved with a checkpoint, or None."""
    path = ckpt_dir / "ema.npz"
    if not path.exists():
        return None
    with np.load(path) as z:
        return [z[f"arr_{i}"] for i in range(len(z.files))]


def _selection_key(row: dict) -> tuple:
    """Higher validation UAR wins; on a tie (small validation sets tie often) lower loss."""
    return (round(row["val_uar"], 6), -row["val_loss"])


def _load_best(fold_dir: Path, input_shape, n_classes, recipe):
    from sernet_edge.train.model import build_model
    model = build_model(input_shape, n_classes, recipe.l2, recipe.dropout, recipe.width)
    model.load_weights(fold_dir / "best.weights.h5")
    return model


def fold_model(fold_dir: Path, settings: dict):
    """The Keras model with a finished fold's selected weights, built from its run's settings."""
    from sernet_edge.train.model import build_model
    shape = FeatureConfig.from_dict(settings["features"]).input_shape
    model = build_model(shape, len(settings["labels"]), 0.0, 0.0,
                        settings["recipe"].get("width", 1.0))
    model.load_weights(Path(fold_dir) / "best.weights.h5")
    return model


def finished_folds(run_dir):
    """(result, Keras model with the fold's selected weights) for each finished fold of a
    `train` run, in fold order: what the per-fold benchmarks score on unseen speakers."""
    run_dir = Path(run_dir)
    settings = json.loads((run_dir / "settings.json").read_text())
    for result_path in sorted((run_dir / "folds").glob("*/result.json")):
        yield json.loads(result_path.read_text()), fold_model(result_path.parent, settings)


# ---- final model on every speaker ----

def _train_final(data, extra, origin, corpus, features, recipe, epochs, final_dir: Path, strategy,
                 report, epoch_bar=None, soft=None, room=None):
    import keras
    from sernet_edge.train import bundled
    from sernet_edge.train.model import architecture
    card_path = final_dir / "card.json"
    if card_path.exists() and (final_dir / "model.keras").exists():
        log("final model: done before, skipped")
        return json.loads(card_path.read_text())["training"]["final"]
    X, y, _ = data
    mask = np.ones(len(y), bool)
    Xtr, ytr = _with_extra(X, y, extra, mask)
    who = f"all {len(corpus.speakers)} speakers" if len(corpus.speakers) > 1 else "1 speaker"
    log(f"final model: {who} ({len(ytr)} examples), {epochs} epochs")
    otr = np.concatenate([origin] * (1 + len(extra)))
    history = _fit(Xtr, ytr, None, None, len(corpus.labels), recipe, final_dir / "checkpoint",
                   seed=recipe.seed, strategy=strategy, tag="final", epochs=epochs,
                   weights=sample_weights(ytr, otr, recipe.balance), epoch_bar=epoch_bar,
                   labels=corpus.labels, soft=_soft_rows(soft, mask),
                   room=room.subset(mask) if room is not None else None)
    info = {"epochs": epochs, "examples": int(len(ytr)), "speakers": corpus.speakers,
            "final_loss": history[-1]["loss"] if history else None}
    if not is_chief():
        return info
    model = keras.models.load_model(final_dir / "checkpoint" / "last.keras")
    if recipe.ema_decay > 0:
        model.set_weights(load_ema(final_dir / "checkpoint"))  # ship the averaged weights
    if recipe.recompute_bn:
        recompute_bn(model, Xtr)
    with atomic_path(final_dir / "model.keras", suffix=".keras") as tmp:
        model.save(tmp)
    started = bundled.origin(recipe.init)    # where a .tflite start came from, checksum included
    card = model_card.new_card(
        labels=corpus.labels, features=features, precision="keras",
        source={"corpus": corpus.name, "root": str(corpus.root), "items": len(corpus.items),
                "speakers": corpus.speakers, "corpora": dict(corpus.counts()["corpus"]),
                "attribution": {name: attribution(name) for name in corpus.counts()["corpus"]},
                "licence": {name: licence(name) for name in corpus.counts()["corpus"]},
                "non_commercial": non_commercial(corpus.corpora),
                # every speaker the weights heard, the start's too: what evaluate marks
                "heard": heard.for_card(corpus, _init_description(recipe.init) if recipe.init else None)},
        metrics={"cross_validation": report.get("overall")},
        training={"recipe": recipe.to_dict(), "final": info,
                  **({"init_from": started} if started else {}),
                  **({"distilled_from": bundled.origin(recipe.distill) or recipe.distill}
                     if recipe.distill else {})},
        architecture=architecture(model))
    write_json(card_path, card)
    return info


# ---- reports ----

def _summarise(results, corpus, features, recipe, n_folds_total) -> dict:
    labels = corpus.labels
    y_true = [t for r in results for t in r["y_true"]]
    y_pred = [p for r in results for p in r["y_pred"]]
    per_fold = [{"fold": r["fold"], "test_speakers": r.get("test_speakers"),
                 "selected_epoch": r["selected_epoch"], "val_uar": r["val_uar"],
                 **{k: r["test"][k] for k in ("uar", "wa", "f1", "n")},
                 "per_corpus": {c: {k: v[k] for k in ("uar", "wa", "f1", "n")}
                                for c, v in r.get("per_corpus", {}).items()}} for r in results]
    origin = [c for r in results for c in r.get("corpus", [corpus.name] * len(r["y_true"]))]
    report = {
        "corpus": corpus.name, "labels": labels, "features": features.to_dict(),
        "recipe": recipe.to_dict(), "protocol": _protocol_text(recipe),
        "epochs_counted_from": 1,
        "folds_run": len(results), "folds_total": n_folds_total, "per_fold": per_fold,
        "overall": scores(y_true, y_pred, labels) if y_true else None,
        "per_corpus": _per_corpus(np.array(y_true), np.array(y_pred), np.array(origin), labels)
        if y_true else {},
        "mean_over_folds": {k: float(np.mean([f[k] for f in per_fold])) for k in ("uar", "wa", "f1")}
        if per_fold else None,
        "median_selected_epoch": int(statistics.median([r["selected_epoch"] for r in results]))
        if results else None,
    }
    if recipe.init:
        from sernet_edge.train import guard
        report["versus_start"] = guard.pooled(results, labels, recipe.init, corpus)
    oracle = [r["test_selected_on_test"] for r in results if "test_selected_on_test" in r]
    if oracle:
        report["selected_on_test_OPTIMISTIC"] = {
            "note": "epoch chosen on the test speaker, as the paper's code does; not a fair estimate",
            "mean_over_folds": {k: float(np.mean([o[k] for o in oracle])) for k in ("uar", "wa", "f1")}}
    return report


def _protocol_text(recipe: Recipe) -> str:
    val = "validation speakers from the training side (never test speakers) select the epoch"
    return {"loso": f"leave-one-speaker-out; {val}",
            "cv": f"{recipe.cv}-fold over speakers, stratified by corpus and sex; {val}",
            "loco": f"leave-one-corpus-out; {val}"}[recipe.protocol]


def _check_run_settings(out: Path, corpus, features, recipe) -> None:
    """A resumed run must use the settings it started with; otherwise checkpoints would mix."""
    settings = {"corpus": corpus.name, "items": len(corpus.items), "labels": corpus.labels,
                "features": features.to_dict(),
                "recipe": {k: v for k, v in recipe.to_dict().items() if k != "final_epochs"}}
    from sernet_edge.train import bundled
    started = bundled.origin(recipe.init)
    if started:   # a newer bundled file would mix two starts in one run
        settings["init_from"] = started
    path = out / "settings.json"
    if path.exists():
        before = json.loads(path.read_text())
        # a setting added since the run started had its default then
        for key, defaults in (("recipe", Recipe().to_dict()), ("features", FeatureConfig().to_dict())):
            for name, value in defaults.items():
                if isinstance(before.get(key), dict) and name != "final_epochs":
                    before[key].setdefault(name, value)
        if before != json.loads(json.dumps(settings)):
            changed = [k for k in settings if before.get(k) != json.loads(json.dumps(settings[k]))]
            raise SernetError(f"{out}: holds a run with other settings ({', '.join(changed)}); "
                              "use a new output folder")
    elif is_chief():
        write_json(path, settings)
