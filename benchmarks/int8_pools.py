#!/usr/bin/env python3
"""Experiment: int8 average pooling as a depthwise convolution, so XNNPACK runs the whole graph.

XNNPACK's delegate takes AVERAGE_POOL_2D only in float32: in a full-int8 Light-SERNet the 7
pools run on LiteRT's built-in kernel and cut the graph into 6 delegate partitions
(benchmarks/results/int8-profile-*.md). A 2x2 (or 2x1) 'same' average pool equals, exactly,
a depthwise 2x2 convolution with weights 1/4, stride 2, 'valid', over the input with its last
row (column) repeated once: for an even length the repeated row is never read; for an odd
one the last window averages the last row with itself, as 'same' pooling averages it alone.
So the rewrite holds at every input length (3 s, 7 s). Weights of 1/4 and 1/2 are exact in
per-channel int8.

    python benchmarks/int8_pools.py        # untrained Light-SERNet, calibrated on the bundled clips

Measures, at 3 s and 7 s: the float rewrite against the original (max difference), the int8
files' outputs against each other on the bundled clips, callgrind instructions per invoke
(AVX2 kernels, see int8_profile.py), invoke time on this CPU (interleaved rounds), counted
peak activations and the TFLite Micro arena. Needs TensorFlow (the `train` extra) and valgrind.
Writes benchmarks/results/int8-pools-<date>.json and .md.
"""

from __future__ import annotations

import datetime
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RESULTS = REPO / "benchmarks" / "results"
SEED = 7
ROUNDS, RUNS = 7, 100          # interleaved timing rounds, invokes per round


def depthwise_pools(model):
    """The same network with every AveragePooling2D (pool <= 2, stride = pool, 'same') as
    edge-repeat + depthwise convolution: XNNPACK delegates it in int8."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="sernet_edge")
    class RepeatEdgeAveragePool(keras.layers.Layer):
        def __init__(self, pool, **kwargs):
            super().__init__(**kwargs)
            self.pool = tuple(int(p) for p in pool)
            if not all(p in (1, 2) for p in self.pool):
                raise ValueError(f"only pools of 1 or 2 are exact this way, not {self.pool}")

        def build(self, input_shape):
            n = self.pool[0] * self.pool[1]
            self.kernel = self.add_weight(shape=(*self.pool, input_shape[-1], 1), trainable=False,
                                          initializer=keras.initializers.Constant(1.0 / n))

        def call(self, x):
            if self.pool[0] == 2:
                x = ops.concatenate([x, x[:, -1:]], axis=1)
            if self.pool[1] == 2:
                x = ops.concatenate([x, x[:, :, -1:]], axis=2)
            return ops.depthwise_conv(x, self.kernel, strides=self.pool, padding="valid")

        def get_config(self):
            return {**super().get_config(), "pool": self.pool}

    def swap(layer):
        if isinstance(layer, keras.layers.AveragePooling2D):
            assert tuple(layer.strides) == tuple(layer.pool_size) and layer.padding == "same"
            return RepeatEdgeAveragePool(layer.pool_size, name=layer.name + "_dw")
        return layer.__class__.from_config(layer.get_config())

    clone = keras.models.clone_model(model, clone_function=swap)
    swapped = [l for l in clone.layers if isinstance(l, RepeatEdgeAveragePool)]
    assert swapped, "no AveragePooling2D layer was replaced"
    for layer in model.layers:
        if not isinstance(layer, keras.layers.AveragePooling2D) and layer.weights:
            clone.get_layer(layer.name).set_weights(layer.get_weights())
    return clone


def build(tmp: Path) -> dict:
    """{(variant, precision, seconds): .tflite path} plus the float max differences."""
    import keras

    from sernet_edge.audio import load_audio
    from sernet_edge.features import FeatureConfig, extract
    from sernet_edge.runtime import bundled_clips
    from sernet_edge.train.convert import convert_keras, inference_models
    from sernet_edge.train.model import build_model

    keras.utils.set_random_seed(SEED)
    trained = build_model((184, 40, 1), 6)
    rng = np.random.default_rng(SEED)   # BN statistics away from the identity, as after training
    trained.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") if "variance" in w.path
                         else rng.normal(0, 0.2, w.shape).astype("float32") for w in trained.weights])
    clips = [load_audio(p) for p in bundled_clips()]
    files, float_diff = {}, {}
    for seconds in (3.0, 7.0):
        cfg = FeatureConfig(seconds=seconds)
        rep = np.stack([extract(x, cfg) for x in clips])[..., None]
        body, base = inference_models(trained, cfg.num_frames)
        inp = keras.Input(shape=cfg.input_shape, batch_size=1, name="mfcc")
        rewritten = keras.Model(inp, depthwise_pools(body)(inp))
        x = rng.normal(0, 1, (1, *cfg.input_shape)).astype("float32")
        float_diff[seconds] = float(np.abs(base(x).numpy() - rewritten(x).numpy()).max())
        for variant, model in (("pools", base), ("depthwise", rewritten)):
            for precision in ("float32", "int8"):
                path = tmp / f"{variant}-{precision}-{seconds:g}s.tflite"
                path.write_bytes(convert_keras(model, cfg, precision, rep if precision == "int8" else None))
                files[variant, precision, seconds] = path
    return {"files": files, "float_max_abs_diff": float_diff, "clips": len(clips)}


def outputs(path: Path, feats: np.ndarray) -> np.ndarray:
    from sernet_edge.interpreter import from_output, make_interpreter, to_input
    it = make_interpreter(path.read_bytes(), 1)
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    out = []
    for f in feats:
        it.set_tensor(i["index"], to_input(f, i))
        it.invoke()
        out.append(from_output(it.get_tensor(o["index"])[0], o))
    return np.array(out)


def invoke_ms(paths: list[Path]) -> list[dict]:
    """Median and min of per-round medians, the files interleaved round by round."""
    from sernet_edge.interpreter import make_interpreter
    its = []
    for p in paths:
        it = make_interpreter(p.read_bytes(), 1)
        d = it.get_input_details()[0]
        it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
        for _ in range(20):
            it.invoke()
        its.append(it)
    rounds = [[] for _ in paths]
    for _ in range(ROUNDS):
        for k, it in enumerate(its):
            t = []
            for _ in range(RUNS):
                t0 = time.perf_counter()
                it.invoke()
                t.append(time.perf_counter() - t0)
            rounds[k].append(1e3 * float(np.median(t)))
    return [{"median_ms": float(np.median(r)), "min_ms": float(min(r))} for r in rounds]


def main() -> int:
    from benchmarks.int8_profile import profile
    from sernet_edge.audio import load_audio
    from sernet_edge.bench.graph import analyse
    from sernet_edge.bench.timing import machine_info, micro_arena
    from sernet_edge.features import FeatureConfig, extract
    from sernet_edge.io import write_text
    from sernet_edge.runtime import bundled_clips

    machine = machine_info()
    rows = []
    with tempfile.TemporaryDirectory(prefix="sernet-pools-") as tmp:
        built = build(Path(tmp))
        files = built["files"]
        for seconds in (3.0, 7.0):
            cfg = FeatureConfig(seconds=seconds)
            feats = np.stack([extract(load_audio(p), cfg) for p in bundled_clips()])
            int8 = {v: files[v, "int8", seconds] for v in ("pools", "depthwise")}
            f32 = files["pools", "float32", seconds]
            ref = outputs(f32, feats)
            out = {v: outputs(p, feats) for v, p in int8.items()}
            times = invoke_ms([int8["pools"], int8["depthwise"], f32])
            for k, variant in enumerate(("pools", "depthwise")):
                counted = analyse(int8[variant])
                print(f"... callgrind {variant} int8 at {seconds:g} s", file=sys.stderr)
                prof = profile(int8[variant], cfg.num_frames, Path(tmp))
                rows.append({
                    "variant": variant, "seconds": seconds,
                    "ops": sorted({r["op"] for r in counted["ops"]}),
                    "file_bytes": int8[variant].stat().st_size,
                    "delegate_partitions": prof["delegate_partitions"],
                    "instructions_per_invoke": prof["instructions_per_invoke"],
                    "invoke": times[k], "float32_invoke": times[2],
                    "peak_activation_bytes": counted["peak_activation_bytes"],
                    "micro": micro_arena(int8[variant], counted["peak_activation_bytes"]),
                    "labels_as_float32": int((out[variant].argmax(1) == ref.argmax(1)).sum()),
                    "labels_as_pools": int((out[variant].argmax(1) == out["pools"].argmax(1)).sum()),
                    "max_abs_diff_vs_pools": float(np.abs(out[variant] - out["pools"]).max()),
                    "max_abs_diff_vs_float32": float(np.abs(out[variant] - ref).max()),
                    "clips": len(feats)})
    date = datetime.date.today().isoformat()
    result = {"date": date, "machine": machine, "seed": SEED,
              "float_rewrite_max_abs_diff": {f"{k:g}": v for k, v in built["float_max_abs_diff"].items()},
              "rows": rows}
    stem = RESULTS / f"int8-pools-{date}"
    write_text(stem.with_suffix(".json"), json.dumps(result, indent=2) + "\n")
    write_text(stem.with_suffix(".md"), markdown(result))
    print(markdown(result))
    return 0


def markdown(r: dict) -> str:
    m = r["machine"]
    lines = ["# int8 average pooling as depthwise convolution (experiment)", "",
             f"- date: {r['date']}; {m['cpu']} ({', '.join(m['cpu_flags'])}), {m['cores']} cores, "
             f"{m['runtime']}; load before the run {m['load_average_1m']:.2f}"
             + (" (NOISY)" if m["noisy"] else ""),
             "- untrained Light-SERNet (seed 7, random BN statistics), 6 classes, int8 calibrated "
             "on the bundled clips' MFCCs; `python benchmarks/int8_pools.py`",
             "- float rewrite against the original, max |difference| of the softmax: "
             + ", ".join(f"{k} s: {v:.1e}" for k, v in r["float_rewrite_max_abs_diff"].items()),
             "- invoke: 1 thread, median (min) of 7 interleaved rounds of 100 invokes' medians; "
             "callgrind instructions use the AVX2 kernels (no VNNI), see int8_profile.py", "",
             "| window | int8 graph | partitions | M instr | invoke ms | float32 invoke ms | "
             "int8 / float32 | peak act B | micro arena B | labels = float32 | max diff vs pools |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for x in r["rows"]:
        lines.append(
            f"| {x['seconds']:g} s | {x['variant']} | {x['delegate_partitions']} | "
            f"{x['instructions_per_invoke'] / 1e6:.1f} | {x['invoke']['median_ms']:.2f} "
            f"({x['invoke']['min_ms']:.2f}) | {x['float32_invoke']['median_ms']:.2f} | "
            f"{x['invoke']['median_ms'] / x['float32_invoke']['median_ms']:.2f} | "
            f"{x['peak_activation_bytes']:,} | {x['micro'].get('arena_bytes', '-'):,} | "
            f"{x['labels_as_float32']}/{x['clips']} | {x['max_abs_diff_vs_pools']:.4f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
