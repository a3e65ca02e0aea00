"""`sernet-edge train`: cross-validate Light-SERNet on one or more corpora and train the
final model."""

from __future__ import annotations

import os
import sys
import time

import click
from click.core import ParameterSource

from sernet_edge.cli.options import BUNDLED_NAMES, corpus_options
from sernet_edge.train.recipe import AUGMENTATIONS

# the bundled models --init takes: each has a float file to start from (its -float16 and
# -micro files are the same weights)
INIT_NAMES = ", ".join(n.split()[0] for n in BUNDLED_NAMES.split(", ")
                       if not n.endswith(("-float16", "-micro")))

# option name -> Recipe field
RECIPE_OPTIONS = ("epochs", "batch_size", "learning_rate", "decay_start", "decay_every",
                  "decay_factor", "l2", "dropout", "width", "loss", "focal_gamma", "seed", "val_speakers",
                  "select_on_test", "final_epochs", "ema_decay", "recompute_bn", "augment", "protocol", "cv",
                  "schedule", "balance", "label_smoothing", "init", "init_shared_classes",
                  "freeze_init", "distill", "distill_weight", "distill_temperature", "noise_dir")


@click.command()
@click.argument("corpora", nargs=-1, required=True, type=click.Path(path_type=str),
                metavar="CORPUS...")
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=str), required=True,
              help="Output folder; rerunning with the same folder resumes.")
@corpus_options
@click.option("--config", "config_file", type=click.Path(path_type=str),
              help="JSON or TOML file of recipe settings (command-line options win).")
@click.option("--labels", "label_list", default=None, metavar="A,B,...",
              help="Classes to train on (default: the labels every corpus has), e.g. "
                   "anger,happiness,neutral,sadness.")
@click.option("--protocol", type=click.Choice(["loso", "cv", "loco"]), default="loso",
              show_default=True,
              help="Folds: leave one speaker out, K groups of speakers (--cv), or leave one "
                   "corpus out.")
@click.option("--cv", type=click.IntRange(min=2), default=None, metavar="K",
              help="K speaker-disjoint folds, stratified by corpus and sex (implies "
                   "--protocol cv; 5 if only --protocol cv is given).")
@click.option("--seconds", type=float, default=3.0, show_default=True,
              help="Input length (with --init NAME or a .tflite: that model's unless given).")
@click.option("--cmvn/--no-cmvn", default=False, show_default=True,
              help="Per-utterance mean/variance normalisation of each coefficient (stored in "
                   "the model card, so the device does the same). With --init NAME or a "
                   ".tflite: that model's (on for multi, off for emodb).")
@click.option("--epochs", type=int, default=300, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--learning-rate", type=float, default=1e-4, show_default=True)
@click.option("--decay-start", type=int, default=50, show_default=True,
              help="First epoch with a decayed learning rate.")
@click.option("--decay-every", type=int, default=20, show_default=True)
@click.option("--decay-factor", type=float, default=0.8607079764250578, show_default=True,
              help="exp(-0.15).")
@click.option("--l2", type=float, default=1e-6, show_default=True, help="Weight decay on convolutions.")
@click.option("--dropout", type=float, default=0.3, show_default=True)
@click.option("--width", type=float, default=1.0, show_default=True,
              help="Every filter count times this: 0.5 and 0.25 are the multi-s and multi-xs sizes.")
@click.option("--loss", type=click.Choice(["ce", "focal"]), default="ce", show_default=True,
              help="Cross-entropy or focal loss.")
@click.option("--focal-gamma", type=float, default=2.0, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--val-speakers", type=int, default=0, show_default=True,
              help="Validation speakers per fold (taken from the training speakers) that pick the "
                   "epoch; 0: 1 for loso, a tenth of the training speakers for cv and loco.")
@click.option("--schedule", type=click.Choice(["step", "cosine"]), default="step", show_default=True,
              help="Learning rate: the paper's step decay, or a cosine to 0 over the epochs.")
@click.option("--balance", type=click.Choice(["auto", "none", "class", "corpus", "sqrt"]),
              default="auto", show_default=True,
              help="Draw examples so that classes (and corpora) come equally often; sqrt: each "
                   "corpus in proportion to the square root of its size; auto: corpus for "
                   "several corpora, none for one.")
@click.option("--label-smoothing", type=float, default=0.0, show_default=True)
@click.option("--init", default="", metavar="NAME|MODEL|FOLD",
              help=f"Start every fold and the final model from a bundled model ({INIT_NAMES}) or "
                   "a float .tflite from convert (rebuilt from the float file, its BatchNorm "
                   "folded and frozen, so training starts from exactly that model), a Keras "
                   "model (e.g. a CREMA-D run's final/model.keras) or a fold's selected weights "
                   "(RUN/folds/<fold>/). Layers of another shape and a classifier for other "
                   "labels start fresh. The front end must match, apart from the input length: "
                   "a bundled model or .tflite brings its own (--cmvn, mels, width), and a "
                   "different one given is refused, since its weights mean nothing on other "
                   "features.")
@click.option("--init-shared-classes/--no-init-shared-classes", default=False, show_default=True,
              help="With --init for other labels: the classifier keeps that model's weights for "
                   "the classes both have; only the new classes start fresh.")
@click.option("--freeze-init/--no-freeze-init", default=False, show_default=True,
              help="With --init: the layers copied whole do not learn, only the classifier does.")
@click.option("--distill", default="", metavar="NAME|MODEL|FOLD",
              help="Knowledge distillation: a teacher (as --init: a bundled model, a float "
                   ".tflite, a Keras model or a fold) for the same classes and front end, whose "
                   "outputs on each training clip are mixed into its target. For folds, a teacher "
                   "that heard a fold's test speakers leaks them into its scores.")
@click.option("--distill-weight", type=float, default=0.5, show_default=True,
              help="The teacher's share of each target.")
@click.option("--distill-temperature", type=float, default=1.0, show_default=True,
              help="Above 1 softens the teacher's outputs (p^(1/T), renormalised).")
@click.option("--select-on-test", is_flag=True,
              help="Also report the paper's optimistic numbers (epoch chosen on the test speaker).")
@click.option("--final-epochs", type=int, default=0, show_default=True,
              help="Epochs for the all-speaker model; 0 = median of the folds' chosen epochs.")
@click.option("--ema-decay", type=float, default=0.0, show_default=True,
              help="Keep an exponential moving average of the weights (e.g. 0.99 per batch) and "
                   "select, save and ship the averaged weights; 0 = off, as in the paper.")
@click.option("--recompute-bn/--no-recompute-bn", default=False, show_default=True,
              help="Recompute the BatchNorm statistics over the training examples before each "
                   "scoring and before saving: on a small corpus the moving averages lag the "
                   "weights, and with --ema-decay they match no weights at all.")
@click.option("--augment", multiple=True, type=click.Choice([*AUGMENTATIONS, "none"]),
              help="Data augmentation (repeatable; off by default): speed (each clip also at "
                   "0.9x and 1.1x), noise (white, 10-30 dB SNR), channel (a random band limit "
                   "and equaliser), short (a random 0.5-1.5 s piece of its speech) each add a "
                   "copy of every training clip; room (on the fly, each clip with p 0.7 in noise "
                   "at 0-30 dB SNR: white, pink, brown, babble of other training speakers or "
                   "--noise-dir recordings, and with p 0.3 a simulated room, RT60 0.2-0.8 s) "
                   "and specaugment and mixup work on each batch; none: "
                   "turn off the --config recipe's (emodb's and finetune-multi's use speed; "
                   "experiments/ has why).")
@click.option("--noise-dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Recorded noise for --augment room: a folder of audio files. Keep the noise "
                   "you evaluate with (evaluate --noise) apart from it.")
@click.option("--folds", "fold_list", default=None, metavar="N,N,...|none",
              help="Run only these fold numbers (0-based), e.g. to split folds across machines; "
                   "none: no folds, only the final model.")
@click.option("--no-final", is_flag=True, help="Skip training the all-speaker model.")
@click.option("--cache-dir", type=click.Path(path_type=str), default=None,
              help="Feature cache (default ~/.cache/sernet-edge/features).")
@click.option("--strategy", type=click.Choice(["default", "mirrored", "multiworker"]),
              default="default", show_default=True,
              help="tf.distribute strategy; multiworker reads TF_CONFIG (see docs/distributed-training.md).")
@click.pass_context
def train(ctx, corpora, out_dir, corpus_type, subset, speaker_pattern, label_source, votes,
          config_file, label_list, seconds, cmvn, fold_list, no_final, cache_dir, strategy,
          **recipe_opts):
    """Train Light-SERNet on CORPUS (or the union of several) with speaker-disjoint folds.

    Each fold's epoch is chosen on validation speakers, never on its test speakers. Writes
    per-fold results with a score per corpus, report.json, confusion.png and curves.png to
    --out, then the final model trained on every speaker (final/model.keras, final/card.json).

    Warns on standard error for a class with fewer than 5 clips (the smallest adaptation that
    experiments/adapt-to-new-speakers measured to help) and, with --init, for a class the start
    lacks. With --init and folds, the start model is scored on each fold's held-out speakers too,
    and the report (versus_start) and the last lines say which model is better.

    \b
    sernet-edge train /data/emodb -o runs/emodb --config recipes/emodb.toml
    sernet-edge train /data/crema-d /data/emodb --cv 5 -o runs/multi
    """
    from sernet_edge.cli.options import corpus_kwargs
    from sernet_edge.corpora import load_corpora, union
    from sernet_edge.errors import SernetError
    from sernet_edge.features import FeatureConfig

    debug = bool(ctx.find_root().params.get("debug"))
    quiet_tensorflow(debug)
    if recipe_opts["cv"] is not None:
        if ctx.get_parameter_source("protocol") != ParameterSource.DEFAULT and \
                recipe_opts["protocol"] != "cv":
            raise SernetError(f"--cv goes with --protocol cv, not {recipe_opts['protocol']}")
        recipe_opts["protocol"] = "cv"
    else:
        recipe_opts["cv"] = 5

    settings = {}
    feature_overrides = {}
    if config_file:
        from sernet_edge.train.recipe import Recipe
        settings = Recipe.from_file(config_file)
        feature_overrides = settings.pop("features", {}) or {}
    config_keys = set(settings)
    for name in RECIPE_OPTIONS:
        source = ctx.get_parameter_source(name)
        given = source != ParameterSource.DEFAULT or (name == "protocol" and
                                                      ctx.get_parameter_source("cv") != ParameterSource.DEFAULT)
        if given or name not in settings:
            settings[name] = recipe_opts[name]
    settings["augment"] = tuple(settings.get("augment") or ())
    settings["noise_dir"] = str(settings.get("noise_dir") or "")
    if "none" in settings["augment"]:
        if len(settings["augment"]) > 1:
            raise SernetError("--augment none cannot go with another augmentation")
        settings["augment"] = ()
    if settings["init"]:
        from sernet_edge.train import bundled
        if bundled.start_file(settings["init"]) is not None:
            feature_overrides, settings["width"] = _bundled_start(
                ctx, settings["init"], feature_overrides, seconds, cmvn,
                settings["width"] if "width" in config_keys or _given(ctx, "width") else None)
    if ctx.get_parameter_source("seconds") != ParameterSource.DEFAULT or "seconds" not in feature_overrides:
        feature_overrides["seconds"] = seconds
    if ctx.get_parameter_source("cmvn") != ParameterSource.DEFAULT or "cmvn" not in feature_overrides:
        feature_overrides["cmvn"] = cmvn
    labels = settings.pop("labels", None)
    if label_list is not None:
        labels = [x.strip() for x in label_list.split(",") if x.strip()]
    try:
        features = FeatureConfig.from_dict(feature_overrides)
        folds = None if not fold_list else [] if fold_list.strip().lower() == "none" else \
            [int(x) for x in fold_list.split(",")]
    except (TypeError, ValueError) as e:
        raise SernetError(f"bad setting: {e}") from None

    options = corpus_kwargs(dict(corpus_type=corpus_type, subset=subset, speaker_pattern=speaker_pattern,
                                 label_source=label_source, votes=votes))
    data = union(load_corpora(corpora, **options), labels)
    say_licence(data)
    # the settings and corpora are checked first: their errors need no TensorFlow to be said
    from sernet_edge.extras import require
    for module in ("tensorflow", "keras"):
        require(module, "train")
    from sernet_edge.train.recipe import Recipe
    from sernet_edge.train.trainer import train as run
    try:
        recipe = Recipe(**settings)
    except TypeError as e:
        raise SernetError(f"bad setting: {e}") from None
    recipe.validate()

    def progress(items):
        # off a terminal click prints the bare label once: the log already says what runs
        return click.progressbar(items, label="features", file=sys.stderr,
                                 hidden=not sys.stderr.isatty())

    def bar(items):
        with progress(items) as it:
            yield from it

    epoch_bar = EpochBars() if sys.stderr.isatty() else None
    report = run(data, features, recipe, out_dir, cache_dir, strategy, folds, not no_final, bar,
                 epoch_bar)
    o = report.get("overall")
    if o:
        click.echo(f"{recipe.protocol} ({report['folds_run']}/{report['folds_total']} folds): "
                   f"UAR {100 * o['uar']:.2f}  WA {100 * o['wa']:.2f}  F1 {100 * o['f1']:.2f}")
        if len(report.get("per_corpus", {})) > 1:
            for name, sc in report["per_corpus"].items():
                click.echo(f"  {name:<12} UAR {100 * sc['uar']:.2f}  WA {100 * sc['wa']:.2f}  "
                           f"F1 {100 * sc['f1']:.2f}  ({sc['n']} clips)")
    from sernet_edge.train.guard import summary_lines
    for line in summary_lines(report, recipe.init):
        click.echo(line)
    if "final" in report:
        click.echo(f"final model: {out_dir}/final/model.keras")


def _given(ctx, name: str) -> bool:
    return ctx.get_parameter_source(name) != ParameterSource.DEFAULT


def _bundled_start(ctx, init, config_features: dict, seconds, cmvn, width):
    """(feature settings, width) of a run that starts from a bundled model: the model's own.
    A front-end setting given (--cmvn, a --config file's features) that differs is refused
    rather than overridden: the user meant something the weights cannot do."""
    from sernet_edge.train import bundled
    given = dict(config_features)
    if _given(ctx, "seconds"):
        given["seconds"] = seconds
    if _given(ctx, "cmvn"):
        given["cmvn"] = cmvn
    return bundled.front_end(init, given), bundled.width(init, width)


def say_licence(data) -> None:
    """One line on stderr when a corpus's licence forbids commercial use, which binds the
    model trained on it too (the card records each corpus's licence)."""
    from sernet_edge.corpora import licence, non_commercial
    restricted = non_commercial(data.corpora)
    if restricted:
        names = ", ".join(f"{name} ({licence(name)})" for name in restricted)
        one = len(restricted) == 1
        click.echo(f"note: {names} {'is' if one else 'are'} licensed for non-commercial use "
                   f"only, and so is a model trained on {'it' if one else 'them'}", err=True)


def quiet_tensorflow(debug: bool) -> None:
    """TensorFlow's start-up log (CPU features, oneDNN, absl) only with --debug."""
    if debug:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # TensorFlow's C++ start-up lines (oneDNN, CUDA stub) ignore that variable: import it once
    # with the stderr descriptor pointed at /dev/null
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            try:
                import tensorflow  # noqa: F401
            except ImportError:
                pass   # the trainer says how to install it
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    try:
        import absl.logging
        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass


class EpochBars:
    """One progress line per epoch on a terminal: batches done, running loss, time left in
    the epoch and in the fold (from the mean epoch time so far)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.epoch_seconds: list[float] = []

    def __call__(self, tag: str, epoch: int, epochs: int, total: int):
        """The bar of epoch `epoch` (from 1) of `epochs`, `total` batches long."""
        return _EpochBar(self, f"{tag} epoch {epoch}/{epochs}", total, epochs - epoch)


class _EpochBar:
    def __init__(self, owner: EpochBars, label: str, total: int, left_after: int):
        self.owner, self.label, self.total = owner, label, total
        self.left_after = left_after   # epochs after this one
        self.t0 = time.time()
        self.done = 0

    def update(self, step: int, loss: float) -> None:
        self.done = step
        spent = time.time() - self.t0
        total = self.total or step
        per_step = spent / max(step, 1)
        epoch_left = per_step * max(total - step, 0)
        mean_epoch = (sum(self.owner.epoch_seconds) / len(self.owner.epoch_seconds)
                      if self.owner.epoch_seconds else per_step * total)
        width = 24
        filled = int(width * step / total) if total else width
        line = (f"\r{self.label} [{'#' * filled}{'-' * (width - filled)}] {step}/{total} "
                f"loss {loss:.4f}  epoch left {_clock(epoch_left)}  "
                f"fold left {_clock(epoch_left + mean_epoch * self.left_after)}")
        self.owner.stream.write(line + " " * 4)
        self.owner.stream.flush()

    def close(self) -> None:
        if self.done:
            self.owner.epoch_seconds.append(time.time() - self.t0)
            self.owner.stream.write("\r\033[K")
            self.owner.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
