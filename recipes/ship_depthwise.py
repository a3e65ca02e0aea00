#!/usr/bin/env python3
"""Write the CPU int8 file from the microcontroller one: average pools as depthwise convolutions.

    python recipes/ship_depthwise.py models/light-sernet-multi-3s-int8-micro.tflite \
        models/light-sernet-multi-3s-int8.tflite [--eval /path/to/crema-d]

The weights are the same; only the pools are rewritten (sernet_edge/train/xnnpack_pools.py).
The new card gets this file's operators, its own parity figures (on the same held-out clips
as the source file's card, when --eval gives the corpus: the clips the converter held out
from calibration), its TFLite Micro check and `conversion.int8_pools`. The source file's card
gets `conversion.int8_pools = "average"`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv=None) -> int:
    from sernet_edge.card import feature_config, read_card, sidecar_path
    from sernet_edge.io import write_bytes, write_json
    from sernet_edge.train import convert as conv
    from sernet_edge.train.xnnpack_pools import depthwise_pools

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", type=Path)
    ap.add_argument("target", type=Path)
    ap.add_argument("--eval", dest="eval_root", default=None, help="the card's evaluation corpus")
    args = ap.parse_args(argv)

    data = args.source.read_bytes()
    card = read_card(args.source)
    new = depthwise_pools(data, args.source.name)
    cfg = feature_config(card)
    parity = {"note": "not measured: no --eval corpus"}
    X = None
    if args.eval_root:
        from sernet_edge.cli.convert import _held_out
        from sernet_edge.corpora import load_corpus
        corpus, note = _held_out(load_corpus(args.eval_root), card["conversion"]["calibration_examples"])
        X, y = conv.corpus_features(corpus, card["labels"])(cfg)
        old_eval = conv.evaluate_tflite(data, X, y, card["labels"])
        new_eval = conv.evaluate_tflite(new, X, y, card["labels"])
        agree = float(np.mean(np.asarray(old_eval["pred"]) == np.asarray(new_eval["pred"])))
        keras_uar = card["parity"]["keras_uar"]
        parity = {"eval_items": int(len(y)), "uar": new_eval["uar"], "wa": new_eval["wa"],
                  "keras_uar": keras_uar, "uar_loss_vs_float32": keras_uar - new_eval["uar"],
                  "uar_loss_reference": "keras",
                  "agreement_with_average_pools_file": agree,
                  "average_pools_file_uar": old_eval["uar"],
                  "agreement_with_keras_of_average_pools_file": card["parity"]["agreement_with_keras"],
                  "note": f"{note}; the Keras model is not at hand, so agreement is measured "
                          f"against {args.source.name}, whose own agreement with Keras is given"}
        print(f"agreement {agree:.4f}  UAR {new_eval['uar']:.4f} (average pools "
              f"{old_eval['uar']:.4f}) on {len(y)} clips", file=sys.stderr)
    micro = conv._micro(new, X if X is not None else
                        np.zeros((conv.MICRO_EXAMPLES, *cfg.input_shape), np.float32), args.target.stem)
    metrics = dict(card.get("metrics") or {})
    if "cross_validation_this_file" in metrics:     # scored before the rewrite
        cv = dict(metrics["cross_validation_this_file"])
        cv["protocol"] += (f"; measured on the average-pool int8 file ({args.source.name}): this "
                           "file's pools are depthwise convolutions, see parity")
        metrics["cross_validation_this_file"] = cv
    new_card = {**card, "metrics": metrics, "ops": conv.builtin_ops(new), "parity": parity, "micro": micro,
                "conversion": {**card["conversion"], "int8_pools": "depthwise",
                               "rewritten_from": args.source.name}}
    out, new_card = conv.finish_file(new, new_card, str(args.target))
    write_bytes(args.target, out)
    write_json(sidecar_path(args.target), new_card)
    src_card = {**card, "conversion": {**card["conversion"], "int8_pools": "average"}}
    src, src_card = conv.finish_file(data, src_card, str(args.source))
    write_bytes(args.source, src)
    write_json(sidecar_path(args.source), src_card)
    print(f"wrote {args.target} ({len(out):,} bytes, TFLite Micro arena {micro['arena_bytes']:,} B)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
