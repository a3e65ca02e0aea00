/* The sernet-edge MFCC front end in portable C99: the same steps as
 * sernet_edge/features.py `extract`, in float32, with no heap. The tables at
 * the top of this file were generated from one model card's feature settings.
 * Define SERNET_FE_USE_CMSIS_DSP to use CMSIS-DSP's arm_rfft_fast_f32 for the FFT. */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "sernet_frontend.h"

#ifdef SERNET_FE_USE_CMSIS_DSP
#include "arm_math.h"
#endif

/*@TABLES@*/

#define FE_BINS (SERNET_FE_N_FFT / 2 + 1)

/* work buffer layout, in floats */
#define FE_AT_FFT 0
#define FE_AT_SPEC (FE_AT_FFT + SERNET_FE_FFT_FLOATS)
#define FE_AT_MEL (FE_AT_SPEC + FE_BINS)
#define FE_AT_HEAP (FE_AT_MEL + SERNET_FE_N_MELS)
#define FE_AT_CEPS (FE_AT_HEAP + SERNET_FE_PCT_TOP)

/* The clip as the numpy path sees it after fit_length: `shift` maps a
 * position in the window to one in the caller's samples (centre crop or pad). */
typedef struct {
    const float *f;
    const int16_t *s;
    long n;
    long shift;
    float peak;
} fe_source;

static float fe_raw(const fe_source *src, long i)
{
    long j = i + src->shift;
    if (j < 0 || j >= src->n)
        return 0.0f;
    /* libsndfile's int16 -> float scale, so a 16-bit WAV gives the loader's numbers */
    return src->f ? src->f[j] : (float)src->s[j] / 32768.0f;
}

/* Normalised sample i of the window (audio.normalise), zero past its end. */
static float fe_sample(const fe_source *src, long i)
{
    float x;
    if (i < 0 || i >= SERNET_FE_NUM_SAMPLES)
        return 0.0f;
    x = fe_raw(src, i);
#if SERNET_FE_NORMALISE
    if (!(src->peak > 0.0f))
        return 0.0f;
    x = x < -src->peak ? -src->peak : (x > src->peak ? src->peak : x);
    x = x / src->peak;
    x = x < -1.0f ? -1.0f : (x > 1.0f ? 1.0f : x);
#endif
    return x;
}

static float fe_input(const fe_source *src, long i)
{
#if SERNET_FE_PREEMPHASIS_ON
    if (i >= SERNET_FE_NUM_SAMPLES)
        return 0.0f;
    if (i > 0)
        return fe_sample(src, i) - SERNET_FE_PREEMPHASIS * fe_sample(src, i - 1);
#endif
    return fe_sample(src, i);
}

/* ---- 99.9th percentile of |x|: a min-heap of the PCT_TOP largest values ---- */

static void fe_heap_down(float *h, int size, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        float t;
        if (l < size && h[l] < h[m]) m = l;
        if (r < size && h[r] < h[m]) m = r;
        if (m == i) return;
        t = h[i]; h[i] = h[m]; h[m] = t;
        i = m;
    }
}

static void fe_heap_add(float *h, int *size, float v)
{
    int i;
    if (*size == SERNET_FE_PCT_TOP) {
        if (v > h[0]) {
            h[0] = v;
            fe_heap_down(h, *size, 0);
        }
        return;
    }
    i = (*size)++;
    h[i] = v;
    while (i > 0 && h[(i - 1) / 2] > h[i]) {
        float t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/* numpy's linear percentile: sorted[k] and sorted[k + 1] are the heap's two smallest. */
static int fe_peak(fe_source *src, float *heap)
{
    int size = 0;
    long i;
    float lo, hi, diff;
    for (i = 0; i < SERNET_FE_NUM_SAMPLES; ++i) {
        float a = fabsf(fe_raw(src, i));
        if (!(a <= FLT_MAX))
            return SERNET_FE_ERR_NOT_FINITE;
        fe_heap_add(heap, &size, a);
    }
    lo = heap[0];
    hi = lo;
    if (size > 1) hi = heap[1];
    if (size > 2 && heap[2] < hi) hi = heap[2];
    diff = hi - lo;
#if SERNET_FE_PCT_UPPER
    src->peak = hi - diff * SERNET_FE_PCT_ONE_MINUS_GAMMA;
#else
    src->peak = lo + diff * SERNET_FE_PCT_GAMMA;
#endif
    return 0;
}

/* ---- real FFT: packed output [X0.re, X(N/2).re, X1.re, X1.im, ...], as CMSIS-DSP ---- */

#ifndef SERNET_FE_USE_CMSIS_DSP
/* in-place radix-2 complex FFT of m points, interleaved re/im */
static void fe_cfft(float *z, long m)
{
    long i, j, len;
    for (i = 1, j = 0; i < m; ++i) {
        long bit = m >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            float tr = z[2 * i], ti = z[2 * i + 1];
            z[2 * i] = z[2 * j]; z[2 * i + 1] = z[2 * j + 1];
            z[2 * j] = tr; z[2 * j + 1] = ti;
        }
    }
    for (len = 2; len <= m; len <<= 1) {
        long half = len / 2, step = SERNET_FE_N_FFT / len;
        for (i = 0; i < m; i += len) {
            for (j = 0; j < half; ++j) {
                float wr = fe_twiddle[2 * j * step], wi = fe_twiddle[2 * j * step + 1];
                float *a = z + 2 * (i + j), *b = z + 2 * (i + j + half);
                float br = b[0] * wr - b[1] * wi, bi = b[0] * wi + b[1] * wr;
                b[0] = a[0] - br; b[1] = a[1] - bi;
                a[0] += br; a[1] += bi;
            }
        }
    }
}

/* N real samples as N/2 complex ones, then split into the spectrum (in place) */
static void fe_rfft(float *x)
{
    const long m = SERNET_FE_N_FFT / 2;
    long k;
    float r0, i0;
    fe_cfft(x, m);
    r0 = x[0]; i0 = x[1];
    x[0] = r0 + i0;
    x[1] = r0 - i0;
    for (k = 1; k <= m / 2; ++k) {
        float *zk = x + 2 * k, *zm = x + 2 * (m - k);
        float ar = zk[0] + zm[0], ai = zk[1] - zm[1];
        float br = zk[0] - zm[0], bi = zk[1] + zm[1];
        float c = fe_twiddle[2 * k], s = fe_twiddle[2 * k + 1];
        float xr = 0.5f * (ar + c * bi + s * br), xi = 0.5f * (ai - c * br + s * bi);
        float yr = 0.5f * (ar - c * bi - s * br), yi = 0.5f * (-ai - c * br + s * bi);
        zk[0] = xr; zk[1] = xi;
        zm[0] = yr; zm[1] = yi;
    }
}
#endif

/* |rfft(frame * window)| (or power) of the frame starting at sample `start` */
static void fe_spectrum(const fe_source *src, long start, float *buf, float *spec)
{
    long i;
    float *packed = buf;
#ifdef SERNET_FE_USE_CMSIS_DSP
    static arm_rfft_fast_instance_f32 rfft;
    static int ready;
    float *in = buf + SERNET_FE_N_FFT;
    packed = buf;
    if (!ready) {
        arm_rfft_fast_init_f32(&rfft, SERNET_FE_N_FFT);
        ready = 1;
    }
#else
    float *in = buf;
#endif
    for (i = 0; i < SERNET_FE_FRAME_LENGTH; ++i)
        in[i] = fe_input(src, start + i) * fe_window[i];
    for (; i < SERNET_FE_N_FFT; ++i)
        in[i] = 0.0f;
#ifdef SERNET_FE_USE_CMSIS_DSP
    arm_rfft_fast_f32(&rfft, in, packed, 0);
#else
    fe_rfft(in);
#endif
    spec[0] = fabsf(packed[0]);
    spec[SERNET_FE_N_FFT / 2] = fabsf(packed[1]);
    for (i = 1; i < SERNET_FE_N_FFT / 2; ++i) {
        float re = packed[2 * i], im = packed[2 * i + 1];
        spec[i] = sqrtf(re * re + im * im);
    }
#if SERNET_FE_POWER
    for (i = 0; i < FE_BINS; ++i)
        spec[i] = spec[i] * spec[i] * (1.0f / SERNET_FE_N_FFT);
#endif
}

/* mel energies, log, DCT, clip: one frame's coefficients */
static void fe_cepstrum(const float *spec, float *mel, float *out)
{
    int b, k;
    for (b = 0; b < SERNET_FE_N_MELS; ++b) {
        const float *w = fe_mel_weights + fe_mel_offset[b];
        const float *s = spec + fe_mel_first[b];
        float acc = 0.0f;
        int i;
        for (i = 0; i < fe_mel_count[b]; ++i)
            acc += s[i] * w[i];
        acc += SERNET_FE_LOG_OFFSET;
#if SERNET_FE_LOG_FLOOR_ON
        if (acc == 0.0f)
            acc = SERNET_FE_LOG_FLOOR;
#endif
        mel[b] = logf(acc);
    }
    for (k = 0; k < SERNET_FE_NUM_COEFFS; ++k) {
        const float *d = fe_dct + k * SERNET_FE_N_MELS;
        float acc = 0.0f;
        for (b = 0; b < SERNET_FE_N_MELS; ++b)
            acc += mel[b] * d[b];
        out[k] = acc;
    }
#if SERNET_FE_APPEND_ENERGY
    {
        float energy = 0.0f;
        for (k = 0; k < FE_BINS; ++k)
            energy += spec[k];
        out[0] = logf(energy > SERNET_FE_ENERGY_FLOOR ? energy : SERNET_FE_ENERGY_FLOOR);
    }
#endif
#if SERNET_FE_CLIP_ON
    for (k = 0; k < SERNET_FE_NUM_COEFFS; ++k)
        out[k] = out[k] < -SERNET_FE_CLIP ? -SERNET_FE_CLIP
                 : (out[k] > SERNET_FE_CLIP ? SERNET_FE_CLIP : out[k]);
#endif
}

#if SERNET_FE_CMVN
/* each coefficient to zero mean, and unless CMVN_VARIANCE is 0 unit variance, over frames
   [t0, t1); the frames outside become 0 (features.cmvn) */
static void fe_cmvn(float *ceps, long t0, long t1)
{
    int k;
    long t;
    for (k = 0; k < SERNET_FE_NUM_COEFFS; ++k) {
        float mean = 0.0f, var = 0.0f, std;
        for (t = t0; t < t1; ++t)
            mean += ceps[t * SERNET_FE_NUM_COEFFS + k];
        mean /= (float)(t1 - t0);
        for (t = t0; t < t1; ++t) {
            float d = ceps[t * SERNET_FE_NUM_COEFFS + k] - mean;
            var += d * d;
        }
        std = sqrtf(var / (float)(t1 - t0));
        if (std < SERNET_FE_CMVN_FLOOR || !SERNET_FE_CMVN_VARIANCE)
            std = SERNET_FE_CMVN_VARIANCE ? SERNET_FE_CMVN_FLOOR : 1.0f;
        for (t = 0; t < SERNET_FE_NUM_FRAMES; ++t)
            ceps[t * SERNET_FE_NUM_COEFFS + k] = t < t0 || t >= t1 ? 0.0f
                : (ceps[t * SERNET_FE_NUM_COEFFS + k] - mean) / std;
    }
}
#endif

/* real = scale * (q - zero_point), rounded half to even as numpy */
static void fe_quantise(const float *c, int8_t *q, long count)
{
    long i;
    for (i = 0; i < count; ++i) {
        float v = rintf(c[i] / SERNET_FE_INPUT_SCALE) + (float)SERNET_FE_INPUT_ZERO_POINT;
        q[i] = (int8_t)(v < -128.0f ? -128 : (v > 127.0f ? 127 : (int)v));
    }
}

static int fe_extract(fe_source *src, float *work, float *coeffs, int8_t *input)
{
    long t, n = src->n;
    int err;
    /* fit_length: centre crop, or centre zero padding */
    src->shift = n >= SERNET_FE_NUM_SAMPLES ? (n - SERNET_FE_NUM_SAMPLES) / 2
                                            : -((SERNET_FE_NUM_SAMPLES - n) / 2);
    src->peak = 1.0f;
    err = fe_peak(src, work + FE_AT_HEAP);  /* also refuses NaN and infinity */
    if (err)
        return err;
    for (t = 0; t < SERNET_FE_NUM_FRAMES; ++t) {
#if SERNET_FE_CMVN
        float *out = work + FE_AT_CEPS + t * SERNET_FE_NUM_COEFFS;
#else
        float *out = work + FE_AT_CEPS;
#endif
        fe_spectrum(src, t * (long)SERNET_FE_HOP_LENGTH, work + FE_AT_FFT, work + FE_AT_SPEC);
        fe_cepstrum(work + FE_AT_SPEC, work + FE_AT_MEL, out);
#if !SERNET_FE_CMVN
        if (coeffs) {
            int k;
            for (k = 0; k < SERNET_FE_NUM_COEFFS; ++k)
                coeffs[t * SERNET_FE_NUM_COEFFS + k] = out[k];
        }
        if (input)
            fe_quantise(out, input + t * SERNET_FE_NUM_COEFFS, SERNET_FE_NUM_COEFFS);
#endif
    }
#if SERNET_FE_CMVN
    {
        long t0 = 0, t1 = SERNET_FE_NUM_FRAMES;
#if SERNET_FE_CMVN_SKIP_PADDING
        /* the frames that reach into a short clip between its zero padding (clip_frames) */
        long left = -src->shift;
        if (left > 0) {
            while (t0 < t1 && t0 * (long)SERNET_FE_HOP_LENGTH + SERNET_FE_FRAME_LENGTH <= left)
                ++t0;
            while (t1 > t0 && (t1 - 1) * (long)SERNET_FE_HOP_LENGTH >= left + n)
                --t1;
        }
#endif
        fe_cmvn(work + FE_AT_CEPS, t0, t1);
    }
    for (t = 0; t < SERNET_FE_INPUT_SIZE; ++t)
        if (coeffs)
            coeffs[t] = work[FE_AT_CEPS + t];
    if (input)
        fe_quantise(work + FE_AT_CEPS, input, SERNET_FE_INPUT_SIZE);
#endif
    return 0;
}

int sernet_fe_extract_f32(const float *samples, long n, float *work, float *coeffs,
                          int8_t *input)
{
    fe_source src;
    if (!work || n < 0 || (n > 0 && !samples))
        return SERNET_FE_ERR_ARGUMENT;
    src.f = samples; src.s = NULL; src.n = n;
    if (!samples) { static const float none = 0.0f; src.f = &none; }
    return fe_extract(&src, work, coeffs, input);
}

int sernet_fe_extract_s16(const int16_t *samples, long n, float *work, float *coeffs,
                          int8_t *input)
{
    fe_source src;
    if (!work || n < 0 || (n > 0 && !samples))
        return SERNET_FE_ERR_ARGUMENT;
    if (!samples)
        return sernet_fe_extract_f32(NULL, 0, work, coeffs, input);
    src.f = NULL; src.s = samples; src.n = n;
    return fe_extract(&src, work, coeffs, input);
}
