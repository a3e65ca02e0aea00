"""`sernet-edge train`: cross-validate Light-SERNet on a corpus and train the final model."""

from __future__ import annotations

import sys

import click
from click.core import ParameterSource

from sernet_edge.cli.options import corpus_options

# option name -> Recipe field
RECIPE_OPTIONS = ("epochs", "batch_size", "learning_rate", "decay_start", "decay_every",
                  "decay_factor", "l2", "dropout", "loss", "focal_gamma", "seed", "val_speakers",
                  "select_on_test", "final_epochs", "ema_decay", "augment")


@click.command()
@click.argument("corpus", type=click.Path(path_type=str))
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=str), required=True,
              help="Output folder; rerunning with the same folder resumes.")
@corpus_options
@click.option("--config", "config_file", type=click.Path(path_type=str),
              help="JSON or TOML file of recipe settings (command-line options win).")
@click.option("--seconds", type=float, default=3.0, show_default=True, help="Input length.")
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
@click.option("--loss", type=click.Choice(["ce", "focal"]), default="ce", show_default=True,
              help="Cross-entropy or focal loss.")
@click.option("--focal-gamma", type=float, default=2.0, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--val-speakers", type=int, default=1, show_default=True,
              help="Validation speakers per fold (taken from the training speakers) that pick the epoch.")
@click.option("--select-on-test", is_flag=True,
              help="Also report the paper's optimistic numbers (epoch chosen on the test speaker).")
@click.option("--final-epochs", type=int, default=0, show_default=True,
              help="Epochs for the all-speaker model; 0 = median of the folds' chosen epochs.")
@click.option("--ema-decay", type=float, default=0.0, show_default=True,
              help="Keep an exponential moving average of the weights (e.g. 0.99 per batch) and "
                   "select, save and ship the averaged weights; 0 = off, as in the paper.")
@click.option("--augment", multiple=True, type=click.Choice(["speed", "noise", "specaugment", "mixup"]),
              help="Data augmentation (repeatable); off by default.")
@click.option("--folds", "fold_list", default=None, metavar="N,N,...",
              help="Run only these fold numbers (0-based), e.g. to split folds across machines.")
@click.option("--no-final", is_flag=True, help="Skip training the all-speaker model.")
@click.option("--cache-dir", type=click.Path(path_type=str), default=None,
              help="Feature cache (default ~/.cache/sernet-edge/features).")
@click.option("--strategy", type=click.Choice(["default", "mirrored", "multiworker"]),
              default="default", show_default=True,
              help="tf.distribute strategy; multiworker reads TF_CONFIG (see docs/distributed-training.md).")
@click.pass_context
def train(ctx, corpus, out_dir, corpus_type, subset, speaker_pattern, config_file, seconds,
          fold_list, no_final, cache_dir, strategy, **recipe_opts):
    """Train Light-SERNet on CORPUS with leave-one-speaker-out folds.

    Each fold's epoch is chosen on validation speakers, never on its test speaker. Writes
    per-fold results, report.json, confusion.png and curves.png to --out, then the final
    model trained on every speaker (final/model.keras and final/card.json).
    """
    from sernet_edge.corpora import load_corpus
    from sernet_edge.errors import SernetError
    from sernet_edge.features import FeatureConfig

    settings = {}
    feature_overrides = {}
    if config_file:
        from sernet_edge.train.recipe import Recipe
        settings = Recipe.from_file(config_file)
        feature_overrides = settings.pop("features", {}) or {}
    for name in RECIPE_OPTIONS:
        if ctx.get_parameter_source(name) != ParameterSource.DEFAULT or name not in settings:
            settings[name] = recipe_opts[name]
    settings["augment"] = tuple(settings.get("augment") or ())
    if ctx.get_parameter_source("seconds") != ParameterSource.DEFAULT or "seconds" not in feature_overrides:
        feature_overrides["seconds"] = seconds
    try:
        features = FeatureConfig.from_dict(feature_overrides)
        folds = [int(x) for x in fold_list.split(",")] if fold_list else None
    except (TypeError, ValueError) as e:
        raise SernetError(f"bad setting: {e}") from None

    data = load_corpus(corpus, corpus_type, subset, speaker_pattern)
    from sernet_edge.train.recipe import Recipe
    from sernet_edge.train.trainer import train as run
    recipe = Recipe(**settings)
    recipe.validate()

    def progress(items):
        return click.progressbar(items, label="features", file=sys.stderr)

    def bar(items):
        with progress(items) as it:
            yield from it

    report = run(data, features, recipe, out_dir, cache_dir, strategy, folds, not no_final, bar)
    o = report.get("overall")
    if o:
        click.echo(f"leave-one-speaker-out ({report['folds_run']}/{report['folds_total']} folds): "
                   f"UAR {100 * o['uar']:.2f}  WA {100 * o['wa']:.2f}  F1 {100 * o['f1']:.2f}")
    if "final" in report:
        click.echo(f"final model: {out_dir}/final/model.keras")
