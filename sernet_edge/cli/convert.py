"""`sernet-edge convert`: a trained Keras model -> .tflite files with embedded model cards."""

from __future__ import annotations

import os
import re

import click

from sernet_edge.cli.options import corpus_options

PRECISION_NAMES = ("float32", "float16", "dynamic-int8", "int8")
DEFAULT_PRECISION = "float16,int8"
DEFAULT_NAME = "sernet-edge"


def parse_precisions(values) -> list[str]:
    out = []
    for value in values:
        for p in (v.strip().lower() for v in value.split(",")):
            if not p:
                continue
            if p not in PRECISION_NAMES:
                raise click.BadParameter(f"{p!r} is not one of {', '.join(PRECISION_NAMES)}",
                                         param_hint="--precision")
            out.append(p)
    return list(dict.fromkeys(out))


@click.command()
@click.argument("model_path", metavar="MODEL.keras", type=click.Path(path_type=str))
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=str), required=True,
              help="Output folder for the .tflite files, their .json cards and C arrays.")
@click.option("--precision", "precision_opts", multiple=True, metavar="P[,P...]",
              help="float32, float16, dynamic-int8 (weights only) or int8 (full integer: int8 "
                   "activations, input and output). Repeatable or comma-separated. "
                   f"[default: {DEFAULT_PRECISION}]")
@click.option("--seconds", "seconds_list", multiple=True, type=float, metavar="S",
              help="Input length in seconds; repeat for several (e.g. --seconds 3 --seconds 7). "
                   "The network is fully convolutional, so one model serves every length. "
                   "[default: the length it was trained on]")
@click.option("--calibration", "calibration_path", type=click.Path(path_type=str), metavar="CORPUS",
              help="Corpus folder whose real clips calibrate full int8 (up to --calibration-limit "
                   "of them, a fixed sample). [default: the training corpus named in the card]")
@click.option("--calibration-limit", type=click.IntRange(min=1), default=200, show_default=True,
              help="Most calibration examples to use.")
@click.option("--eval", "eval_path", type=click.Path(path_type=str), metavar="CORPUS",
              help="Labelled corpus for the parity report (agreement with Keras, UAR per file). "
                   "[default: the calibration corpus minus the calibration sample]")
@corpus_options
@click.option("--name", default=None, metavar="NAME",
              help="File name prefix: NAME-3s-int8.tflite. [default: sernet-edge-<corpus>]")
@click.option("--card", "card_file", type=click.Path(path_type=str), metavar="FILE",
              help="The Keras model's card. [default: <model>.json or card.json beside it]")
@click.option("--max-bytes", type=click.IntRange(min=1), default=1_000_000, show_default=True,
              help="Size limit for every file except float32 (which is only reported).")
@click.option("--c-array/--no-c-array", default=False, show_default=True,
              help="Also write the full-int8 model as <file>_model_data.c/.h for TFLite Micro.")
@click.option("--int8-pools", type=click.Choice(["depthwise", "average"]), default=None,
              help="How the int8 file writes average pooling: depthwise (XNNPACK runs the whole "
                   "graph, about 1.4x faster on CPUs) or average (smallest TFLite Micro arena). "
                   "Default: depthwise; average with --c-array.")
@click.option("--micro-check/--no-micro-check", default=None,
              help="Run the int8 model under TFLite Micro on this computer, compare it with "
                   "LiteRT and record its arena size. [default: on if tflite-micro is installed]")
@click.option("--cache-dir", type=click.Path(path_type=str), default=None,
              help="Feature cache (default ~/.cache/sernet-edge/features).")
def convert(model_path, out_dir, precision_opts, seconds_list, calibration_path, calibration_limit,
            eval_path, corpus_type, subset, speaker_pattern, label_source, votes, name, card_file,
            max_bytes, c_array, int8_pools, micro_check, cache_dir):
    """Convert MODEL.keras (from `sernet-edge train`: final/model.keras) to TFLite.

    Every file gets the model card embedded (labels, feature settings, input and output
    quantisation, parity and TFLite Micro results) and beside it as <file>.json. Files must
    stay under --max-bytes, except float32. Nothing is written unless every file passes.
    """
    from sernet_edge.cli.train import quiet_tensorflow
    from sernet_edge.extras import require
    quiet_tensorflow(bool(click.get_current_context().find_root().params.get("debug")))
    for module in ("tensorflow", "keras"):
        require(module, "convert")
    from sernet_edge.corpora import load_corpus
    from sernet_edge.errors import SernetError
    from sernet_edge.train import convert as conv
    from sernet_edge.train.dataset import load_features

    precisions = parse_precisions(precision_opts or (DEFAULT_PRECISION,))
    if not precisions:
        raise click.BadParameter("no precision given", param_hint="--precision")
    model, card, card_path = conv.load_keras(model_path, card_file)
    source = card.get("source") or {}

    def corpus_at(path):
        return load_corpus(path, corpus_type, _subset(subset, source), speaker_pattern,
                           label_source, votes)

    calibration = evaluation = None
    cal_corpus = None
    root = source.get("root")
    if calibration_path:
        cal_corpus = corpus_at(calibration_path)
    elif root and os.path.isdir(root) and ("int8" in precisions or not eval_path):
        cal_corpus = corpus_at(root)
    elif "int8" in precisions:
        where = f" (the card's training corpus {root} does not exist here)" if root else ""
        raise SernetError(f"no calibration corpus for int8{where}: pass --calibration CORPUS")
    if cal_corpus is not None:
        def calibration(cfg):
            return load_features(cal_corpus, cfg, cache_dir)[0]
    eval_corpus, eval_note = None, None
    if eval_path:
        corpus = corpus_at(eval_path)
        evaluation = conv.corpus_features(corpus, card["labels"], cache_dir)
        eval_corpus = str(corpus.root)
    elif cal_corpus is not None and any(it.label in card["labels"] for it in cal_corpus.items):
        corpus, eval_note = _held_out(cal_corpus, calibration_limit)
        if str(cal_corpus.root) == str(source.get("root")):
            eval_note += "; these clips were seen in training, so UAR is optimistic"
        evaluation = conv.corpus_features(corpus, card["labels"], cache_dir)
        eval_corpus = str(corpus.root)

    if not name:
        corpus = re.sub(r"[^A-Za-z0-9._-]+", "-", str(source.get("corpus") or "")).strip("-")
        name = f"{DEFAULT_NAME}-{corpus}" if corpus else DEFAULT_NAME
    provenance = {"keras_model": os.path.basename(model_path), "keras_card": card_path.name,
                  "calibration_corpus": str(cal_corpus.root) if cal_corpus is not None else None,
                  "eval_corpus": eval_corpus, "eval_note": eval_note}
    paths = conv.export(model, card, out_dir, precisions, seconds_list or None, calibration,
                        evaluation, name=name, max_bytes=max_bytes, c_array=c_array,
                        micro_check=micro_check, calibration_limit=calibration_limit,
                        provenance=provenance, log=lambda m: click.echo(m, err=True),
                        int8_pools=int8_pools)
    _summary(paths, max_bytes)


def _held_out(corpus, limit: int):
    """The calibration corpus without the calibration sample (all of it if nothing is left)."""
    from sernet_edge.corpora import Corpus
    from sernet_edge.train.convert import held_out_indices
    keep = held_out_indices(len(corpus.items), limit)
    if len(keep) == 0:
        return corpus, "the calibration clips themselves (too few to hold any out)"
    items = [corpus.items[i] for i in keep]
    return Corpus(corpus.name, corpus.root, corpus.labels, items), \
        "calibration corpus minus the calibration sample"


def _subset(subset: str, source: dict) -> str:
    """The IEMOCAP subset the model was trained on, unless --subset says otherwise."""
    ctx = click.get_current_context()
    corpus = str(source.get("corpus") or "")
    if ctx.get_parameter_source("subset") == click.core.ParameterSource.DEFAULT \
            and corpus.startswith("iemocap-"):
        return corpus.split("-", 1)[1]
    return subset


def _summary(paths, max_bytes: int) -> None:
    import json
    cards = [(p, json.loads(p.with_suffix(".json").read_text())) for p in paths if p.suffix == ".tflite"]
    width = max([len(p.name) for p, _ in cards] + [4])
    click.echo(f"{'file':<{width}} {'bytes':>10} {'agree':>6} {'UAR':>6} {'arena':>9}")
    for p, c in cards:
        par, micro = c.get("parity") or {}, c.get("micro") or {}
        agree = f"{100 * par['agreement_with_keras']:.2f}" if par else "-"
        uar = f"{100 * par['uar']:.2f}" if par else "-"
        arena = f"{micro['arena_bytes']:,}" if micro else "-"
        flag = "  over the limit: float32 is the reference" if c["file_bytes"] > max_bytes else ""
        click.echo(f"{p.name:<{width}} {c['file_bytes']:>10,} {agree:>6} {uar:>6} {arena:>9}{flag}")
    for p, c in cards:
        par = c.get("parity") or {}
        if "uar_loss_vs_float32" in par:
            loss = 100 * par["uar_loss_vs_float32"]
            side = "below" if loss > 0 else "above" if loss < 0 else "equal to"
            points = f"{abs(loss):.2f} points " if loss else ""
            click.echo(f"{p.name}: UAR {100 * par['uar']:.2f}, {points}{side} {par['uar_loss_reference']} "
                       f"on {par['eval_items']} clips")
    if cards and cards[0][1].get("parity"):
        click.echo("in %: agree, clips answered as the Keras model answers them; UAR on the parity clips")
    if cards and not cards[0][1].get("parity"):
        click.echo("no parity report: give --eval CORPUS (or a calibration corpus)")
    note = ((cards[0][1].get("conversion") or {}).get("eval_note") or "") if cards else ""
    if note.startswith("the calibration clips themselves"):
        click.echo(f"note: parity was checked on {note}; give --eval CORPUS for a fair check",
                   err=True)
    for p in paths:
        if p.suffix in (".c", ".h"):
            click.echo(f"wrote {p}")
    click.echo(f"wrote {len(cards)} models with cards to {paths[0].parent}" if paths else "nothing written")
