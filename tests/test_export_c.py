"""`sernet-edge export-c`: the generated C front end computes what features.extract computes.

The C program is the generated example main.c, built with the system compiler; the test
decodes each clip with the project's loader and hands the C program the same float32
samples (raw, host byte order). Figures in comments were measured with gcc 12 on x86-64,
whose default build computes a * b + c as two operations (SERNET_FE_FUSED 0); a Cortex-M4F
build fuses them (fmaf), checked by test_fused_build_matches_numpy.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from sernet_edge.audio import load_audio
from sernet_edge.card import feature_config, new_card, read_card
from sernet_edge.cli import main
from sernet_edge.export_c import CARD_H, FRONTEND_C, FRONTEND_H, MAIN_C, card_header, \
    frontend_header, frontend_source, generate, percentile_plan, template
from sernet_edge.features import FeatureConfig, extract
from sernet_edge.interpreter import make_interpreter
from sernet_edge.runtime import EmotionClassifier, bundled_clips, resolve_model

CC = shutil.which("cc") or shutil.which("gcc")
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc or gcc) on this machine")
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-O2"]
MAX_COEFF_DIFF = 1e-4      # measured 3.6e-5 at most over the bundled clips (float32 vs float64)


class FrontEnd:
    """A compiled generated front end: `run(samples)` -> (coefficients, int8 input)."""

    def __init__(self, folder, config: FeatureConfig, scale: float, zero_point: int,
                 flags: tuple = (), name: str = "demo"):
        self.folder, self.config = folder, config
        self.scale, self.zero_point = scale, zero_point
        self.exe = folder / name
        subprocess.run([CC, *CFLAGS, *flags, MAIN_C, FRONTEND_C, "-lm", "-o", str(self.exe)],
                       cwd=folder, check=True, capture_output=True)

    def run(self, samples: np.ndarray, kind: str = "f32"):
        raw, q, f = (self.folder / n for n in ("in.raw", "out.int8", "out.f32"))
        samples.astype(np.float32 if kind == "f32" else np.int16).tofile(raw)
        subprocess.run([str(self.exe), f"--{kind}", str(raw), str(q), str(f)], check=True,
                       capture_output=True)
        shape = (self.config.num_frames, self.config.n_mfcc)
        return np.fromfile(f, np.float32).reshape(shape), np.fromfile(q, np.int8).reshape(shape)

    def reference(self, samples: np.ndarray):
        """features.extract, quantised as interpreter.to_input does."""
        feats = extract(samples, self.config)
        q = np.clip(np.round(feats / np.float32(self.scale)) + self.zero_point, -128, 127)
        return feats, q.astype(np.int8)


def _build(folder, model: str, flags: tuple = ()) -> FrontEnd:
    path = resolve_model(model)
    data = path.read_bytes()
    card = read_card(path, data)
    for name, text in generate(data, path.stem, card).items():
        (folder / name).write_text(text)
    return FrontEnd(folder, feature_config(card), card["input"]["scale"], card["input"]["zero_point"],
                    flags)


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("multi"), "multi")


@pytest.fixture(scope="module")
def emodb(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("emodb"), "emodb")


@pytest.fixture(scope="module")
def clips():
    return {p.name: load_audio(p) for p in bundled_clips()}


def _compare(fe: FrontEnd, samples: np.ndarray):
    """(max |coefficient difference|, int8 values that differ, largest int8 step)."""
    coeffs, q = fe.run(samples)
    ref, ref_q = fe.reference(samples)
    steps = np.abs(q.astype(np.int32) - ref_q)
    return float(np.abs(coeffs - ref).max()), int(np.count_nonzero(steps)), int(steps.max())


# int8 values one step off over the 7 bundled clips (51,520 values), measured: the plain
# front end (emodb) 2 (09b03Fd, 11b01Eb: 1 each); with per-clip CMVN (multi) none
BUNDLED_OFF = {"emodb": 3, "multi": 0}


@pytest.mark.parametrize("model", ["multi", "emodb"])
def test_bundled_clips_match_numpy(model, request, clips):
    fe = request.getfixturevalue(model)
    total = off = 0
    for name, x in clips.items():
        diff, differ, step = _compare(fe, x)
        assert diff < MAX_COEFF_DIFF, name
        assert step <= 1, name
        total += q_size(fe)
        off += differ
    assert total == 51_520
    assert off <= BUNDLED_OFF[model]


def q_size(fe: FrontEnd) -> int:
    return fe.config.num_frames * fe.config.n_mfcc


def _signals():
    rng = np.random.default_rng(18)
    t = np.arange(48_000) / 16_000
    return {
        "silence": np.zeros(48_000, np.float32),
        "clipping": np.clip(4 * np.sin(2 * np.pi * 220 * t), -1, 1).astype(np.float32),
        "very quiet": (1e-5 * rng.standard_normal(40_000)).astype(np.float32),
        "short": (0.3 * rng.standard_normal(3_000)).astype(np.float32),
        "empty": np.zeros(0, np.float32),
    }


# Measured (max |coefficient difference|, int8 values one step off) on the generated signals.
# Plain front end: every int8 value equal, 9.6e-5 at most (clipping). CMVN divides each
# coefficient by its spread over the clip, so float32 rounding is magnified where a
# coefficient hardly varies: a clipped pure tone is the same spectrum in every frame
# (6.0e-4, 43 of 7,360 values one step off; each near-tie repeats in every frame of the same
# phase); real speech varies (see the bundled clips).
SIGNALS = {
    "emodb": {"silence": (1e-4, 0), "clipping": (1e-4, 0), "very quiet": (1e-4, 0),
              "short": (1e-4, 0), "empty": (1e-4, 0)},
    "multi": {"silence": (1e-4, 0), "clipping": (2e-3, 58), "very quiet": (1e-4, 1),
              "short": (1e-4, 0), "empty": (1e-4, 0)},
}


@pytest.mark.parametrize("model", ["multi", "emodb"])
@pytest.mark.parametrize("name", list(_signals()))
def test_generated_signals_match_numpy(model, name, request):
    fe = request.getfixturevalue(model)
    assert fe.config.cmvn is (model == "multi")      # the figures above belong to these front ends
    diff, differ, step = _compare(fe, _signals()[name])
    max_diff, max_off = SIGNALS[model][name]
    assert diff < max_diff
    assert differ <= max_off and step <= 1


def test_dc_offset_on_speech_matches(multi, clips):
    x = (0.5 * clips["03a01Wa.wav"] + 0.4).astype(np.float32)
    diff, differ, step = _compare(multi, x)
    # measured: max difference 1.3e-5 (plain front end 1.2e-5), every int8 value equal: each
    # frame's offset is taken out before the FFT (float32 rounds relative to the largest
    # value; before, 8.5e-4 and two values one step off)
    assert diff < 2e-3
    assert differ <= 2 and step <= 1


def test_pure_dc_matches(emodb, multi):
    """A constant signal has no spectrum above DC, so every mel band is log(0 + 1e-6) in
    float64. The C front end takes each frame's offset out before the FFT and puts its
    spectrum back exactly (bins 0 and 1 of a Hann window), so the float32 window's rounding
    does not leak it into the other bands (it did: coefficients 1-39 were off by up to 4.7).
    Measured: 5.2e-8 at most without CMVN, 0 with; every int8 value equal."""
    x = np.full(48_000, 0.3, np.float32)
    coeffs, q = emodb.run(x)
    ref, ref_q = emodb.reference(x)
    assert np.array_equal(coeffs[:, 0], ref[:, 0])          # both clipped at -10
    assert np.all(ref[:, 1:] == pytest.approx(0, abs=1e-5))
    assert np.abs(coeffs - ref).max() < 1e-6
    assert np.array_equal(q, ref_q)
    coeffs, q = multi.run(x)
    ref, ref_q = multi.reference(x)
    assert np.all(ref == 0) and np.abs(coeffs).max() < 1e-6
    assert np.array_equal(q, ref_q)


# The same checks on the build a Cortex-M4F gets by default: a * b + c as one fmaf. fmaf is
# exact to the last bit, so this host build computes the device's numbers (checked on QEMU's
# mps2-an386: the same coefficient bits on 03a01Wa). Measured: bundled clips 2.3e-5 at most,
# multi none and emodb one (09b03Fd) int8 value one step off; clipping with CMVN 37 values.
# One exception to SIGNALS: on "very quiet" one emodb value (frame 33, c16) lies 7.6e-6 steps
# (0.7 of a float32 ulp) from an int8 rounding boundary, and the fused build lands on the
# other side of it (the plain build does not; no float32 arithmetic can promise either).
FUSED_OFF = {("emodb", "very quiet"): 1}


@pytest.fixture(scope="module")
def fused(tmp_path_factory):
    return {m: _build(tmp_path_factory.mktemp(m + "_fused"), m, ("-DSERNET_FE_FUSED=1",))
            for m in ("multi", "emodb")}


@pytest.mark.parametrize("model", ["multi", "emodb"])
def test_fused_build_matches_numpy(model, fused, clips):
    fe = fused[model]
    off = 0
    for name, x in clips.items():
        diff, differ, step = _compare(fe, x)
        assert diff < MAX_COEFF_DIFF and step <= 1, name
        off += differ
    assert off <= BUNDLED_OFF[model]
    signals = dict(_signals(), dc_speech=(0.5 * clips["03a01Wa.wav"] + 0.4).astype(np.float32))
    for name, x in signals.items():
        max_diff, max_off = SIGNALS[model].get(name, (2e-3, 2))
        diff, differ, step = _compare(fe, x)
        assert diff < max_diff and step <= 1, name
        assert differ <= max(max_off, FUSED_OFF.get((model, name), 0)), name


def _host_program(folder, source: str, flags=()) -> str:
    """Compile `source` (which may #include "sernet_frontend.c") in `folder`, run it, return
    its output."""
    (folder / "check.c").write_text(source)
    subprocess.run([CC, *CFLAGS, *flags, "check.c", "-lm", "-o", "check"], cwd=folder, check=True,
                   capture_output=True)
    return subprocess.run([str(folder / "check")], check=True, capture_output=True, text=True).stdout


LOG_CHECK = r"""
#include <stdio.h>
#include "sernet_frontend.c"
int main(void)
{
    double worst_ulp = 0.0, worst_abs = 0.0;
    union { float f; uint32_t u; } v;
    uint32_t u;
    for (u = 0x0DA24260u; u < 0x7149F2CAu; u += 101) {   /* 1e-30 .. 1e30 */
        double got, ref, ulp;
        float r32;
        v.u = u;
        got = fe_log(v.f);
        ref = log((double)v.f);
        r32 = (float)ref;
        ulp = (double)nextafterf(fabsf(r32), INFINITY) - fabsf(r32);
        if (fabs(ref) >= 0.0625 && fabs(got - ref) / ulp > worst_ulp)
            worst_ulp = fabs(got - ref) / ulp;
        if (fabs(ref) < 0.0625 && fabs(got - ref) > worst_abs)
            worst_abs = fabs(got - ref);
    }
    printf("%g %g\n", worst_ulp, worst_abs);
    return 0;
}
"""


@pytest.mark.parametrize("fused_flag", ["0", "1"])
def test_log_is_float32_exact(multi, tmp_path, fused_flag):
    """The front end's own ln (newlib's logf costs about 100 instructions on a Cortex-M4)
    against double precision on every 101st float from 1e-30 to 1e30: within 1.05 ulp, and
    within 5e-9 where |ln x| < 1/16 (relative to so small a result ulps say little).
    Measured: 1.04 ulp and 4.4e-9."""
    for name in (FRONTEND_C, FRONTEND_H):
        shutil.copy(multi.folder / name, tmp_path / name)
    worst_ulp, worst_abs = map(float, _host_program(
        tmp_path, LOG_CHECK, (f"-DSERNET_FE_FUSED={fused_flag}",)).split())
    assert worst_ulp < 1.05 and worst_abs < 5e-9


# Stand-in for CMSIS-DSP's arm_math.h: arm_rfft_fast_f32 as a plain DFT in double, packed as
# CMSIS-DSP packs it ([X0.re, X(N/2).re, X1.re, X1.im, ...]), to check the front end's side.
ARM_MATH_STAND_IN = r"""
#include <math.h>
#include <stdint.h>
typedef float float32_t;
typedef int arm_status;
typedef struct { uint16_t fftLen; } arm_rfft_fast_instance_f32;
static arm_status arm_rfft_fast_init_f32(arm_rfft_fast_instance_f32 *s, uint16_t n)
{
    s->fftLen = n;
    return 0;
}
static void arm_rfft_fast_f32(const arm_rfft_fast_instance_f32 *s, float32_t *p, float32_t *out,
                              uint8_t inverse)
{
    static double c[65536], sn[65536];
    const long n = s->fftLen;
    long k, i;
    (void)inverse;
    for (i = 0; i < n; ++i) {
        c[i] = cos(2.0 * 3.14159265358979323846 * (double)i / (double)n);
        sn[i] = sin(2.0 * 3.14159265358979323846 * (double)i / (double)n);
    }
    for (k = 0; k <= n / 2; ++k) {
        double re = 0.0, im = 0.0;
        for (i = 0; i < n; ++i) {
            re += p[i] * c[(k * i) % n];
            im -= p[i] * sn[(k * i) % n];
        }
        if (k == 0) out[0] = (float)re;
        else if (k == n / 2) out[1] = (float)re;
        else { out[2 * k] = (float)re; out[2 * k + 1] = (float)im; }
    }
}
"""


def _psf_files() -> dict[str, str]:
    config = FeatureConfig.python_speech_features(seconds=1.0, cmvn=True)
    card = new_card(["a", "b"], config, "int8")
    card["input"].update(scale=0.05, zero_point=3)
    card["output"] = {"scale": 1 / 256, "zero_point": -128}
    return {FRONTEND_H: frontend_header(config, 0.05, 3), FRONTEND_C: frontend_source(config)}


@pytest.mark.parametrize("flags", [(), ("-DSERNET_FE_FUSED=1",), ("-DSERNET_FE_USE_CMSIS_DSP",)],
                         ids=["plain", "fused", "cmsis-dsp"])
@pytest.mark.parametrize("settings", ["multi", "python_speech_features"])
def test_front_end_is_strict_c99(tmp_path, settings, flags):
    """The front end compiles as ISO C99 with -pedantic and every warning an error, with both
    kinds of arithmetic and with CMSIS-DSP (against the stand-in header), for a card's settings
    and for python_speech_features' (the other code paths: radix-4 first stage, DCT matrix,
    pre-emphasis, power spectrum, energy, no normalisation, no offset removal)."""
    if settings == "multi":
        path = resolve_model("multi-micro")
        data = path.read_bytes()
        files = {k: v for k, v in generate(data, path.stem, read_card(path, data)).items()
                 if k in (FRONTEND_C, FRONTEND_H)}
    else:
        files = _psf_files()
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "arm_math.h").write_text(ARM_MATH_STAND_IN)
    subprocess.run([CC, *CFLAGS, "-pedantic", "-Wshadow", "-Wconversion", "-Wno-sign-conversion",
                    "-Wno-float-conversion", *flags, "-I.", "-c", FRONTEND_C],
                   cwd=tmp_path, check=True, capture_output=True)


@pytest.mark.parametrize("model", ["multi", "emodb"])
def test_cmsis_dsp_side_matches_numpy(model, tmp_path, clips):
    """-DSERNET_FE_USE_CMSIS_DSP with the stand-in's exact DFT: what the front end does around
    arm_rfft_fast_f32 (half the window, the packed layout, the offset put back) gives numpy's
    numbers within the bundled clips' tolerances (measured: 1.9e-5 at most, every int8 value
    equal; DC-offset speech 5.0e-6)."""
    (tmp_path / "arm_math.h").write_text(ARM_MATH_STAND_IN)
    fe = _build(tmp_path, model, ("-DSERNET_FE_USE_CMSIS_DSP", "-I."))
    off = 0
    for name, x in clips.items():
        diff, differ, step = _compare(fe, x)
        assert diff < MAX_COEFF_DIFF and step <= 1, name
        off += differ
    assert off <= BUNDLED_OFF[model]
    diff, differ, step = _compare(fe, (0.5 * clips["03a01Wa.wav"] + 0.4).astype(np.float32))
    assert diff < 2e-3 and differ <= 2 and step <= 1


def test_int16_input_equals_float_input(multi, clips):
    """`sernet_fe_extract_s16` on a 16-bit WAV's samples gives the loader's float numbers."""
    for path in bundled_clips():
        pcm, _ = soundfile.read(path, dtype="int16")
        c16, q16 = multi.run(pcm, "s16")
        c32, q32 = multi.run(clips[path.name])
        assert np.array_equal(c16, c32) and np.array_equal(q16, q32), path.name


@pytest.mark.parametrize("model", ["multi", "emodb"])
def test_c_inputs_give_the_numpy_label(model, request, clips):
    fe = request.getfixturevalue(model)
    clf = EmotionClassifier(model, num_threads=1)
    interp = make_interpreter(resolve_model(model).read_bytes(), num_threads=1)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    for name, x in clips.items():
        _, q = fe.run(x)
        interp.set_tensor(inp["index"], q.reshape(inp["shape"]))
        interp.invoke()
        c_label = int(np.argmax(interp.get_tensor(out["index"])[0]))
        assert c_label == int(np.argmax(clf.predict_window(x))), name


def _front_end_for(config: FeatureConfig, tmp_path, scale: float, zero_point: int):
    """Write and build the C front end of a card with these feature settings."""
    card = new_card(["a", "b"], config, "int8")
    card["input"].update(scale=scale, zero_point=zero_point)
    card["output"] = {"scale": 1 / 256, "zero_point": -128}
    files = {FRONTEND_H: frontend_header(config, scale, zero_point), FRONTEND_C: frontend_source(config),
             CARD_H: card_header("test", card), MAIN_C: template(MAIN_C)}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return FrontEnd(tmp_path, config, scale, zero_point), files


def test_other_feature_settings(tmp_path):
    """Every switch the card can set: python_speech_features' settings (pre-emphasis, power
    spectrum, its mel bins, lifter, energy, end padding, log floor, ortho DCT, no
    normalisation, no clip) with per-clip CMVN, over 1 s."""
    fe, _ = _front_end_for(FeatureConfig.python_speech_features(seconds=1.0, cmvn=True), tmp_path, 0.05, 3)
    diff, differ, step = _compare(fe, load_audio(bundled_clips()[0])[:20_000])
    assert diff < MAX_COEFF_DIFF     # measured 2.5e-6; every int8 value equal
    assert step <= 1 and differ <= 2


def test_mean_only_normalisation(tmp_path):
    """`cmvn_variance = false` (CMN): the C front end subtracts each coefficient's clip mean
    and divides by nothing."""
    config = FeatureConfig(seconds=1.0, cmvn=True, cmvn_variance=False)
    fe, files = _front_end_for(config, tmp_path, 0.08, 0)
    assert "#define SERNET_FE_CMVN_VARIANCE 0" in files[FRONTEND_H]
    diff, differ, step = _compare(fe, load_audio(bundled_clips()[0])[:20_000])
    assert diff < MAX_COEFF_DIFF
    assert step <= 1 and differ <= 2


@pytest.mark.parametrize("seconds", [0.3, 0.55, 1.0, 1.6])
def test_cmvn_without_the_padding(tmp_path, seconds):
    """`cmvn_skip_padding`: the C front end takes the statistics over the same frames as
    numpy's clip_frames (short clips, each with padding on both sides; 1.6 s: none) and zeroes
    the rest."""
    config = FeatureConfig(seconds=1.0, cmvn=True, cmvn_skip_padding=True)
    fe, files = _front_end_for(config, tmp_path, 0.05, 0)
    assert "#define SERNET_FE_CMVN_SKIP_PADDING 1" in files[FRONTEND_H]
    diff, differ, step = _compare(fe, load_audio(bundled_clips()[0])[:int(seconds * 16_000)])
    assert diff < MAX_COEFF_DIFF
    assert step <= 1 and differ <= 2


IN_PLACE_CHECK = r"""
#include <stdio.h>
#include <stdlib.h>
#include "sernet_frontend.c"
#define MAX_CLIP 200000L
static float work[SERNET_FE_WORK_FLOATS];
/* the small work buffer with a guard behind it: a write past its end shows */
static struct { float work[SERNET_FE_IN_PLACE_WORK_FLOATS]; float guard[256]; } small;
static int16_t clip[MAX_CLIP];
static float c1[SERNET_FE_INPUT_SIZE], c2[SERNET_FE_INPUT_SIZE];
static int8_t q1[SERNET_FE_INPUT_SIZE], q2[SERNET_FE_INPUT_SIZE];
int main(int argc, char **argv)
{
    FILE *f = fopen(argv[1], "rb");
    long total, a;
    if (!f) return 2;
    total = (long)fread(clip, 2, MAX_CLIP, f);
    fclose(f);
    printf("in_place %d\n", SERNET_FE_IN_PLACE);
    for (a = 2; a < argc; ++a) {
        long n = atol(argv[a]), cap = n > SERNET_FE_NUM_SAMPLES ? n : SERNET_FE_NUM_SAMPLES, i;
        int16_t *buf = malloc((size_t)cap * 2);
        int rc1, rc2, guard_ok = 1, kept = 1;
        if (n > total) return 3;
        for (i = 0; i < 256; ++i) small.guard[i] = 12345.0f;
        memcpy(buf, clip, (size_t)n * 2);
        rc1 = sernet_fe_extract_s16(clip, n, work, c1, q1);
        rc2 = sernet_fe_extract_s16_in_place(buf, n, cap, small.work, c2, q2);
        for (i = 0; i < 256; ++i) guard_ok &= small.guard[i] == 12345.0f;
        kept = memcmp(buf, clip, (size_t)n * 2) == 0;
        printf("%ld %d %d %d %d %d %d\n", n, rc1, rc2, !memcmp(c1, c2, sizeof c1),
               !memcmp(q1, q2, sizeof q1), guard_ok, kept);
        free(buf);
    }
    printf("errors %d %d %d\n",
           sernet_fe_extract_s16_in_place(clip, 100, SERNET_FE_NUM_SAMPLES - 1, small.work, 0, q2),
           sernet_fe_extract_s16_in_place(clip, SERNET_FE_NUM_SAMPLES + 1, SERNET_FE_NUM_SAMPLES,
                                          small.work, 0, q2),
           sernet_fe_extract_s16_in_place(NULL, 0, SERNET_FE_NUM_SAMPLES, small.work, 0, q2));
    return 0;
}
"""

# 0 and 1 sample, short clips (rows behind the clip), longer ones moved to the buffer's end
# (36,000, and 47,999, one short of the window: the rows would not fit behind them),
# the window, one over (cropped: shift 0), and 7 s (cropped from the middle)
IN_PLACE_LENGTHS = [0, 1, 5_000, 20_000, 36_000, 47_999, 48_000, 48_001, 112_000]


def _in_place(folder, tmp_path, samples: np.ndarray, lengths) -> tuple[str, list[list[int]], str]:
    for name in (FRONTEND_C, FRONTEND_H):
        shutil.copy(folder / name, tmp_path / name)
    samples.astype(np.int16).tofile(tmp_path / "clip.raw")
    (tmp_path / "check.c").write_text(IN_PLACE_CHECK)
    subprocess.run([CC, *CFLAGS, "check.c", "-lm", "-o", "check"], cwd=tmp_path, check=True,
                   capture_output=True)
    out = subprocess.run([str(tmp_path / "check"), str(tmp_path / "clip.raw"), *map(str, lengths)], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    return out[0], [[int(v) for v in line.split()] for line in out[1:-1]], out[-1]


def _long_clip(clips) -> np.ndarray:
    """The bundled clips end to end (over 7 s), as int16."""
    x = np.concatenate(list(clips.values()))
    return np.round(np.clip(x, -1, 1) * 32767).astype(np.int16)


@pytest.mark.parametrize("model", ["multi", "skip_padding"])
def test_in_place_gives_the_same_numbers(model, request, clips, tmp_path):
    """sernet_fe_extract_s16_in_place keeps CMVN's coefficient rows in the caller's audio
    buffer and gives the very bits the work-buffer call gives, for every length (short clips'
    padding, crops); its small work buffer is never overrun; bad capacities are refused."""
    if model == "multi":
        folder = request.getfixturevalue("multi").folder
    else:     # statistics without the padding: the clip's own length must reach CMVN
        folder = tmp_path / "skip"
        folder.mkdir()
        _front_end_for(FeatureConfig(cmvn=True, cmvn_skip_padding=True), folder, 0.05, 0)
    flag, rows, errors = _in_place(folder, tmp_path, _long_clip(clips), IN_PLACE_LENGTHS)
    assert flag == "in_place 1"
    assert [r[0] for r in rows] == IN_PLACE_LENGTHS
    for n, rc1, rc2, same_coeffs, same_input, guard_ok, _ in rows:
        assert (rc1, rc2, same_coeffs, same_input, guard_ok) == (0, 0, 1, 1, 1), n
    assert errors == "errors -1 -1 -1"


def test_in_place_without_cmvn_keeps_the_samples(emodb, clips, tmp_path):
    """Without CMVN there are no rows to keep: the in-place call is the plain one, and the
    caller's samples stay as they were."""
    flag, rows, _ = _in_place(emodb.folder, tmp_path, _long_clip(clips), [20_000, 48_000, 112_000])
    assert flag == "in_place 0"
    assert all(r[1:] == [0, 0, 1, 1, 1, 1] for r in rows)


def test_in_place_refused_where_rows_would_overtake_the_reading(tmp_path):
    """40 coefficients (160 B a row) with a hop of 64 samples (128 B): the rows would be
    written over samples not yet read, so the header says 0 and the call refuses."""
    folder = tmp_path / "fe"
    folder.mkdir()
    _front_end_for(FeatureConfig(seconds=1.0, cmvn=True, hop_length=64), folder, 0.05, 0)
    x = np.round(np.sin(np.arange(20_000) * 0.05) * 8000).astype(np.int16)
    flag, rows, _ = _in_place(folder, tmp_path, x, [16_000])
    assert flag == "in_place 0"
    assert rows[0][1:3] == [0, -3]


@pytest.mark.parametrize("n", [1, 2, 999, 1000, 16_000, 48_000, 112_000])
def test_percentile_plan_is_numpys(n):
    x = np.random.default_rng(n).random(n).astype(np.float32)
    k, gamma = percentile_plan(n)
    s = np.sort(x)
    hi = s[min(k + 1, n - 1)]
    diff = hi - s[k]
    mine = hi - diff * np.float32(1 - gamma) if gamma >= 0.5 else s[k] + diff * np.float32(gamma)
    assert mine == np.percentile(x, 99.9)


def test_not_finite_samples_are_refused(multi):
    x = np.zeros(48_000, np.float32)
    x[100] = np.nan
    (multi.folder / "nan.raw").write_bytes(x.tobytes())
    r = subprocess.run([str(multi.exe), "--f32", str(multi.folder / "nan.raw")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "NaN" in r.stderr


# ---- the command ----

def test_cli_writes_everything(tmp_path):
    r = CliRunner().invoke(main, ["export-c", "emodb", "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["light-sernet-emodb-3s-int8_model_data.c", "light-sernet-emodb-3s-int8_model_data.h",
                     "main.c", "sernet_card.h", "sernet_frontend.c", "sernet_frontend.h"]
    card_h = (tmp_path / "out" / CARD_H).read_text()
    assert '#define SERNET_CARD_NUM_LABELS 7' in card_h
    assert '"anger", "boredom", "disgust"' in card_h
    assert "#define SERNET_CARD_INPUT_ZERO_POINT (-1)" in card_h
    assert "#define SERNET_FE_NUM_FRAMES 184" in (tmp_path / "out" / FRONTEND_H).read_text()


@pytest.mark.parametrize("args, message", [
    (["no-such-model"], "no such model file"),
    (["multi-float16"], "needs a full-int8 model"),
    ([__file__], "not a TFLite model"),
])
def test_cli_bad_input_is_one_line(tmp_path, args, message):
    r = CliRunner().invoke(main, ["export-c", *args, "-o", str(tmp_path / "out")])
    assert r.exit_code == 2
    assert message in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_cli_output_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    r = CliRunner().invoke(main, ["export-c", "multi", "-o", str(tmp_path / "f")])
    assert r.exit_code == 2 and "not a folder" in r.output


def test_export_never_imports_tensorflow(tmp_path):
    code = ("import sys; from sernet_edge.cli import main; "
            f"main(['export-c', 'multi', '-o', {str(tmp_path)!r}], standalone_mode=False); "
            "print([m for m in ('tensorflow', 'keras') if m in sys.modules])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip().splitlines()[-1] == "[]"


def test_cli_points_microcontrollers_at_the_average_pool_file(tmp_path):
    """The CPU int8 file's depthwise pools need a larger arena: export-c says which file not."""
    fast = CliRunner().invoke(main, ["export-c", "multi", "-o", str(tmp_path / "a")])
    small = CliRunner().invoke(main, ["export-c", "multi-micro", "-o", str(tmp_path / "b")])
    assert fast.exit_code == small.exit_code == 0
    assert "note: this file writes average pools as depthwise" in fast.stderr
    assert "multi-micro" in fast.stderr and small.stderr == ""
