"""`sernet-edge export-c`: a model and its own front end as portable C for a microcontroller.

The front end (c_templates/frontend.c, C99, float32, no heap) is the same `extract` as
sernet_edge/features.py; this module computes its tables (window, FFT plans and twiddles,
sparse mel triangles, log, DCT) from the card's feature settings, so every card gets the front
end its model was trained with. No TensorFlow: the model is read as bytes and its card from its metadata.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import numpy as np

from sernet_edge.audio import NORM_PERCENTILE
from sernet_edge.card import feature_config, read_card
from sernet_edge.errors import ModelError
from sernet_edge.features import CMVN_FLOOR, FLOAT_EPS, FeatureConfig, _matrices
from sernet_edge.c_array import c_array_files, c_float, c_header_name, c_source_name, c_string

FRONTEND_H, FRONTEND_C, CARD_H, MAIN_C = "sernet_frontend.h", "sernet_frontend.c", "sernet_card.h", "main.c"
TABLES_MARK = "/*@TABLES@*/"
PER_LINE = 6


APP_FILES = {"sernet_app.h": "app.h", "sernet_app.c": "app.c", "sernet_gate.h": "gate.h",
             "sernet_gate.c": "gate.c", "sernet_app_tflm.h": "app_tflm.h",
             "sernet_app_tflm.cc": "app_tflm.cc", "app_main.c": "app_main.c"}
SETTINGS_MARK = "/*@SETTINGS@*/"


def export_c(model, out_dir, app: dict | None = None) -> list[Path]:
    """Write the model array, front end, card header and example main.c into `out_dir`;
    with `app` (the streaming app's settings, `app_settings`), the streaming app too."""
    from sernet_edge.io import make_dirs, write_text
    from sernet_edge.runtime import resolve_model

    path = resolve_model(model)
    data = path.read_bytes()
    card = read_card(path, data)
    if card["precision"] != "int8":
        raise ModelError(f"{path}: export-c needs a full-int8 model for TFLite Micro, "
                         f"this one is {card['precision']}")
    out = make_dirs(out_dir)
    files = generate(data, path.stem, card)
    if app is not None:
        files.update(app_sources(path.stem, card, **app))
    written = []
    for name, text in files.items():
        write_text(out / name, text)
        written.append(out / name)
    return written


def generate(model: bytes, name: str, card: dict) -> dict[str, str]:
    """File name -> text, for the model `name` (its file stem) with `card`."""
    features = feature_config(card)
    scale, zero = card["input"]["scale"], card["input"]["zero_point"]
    header, source = c_array_files(model, name, card, generator="sernet-edge export-c")
    return {c_header_name(name): header, c_source_name(name): source,
            CARD_H: card_header(name, card),
            FRONTEND_H: frontend_header(features, scale, zero, origin=name),
            FRONTEND_C: frontend_source(features),
            MAIN_C: template(MAIN_C)}


# ---- the streaming app (c_templates/app*.c, gate.c) ----

def app_settings(hop: float | None = None, smooth: int | None = None, threshold: float | None = None,
                 min_speech: float | None = None, energy_db: float | None = None) -> dict:
    """The app's settings, `listen`'s defaults for those not given."""
    from sernet_edge.stream.pipeline import (DEFAULT_HOP_SECONDS, DEFAULT_MIN_SPEECH_SECONDS,
                                             DEFAULT_SMOOTH, DEFAULT_THRESHOLD)
    from sernet_edge.vad import DEFAULT_ENERGY_DB
    return {"hop": DEFAULT_HOP_SECONDS if hop is None else hop,
            "smooth": DEFAULT_SMOOTH if smooth is None else smooth,
            "threshold": DEFAULT_THRESHOLD if threshold is None else threshold,
            "min_speech": DEFAULT_MIN_SPEECH_SECONDS if min_speech is None else min_speech,
            "energy_db": DEFAULT_ENERGY_DB if energy_db is None else energy_db}


def app_sources(name: str, card: dict, hop: float, smooth: int, threshold: float,
                min_speech: float, energy_db: float) -> dict[str, str]:
    """The streaming app's files for the model `name` with `card`: the same decisions as
    sernet_edge/stream/pipeline.py with these settings (checked as Pipeline checks them)."""
    features = feature_config(card)
    rate, window = features.sample_rate, features.num_samples
    hop_samples = int(round(hop * rate))
    if not 0 < hop_samples <= window:
        raise ModelError(f"hop must be between 1/{rate} s and the model window ({features.seconds:g} s), got {hop:g} s")
    if smooth < 1:
        raise ModelError(f"smooth must be at least 1, got {smooth}")
    if not 0.0 <= threshold <= 1.0:
        raise ModelError(f"threshold must be within [0, 1], got {threshold:g}")
    if not 0.0 <= min_speech <= features.seconds:
        raise ModelError(f"min_speech must be between 0 and the model window ({features.seconds:g} s), got {min_speech:g} s")
    settings = "\n".join([
        f"/* settings: hop {hop:g} s, smooth {smooth}, threshold {threshold:g}, min speech {min_speech:g} s, "
        f"energy floor {energy_db:g} dBFS */",
        f"#define SERNET_APP_HOP_SAMPLES {hop_samples}  /* listen --hop */",
        f"#define SERNET_APP_SMOOTH {smooth}  /* listen --smooth */",
        f"#define SERNET_APP_THRESHOLD {float(threshold)!r}  /* listen --threshold */",
        f"#define SERNET_APP_MIN_SPEECH_SAMPLES {int(round(min_speech * rate))}  /* listen --min-speech */",
        f"#define SERNET_APP_ENERGY_DB ({float(energy_db)!r})  /* listen --energy-db (--vad energy) */"])
    header, array = c_header_name(name), c_array_symbol(name)
    out = {}
    for target, source in APP_FILES.items():
        text = template(source)
        text = text.replace(SETTINGS_MARK, settings)
        text = text.replace("/*@MODEL_HEADER@*/", header).replace("/*@MODEL_ARRAY@*/", array)
        out[target] = text
    return out


def c_array_symbol(name: str) -> str:
    """The model array's C name in the files `c_array_files` writes."""
    from sernet_edge.c_array import c_identifier
    return f"{c_identifier(name)}_model_data"


# ---- the front end ----

def check_supported(config: FeatureConfig, origin: str = "model") -> None:
    n = config.n_fft
    if n < 8 or n & (n - 1):
        raise ModelError(f"{origin}: the C front end needs a power-of-two FFT size of 8 or more, "
                         f"the card has n_fft {n}")
    if config.frame_length > 65535 or config.n_fft > 65535:
        raise ModelError(f"{origin}: frame or FFT size too large for the C front end")


def in_place_possible(config: FeatureConfig) -> bool:
    """Whether CMVN's coefficient rows fit in a NUM_SAMPLES int16 buffer, each frame's row
    written (from the buffer's start) behind every sample a later frame still reads: frame
    t + 1 reads from sample (t + 1) hop + frame - hop - 1 on (the one before, for the
    pre-emphasis). With 40 coefficients: a hop of 80 samples or more."""
    if not config.cmvn:
        return False
    row = 4 * config.n_mfcc
    keep = max(0, config.frame_length - config.hop_length)
    if config.num_frames * row > 2 * config.num_samples:
        return False
    return all((t + 1) * row <= 2 * ((t + 1) * config.hop_length + keep - 1)
               for t in range(config.num_frames - 1))


def percentile_plan(n: int, q: float = NORM_PERCENTILE) -> tuple[int, float]:
    """(index k, gamma) of numpy's linear percentile over n values: the result is
    sorted[k] + gamma * (sorted[k+1] - sorted[k]), computed as numpy does (float64)."""
    q = q / 100
    virtual = n * q + (1 + q * (1 - 1 - 1)) - 1   # numpy's _compute_virtual_index, alpha=beta=1
    if virtual >= n - 1:
        return n - 1, 0.0
    k = max(0, math.floor(virtual))
    return k, virtual - k


def frontend_header(config: FeatureConfig, scale: float, zero_point: int, origin: str = "model") -> str:
    check_supported(config, origin)
    t = _tables(config)
    k, gamma = percentile_plan(config.num_samples)
    top = config.num_samples - k
    bins = config.n_fft // 2 + 1
    ceps = config.num_frames * config.n_mfcc if config.cmvn else config.n_mfcc
    frame = config.n_fft          # the frame's input samples, kept between frames
    fixed = frame + bins + config.n_mels + top
    # in place, CMVN's rows go into the audio: one frame's coefficients stay (as without CMVN)
    work, small = fixed + ceps, fixed + config.n_mfcc
    in_place = in_place_possible(config)     # False without CMVN
    flash = sum(a.nbytes for a in t.values())
    work_bytes, small_bytes = 4 * (config.n_fft + work), 4 * (config.n_fft + small)
    defines = [
        ("SAMPLE_RATE", config.sample_rate, "mono input rate, Hz"),
        ("NUM_SAMPLES", config.num_samples, f"{config.seconds} s window"),
        ("NUM_FRAMES", config.num_frames, "model input: frames (time) ..."),
        ("NUM_COEFFS", config.n_mfcc, "... by coefficients"),
        ("INPUT_SIZE", "(SERNET_FE_NUM_FRAMES * SERNET_FE_NUM_COEFFS)", "int8 tensor, time first"),
        ("INPUT_SCALE", c_float(scale), "real = scale * (q - zero_point)"),
        ("INPUT_ZERO_POINT", int(zero_point), ""),
        ("FRAME_LENGTH", config.frame_length, ""),
        ("HOP_LENGTH", config.hop_length, ""),
        ("N_FFT", config.n_fft, ""),
        ("N_MELS", config.n_mels, ""),
        ("MEL_WEIGHTS", len(t["fe_mel_weights"]), "non-zero mel triangle weights"),
        ("NORMALISE", int(config.normalise), f"divide by the {NORM_PERCENTILE}th percentile of |x|"),
        ("PCT_TOP", top, "largest |x| values kept to find it"),
        ("PCT_GAMMA", c_float(gamma), ""),
        ("PCT_ONE_MINUS_GAMMA", c_float(1 - gamma), ""),
        ("PCT_UPPER", int(gamma >= 0.5), "numpy interpolates from above when gamma >= 0.5"),
        ("PREEMPHASIS_ON", int(config.preemphasis != 0), ""),
        ("PREEMPHASIS", c_float(config.preemphasis), ""),
        ("POWER", int(config.spectrum == "power"), "1: |X|^2 / n_fft, 0: |X|"),
        ("LOG_OFFSET", c_float(config.log_offset), "log(mel + offset)"),
        ("LOG_FLOOR_ON", int(config.log_floor != 0), ""),
        ("LOG_FLOOR", c_float(config.log_floor), "mel == 0 becomes this"),
        ("APPEND_ENERGY", int(config.append_energy), "c0 = log frame energy"),
        ("ENERGY_FLOOR", c_float(FLOAT_EPS), ""),
        ("CLIP_ON", int(config.clip is not None), ""),
        ("CLIP", c_float(config.clip or 0.0), ""),
        ("CMVN", int(config.cmvn), "per-clip mean/variance normalisation"),
        ("CMVN_VARIANCE", int(config.cmvn_variance), "0: mean only (CMN)"),
        ("CMVN_SKIP_PADDING", int(config.cmvn_skip_padding), "1: statistics without the zero padding"),
        ("CMVN_FLOOR", c_float(CMVN_FLOOR), ""),
        ("IN_PLACE", int(in_place), "1: sernet_fe_extract_s16_in_place saves the CMVN rows"),
        ("ERR_ARGUMENT", -1, ""),
        ("ERR_NOT_FINITE", -2, "a sample is NaN or infinite"),
        ("ERR_IN_PLACE", -3, "these settings cannot keep the CMVN rows in the audio buffer"),
    ]
    lines = [
        f"/* MFCC front end for {origin}, generated by `sernet-edge export-c`; do not edit.",
        " * The same numbers as sernet_edge/features.py `extract` with the model card's settings:",
        f" *   {_settings_line(config)}",
        f" * Flash: {flash:,} B of tables plus the code. RAM: no heap, no static state",
        f" * (except CMSIS-DSP's instance); the caller's work buffer of SERNET_FE_WORK_FLOATS",
        f" * floats ({work_bytes:,} B; {work_bytes + 4 * config.n_fft:,} B with CMSIS-DSP) and about",
        " * 300 B of stack." + (f" In place, SERNET_FE_IN_PLACE_WORK_FLOATS ({small_bytes:,} B): the"
                               if in_place else " */"),
        *([" * coefficient rows that CMVN needs go into the caller's audio buffer instead. */"]
          if in_place else []),
        "#ifndef SERNET_FRONTEND_H_", "#define SERNET_FRONTEND_H_", "",
        "#include <stdint.h>", ""]
    for key, value, note in defines:
        lines.append(f"#define SERNET_FE_{key} {_c_value(value)}" + (f"  /* {note} */" if note else ""))
    lines += [
        "", "#ifdef SERNET_FE_USE_CMSIS_DSP",
        "#define SERNET_FE_FFT_FLOATS (2 * SERNET_FE_N_FFT)  /* arm_rfft_fast_f32 is not in place */",
        "#else", "#define SERNET_FE_FFT_FLOATS SERNET_FE_N_FFT", "#endif",
        f"#define SERNET_FE_WORK_FLOATS (SERNET_FE_FFT_FLOATS + {work})",
        f"#define SERNET_FE_IN_PLACE_WORK_FLOATS (SERNET_FE_FFT_FLOATS + {small})", "",
        "#ifdef __cplusplus", 'extern "C" {', "#endif", "",
        "/* One window of audio to the model's input. `samples`: n mono samples at",
        " * SERNET_FE_SAMPLE_RATE, centre-cropped or zero-padded to SERNET_FE_NUM_SAMPLES as in",
        " * training (int16: full scale 32768, as libsndfile). `work`: SERNET_FE_WORK_FLOATS",
        " * floats. Writes SERNET_FE_INPUT_SIZE coefficients to `coeffs` and/or the quantised",
        " * tensor to `input` (either may be NULL). Returns 0 or a negative SERNET_FE_ERR_*. */",
        "int sernet_fe_extract_f32(const float *samples, long n, float *work, float *coeffs,",
        "                          int8_t *input);",
        "int sernet_fe_extract_s16(const int16_t *samples, long n, float *work, float *coeffs,",
        "                          int8_t *input);",
        "/* The same numbers with less RAM: the coefficient rows that CMVN keeps until every frame",
        " * is known are written over the audio already read, so `work` needs only",
        " * SERNET_FE_IN_PLACE_WORK_FLOATS. `samples`: room for `capacity` >= SERNET_FE_NUM_SAMPLES",
        " * int16 (a 3 s ring for a 3 s model), the first n of them the audio; they are lost.",
        " * SERNET_FE_ERR_IN_PLACE where SERNET_FE_IN_PLACE is 0. Without CMVN it is the call",
        " * above and the samples stay. */",
        "int sernet_fe_extract_s16_in_place(int16_t *samples, long n, long capacity, float *work,",
        "                                   float *coeffs, int8_t *input);",
        "", "#ifdef __cplusplus", "}", "#endif", "", "#endif  /* SERNET_FRONTEND_H_ */", ""]
    return "\n".join(lines)


def frontend_source(config: FeatureConfig) -> str:
    check_supported(config)
    t = _tables(config)
    by_fft = "fe_dct_order" in t
    dc_bins = _window_dc(config)
    lines = [f"/* tables for: {_settings_line(config)} */",
             f"#define FE_DCT_BY_FFT {int(by_fft)}  /* else a folded DCT matrix */",
             f"#define FE_DC_REMOVAL {int(dc_bins is not None)}  /* the FFT takes out an offset */",
             f"#define FE_DC_W0 {_c_number(dc_bins[0] if dc_bins else 0.0, np.float32)}"
             "  /* the window's spectrum: bin 0 */",
             f"#define FE_DC_W1 {_c_number(dc_bins[1] if dc_bins else 0.0, np.float32)}"
             "  /* and bin 1 (the only others not 0) */", "",
             "#ifndef SERNET_FE_USE_CMSIS_DSP  /* the own FFT of the spectrum */",
             *_plan_defines("FE_", config.n_fft // 2)]
    for name, array in t.items():
        if name == "fe_dct_order":
            lines += _plan_defines("FE_DCT_", config.n_mels // 2)
        lines += _c_table(name, array)
        if name == OWN_FFT_TABLES[-1]:
            lines += ["#endif", ""]
    return template("frontend.c").replace(TABLES_MARK, "\n".join(lines))


OWN_FFT_TABLES = ("fe_bitrev", "fe_fft_twiddle", "fe_split_twiddle")   # not with CMSIS-DSP


def _c_table(name: str, array: np.ndarray) -> list[str]:
    ctype = {np.dtype(np.float32): "float", np.dtype(np.uint16): "uint16_t",
             np.dtype(np.uint32): "uint32_t"}[array.dtype]
    values = [_c_number(v, array.dtype) for v in array]
    return ([f"static const {ctype} {name}[{len(array)}] = {{"]
            + ["    " + ", ".join(values[i:i + PER_LINE]) + "," for i in range(0, len(values), PER_LINE)]
            + ["};"])


def _tables(config: FeatureConfig) -> dict[str, np.ndarray]:
    m = _matrices(config)
    n = config.n_fft
    first, count, offset, weights = [], [], [], []
    for band in m.mel.T:           # each triangle as its run of non-zero bins
        nz = np.flatnonzero(band)
        lo, hi = (nz[0], nz[-1] + 1) if len(nz) else (0, 0)
        first.append(lo)
        count.append(hi - lo)
        offset.append(len(weights))
        weights.extend(band[lo:hi])
    window = np.zeros(n)           # zero past the frame: the FFT's padding
    window[:config.frame_length] = m.window / 2    # with the real FFT split's 1/2 (exact)
    bitrev, twiddle = _fft_tables(n // 2)
    k = np.arange(n // 4 + 1)
    split = np.stack([np.cos(2 * np.pi * k / n), -np.sin(2 * np.pi * k / n)], axis=-1)
    tables = {"fe_bitrev": bitrev, "fe_fft_twiddle": twiddle,
              "fe_split_twiddle": split.reshape(-1).astype(np.float32),
              "fe_window": window.astype(np.float32),
              "fe_log_table": _log_table(),
              "fe_mel_first": np.array(first, np.uint16),
              "fe_mel_count": np.array(count, np.uint16),
              "fe_mel_offset": np.array(offset, np.uint32),
              "fe_mel_weights": np.array(weights or [0.0], np.float32)}
    if _dct_by_fft(config, m):
        bands = config.n_mels
        bitrev, twiddle = _fft_tables(bands // 2)
        k = np.arange(config.n_mfcc)
        turn = -1j * np.exp(-2j * np.pi * k / bands)       # U_k of the split
        half_t = m.dct_twiddle / 2
        per_k = np.stack([turn.real, turn.imag, half_t.real, half_t.imag], axis=-1)
        tables.update(fe_dct_order=m.dct_order.astype(np.uint16), fe_dct_bitrev=bitrev,
                      fe_dct_fft_twiddle=twiddle, fe_dct_twiddle=per_k.reshape(-1).astype(np.float32))
    else:
        tables["fe_dct_rows"] = _folded_dct(m.dct)
    return tables


def _log_table() -> np.ndarray:
    """c_templates/frontend.c `fe_log`'s table: for each 1/64 of z in [0.69921875, 1.3984375)
    (the bit patterns from 0x3F330000, 2^17 apart), its centre c, 1/c and ln c (and a 0). The
    part around 1 takes c = 1, so that ln x near 1 is as exact relative to its size."""
    edges = (0x3F330000 + (np.arange(65) << 17)).astype(np.uint32).view(np.float32).astype(np.float64)
    c = ((edges[:-1] + edges[1:]) / 2).astype(np.float32).astype(np.float64)
    c[(edges[:-1] <= 1) & (edges[1:] > 1)] = 1.0
    return np.stack([c, 1 / c, np.log(c), np.zeros(64)], axis=-1).reshape(-1).astype(np.float32)


def _window_dc(config: FeatureConfig) -> tuple[float, float] | None:
    """Bins 0 and 1 of the (zero-padded) window's spectrum when every other bin is 0, as for
    periodic Hann, Hamming and rectangular windows of the FFT's length: then the C can take an
    offset out of each frame before the FFT and put its spectrum back exactly. Else None."""
    window = np.zeros(config.n_fft)
    window[:config.frame_length] = _matrices(config).window
    w = np.fft.rfft(window)
    if np.abs(w[2:]).max(initial=0.0) > 1e-9 * abs(w[0]) or np.abs(w[:2].imag).max() > 1e-9 * abs(w[0]):
        return None
    return float(w[0].real), float(w[1].real)


def _dct_by_fft(config: FeatureConfig, m) -> bool:
    """The DCT as an FFT (as numpy's _apply_dct) when the band count is a power of two the
    FFT buffer holds and the coefficients fit in its half."""
    n = config.n_mels
    return m.dct_twiddle is not None and n >= 16 and not n & (n - 1) and n <= config.n_fft


def fft_plan(points: int) -> tuple[int, int, int]:
    """(first stage's radix, radix-4 stages, radix-8 stages) of the own complex FFT."""
    bits = points.bit_length() - 1
    first = 4 if bits in (2, 4) else 8
    rest = bits - first.bit_length() + 1
    radix4 = (0, 2, 1)[rest % 3]
    return first, radix4, (rest - 2 * radix4) // 3


def _plan_defines(prefix: str, points: int) -> list[str]:
    first, radix4, radix8 = fft_plan(points)
    return [f"#define {prefix}FIRST_RADIX {first}", f"#define {prefix}RADIX4_STAGES {radix4}",
            f"#define {prefix}RADIX8_STAGES {radix8}"]


def _fft_tables(points: int) -> tuple[np.ndarray, np.ndarray]:
    """The own complex FFT's tables (c_templates/frontend.c): where the first stage writes
    (bit reversal), and the twiddles w^(r j) (r = 1 .. radix-1) of each later stage, per j."""
    bits = points.bit_length() - 1
    first, radix4, radix8 = fft_plan(points)
    bitrev = np.array([int(f"{v:0{bits}b}"[::-1], 2) for v in range(points // first)], np.uint16)
    stages, span = [], first
    for radix in [4] * radix4 + [8] * radix8:
        span *= radix
        angle = 2 * np.pi * np.outer(np.arange(span // radix), np.arange(1, radix)) / span
        stages.append(np.stack([np.cos(angle), -np.sin(angle)], axis=-1).reshape(-1))
    return bitrev, np.concatenate(stages or [np.zeros(1)]).astype(np.float32)


def _folded_dct(dct: np.ndarray) -> np.ndarray:
    """The DCT rows as c_templates/frontend.c `fe_dct` uses them. It folds the log energies
    in place (sums x[b] + x[n-1-b] to the front, differences to the back; with an even band
    count the front half again), as row k of the DCT-II is symmetric about the middle band for
    even k and antisymmetric for odd k. Each row keeps its weights at the positions of the
    inputs it meets; a middle left in a differences half gets weight 0 (it is 0 in exact
    arithmetic). Rows k = 0, 4, 8, ..., then 2, 6, 10, ... (even count; else all even k),
    then the odd k."""
    n, n_out = dct.shape
    h1 = (n + 1) // 2
    if n % 2 == 0:
        h2 = (h1 + 1) // 2
        kinds = [(range(0, n_out, 4), 0, h2, False), (range(2, n_out, 4), h1 - h2, h2, h1 % 2 == 1)]
    else:
        kinds = [(range(0, n_out, 2), 0, h1, False)]
    kinds.append((range(1, n_out, 2), n - h1, h1, n % 2 == 1))
    rows = []
    for ks, start, length, zero_middle in kinds:
        for k in ks:
            row = dct[start:start + length, k].copy()
            if zero_middle:
                row[0] = 0.0
            rows.append(row)
    return np.concatenate(rows).astype(np.float32)


def _c_value(value) -> str:
    """A #define's value; negative numbers in parentheses so `x-SERNET_FE_...` stays right."""
    return f"({value})" if isinstance(value, int) and value < 0 else str(value)


def _c_number(v, dtype) -> str:
    if dtype != np.float32:
        return f"{int(v)}u"
    text = f"{float(v):.9g}"   # 9 digits read back as the same float32
    return text + ("f" if any(c in text for c in ".e") else ".0f")


def _settings_line(c: FeatureConfig) -> str:
    return (f"{c.seconds} s at {c.sample_rate} Hz, frame {c.frame_length} hop {c.hop_length}, "
            f"FFT {c.n_fft} {c.window} {c.spectrum}, {c.n_mels} mel {c.fmin:g}-{c.fmax:g} Hz "
            f"({c.mel_scale}), {c.n_mfcc} coefficients, DCT {c.dct}, clip {c.clip}")


# ---- the card ----

def card_header(name: str, card: dict) -> str:
    c = feature_config(card)
    inp, out = card["input"], card["output"]
    labels = ", ".join(c_string(x) for x in card["labels"])
    arena = (card.get("micro") or {}).get("arena_bytes")
    defines = [
        ("NAME", c_string(name), ""),
        ("PRECISION", c_string(card["precision"]), ""),
        ("SAMPLE_RATE", c.sample_rate, "Hz, mono"),
        ("SECONDS", c_float(c.seconds), "one window"),
        ("INPUT_FRAMES", inp["shape"][1], "input [1, frames, coeffs, 1], time first"),
        ("INPUT_COEFFS", inp["shape"][2], ""),
        ("INPUT_SCALE", c_float(inp["scale"]), "real = scale * (q - zero_point)"),
        ("INPUT_ZERO_POINT", int(inp["zero_point"]), ""),
        ("OUTPUT_SCALE", c_float(out["scale"]), "probability = scale * (q - zero_point)"),
        ("OUTPUT_ZERO_POINT", int(out["zero_point"]), ""),
        ("NUM_LABELS", len(card["labels"]), ""),
        ("LABELS", "{" + labels + "}", "output order; an initialiser for const char *[]"),
        ("OPS", c_string(", ".join(card.get("ops") or [])), "TFLite Micro op resolver needs these"),
        ("WEIGHTS_SHA256", c_string(card.get("weights_sha256", "")), ""),
    ]
    if arena:
        defines.append(("ARENA_BYTES", int(arena), "measured by TFLite Micro on the host; add a margin"))
    lines = [f"/* {name}: facts from its model card, generated by `sernet-edge export-c`; do not edit. */",
             "#ifndef SERNET_CARD_H_", "#define SERNET_CARD_H_", ""]
    for key, value, note in defines:
        lines.append(f"#define SERNET_CARD_{key} {_c_value(value)}" + (f"  /* {note} */" if note else ""))
    lines += ["", "#endif  /* SERNET_CARD_H_ */", ""]
    return "\n".join(lines)


def template(name: str) -> str:
    return resources.files("sernet_edge").joinpath("c_templates", name).read_text(encoding="utf-8")
