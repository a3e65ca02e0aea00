/* The sernet-edge MFCC front end in portable C99: the same steps as
 * sernet_edge/features.py `extract`, in float32, with no heap. The tables at
 * the top of this file were generated from one model card's feature settings.
 * Define SERNET_FE_USE_CMSIS_DSP to use CMSIS-DSP's arm_rfft_fast_f32 for the FFT.
 *
 * Every step is float32 arithmetic whose results IEEE 754 fixes to the bit (+ - * /, sqrtf,
 * fmaf; logf only for impossible inputs), so two builds with the same SERNET_FE_FUSED give
 * the same numbers on any machine: tests/test_export_c.py checks host builds against numpy.
 * That needs -std=c99 (or -ffp-contract=off), which keeps the compiler from fusing other
 * a * b + c, and no -ffast-math. */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sernet_frontend.h"

#ifdef SERNET_FE_USE_CMSIS_DSP
#include "arm_math.h"
#endif

/*@TABLES@*/

/* a * b + c, fused (fmaf: one rounding, one instruction) where the FPU has it: Cortex-M4F,
   M7, M33, ..., as the compiler's FP_FAST_FMAF or __FP_FAST_FMAF says; else a product and a
   sum. SERNET_FE_FUSED (0 or 1) overrides. Builds that make the same choice compute the same
   numbers on any platform (fmaf is exact to the last bit). */
#ifndef SERNET_FE_FUSED
#if defined(FP_FAST_FMAF) || defined(__FP_FAST_FMAF)
#define SERNET_FE_FUSED 1
#else
#define SERNET_FE_FUSED 0
#endif
#endif
#if SERNET_FE_FUSED
#define FE_MAC(a, b, c) fmaf(a, b, c)
#else
#define FE_MAC(a, b, c) ((a) * (b) + (c))
#endif

#define FE_BINS (SERNET_FE_N_FFT / 2 + 1)
#define FE_HALF (SERNET_FE_N_FFT / 2)        /* complex points of the spectrum's FFT */
#define FE_DCT_HALF (SERNET_FE_N_MELS / 2)   /* and of the DCT's (FE_DCT_BY_FFT) */

/* work buffer layout, in floats */
#define FE_AT_FFT 0
#define FE_AT_FRAME (FE_AT_FFT + SERNET_FE_FFT_FLOATS)
#define FE_AT_SPEC (FE_AT_FRAME + SERNET_FE_N_FFT)
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

/* libsndfile's int16 -> float scale, so a 16-bit WAV gives the loader's numbers */
#define FE_S16_TO_FLOAT(v) ((float)(v) / 32768.0f)

#if SERNET_FE_NORMALISE
/* audio.normalise of one sample, `peak` (> 0) in the sample's scale: clip to [-peak, peak]
   and divide by the peak, that is -1, +1 or x / peak (within [-1, 1]: rounding is monotonic) */
static float fe_normalise(float x, float peak)
{
    if (fabsf(x) > peak)
        return x < 0.0f ? -1.0f : 1.0f;
    return x / peak;
}
#define FE_NORMALISE(x, peak) fe_normalise(x, peak)
#else
#define FE_NORMALISE(x, peak) (x)
#endif

/* ---- the window's samples, each computed once ---- */

/* window positions [first, last) hold the caller's samples; the rest is zero padding */
static void fe_clip_span(const fe_source *src, long *first, long *last)
{
    *first = src->shift < 0 ? -src->shift : 0;
    *last = src->n - src->shift;
    if (*last > SERNET_FE_NUM_SAMPLES)
        *last = SERNET_FE_NUM_SAMPLES;
}

#if SERNET_FE_PREEMPHASIS_ON
/* normalised sample i of the window, one at a time */
static float fe_sample(const fe_source *src, long i)
{
    long first, last, j = i + src->shift;
    fe_clip_span(src, &first, &last);
    if (i < first || i >= last)
        return 0.0f;
#if SERNET_FE_NORMALISE
    if (!(src->peak > 0.0f))
        return 0.0f;
#endif
    return src->f ? FE_NORMALISE(src->f[j], src->peak)
                  : FE_NORMALISE(FE_S16_TO_FLOAT(src->s[j]), src->peak);
}
#endif

/* The FFT's input samples [from, from + count) of the window: fitted, normalised and
   pre-emphasised, zero past the window's end. Returns the sum of the normalised ones. */
static float fe_input_samples(const fe_source *src, long from, long count, float *dst)
{
    const long at = from + src->shift;   /* the caller's index of dst[0] */
    const float peak = src->peak;        /* a local: the stores below cannot change it */
    float sum = 0.0f;
    long first, last, i;
    fe_clip_span(src, &first, &last);
    first -= from;
    last -= from;
    first = first < 0 ? 0 : (first > count ? count : first);
    last = last < first ? first : (last > count ? count : last);
#if SERNET_FE_NORMALISE
    if (!(peak > 0.0f))   /* silence stays silence */
        last = first;
#else
    (void)peak;
#endif
    for (i = 0; i < first; ++i)
        dst[i] = 0.0f;
    if (src->s) {
#if SERNET_FE_NORMALISE
        /* s / 32768 / peak as s / (32768 peak): the same quotient, rounded once either way */
        const float peak_s16 = peak * 32768.0f;
        for (; i < last; ++i)
            sum += dst[i] = fe_normalise((float)src->s[at + i], peak_s16);
#else
        for (; i < last; ++i)
            sum += dst[i] = FE_S16_TO_FLOAT(src->s[at + i]);
#endif
    } else {
        for (; i < last; ++i)
            sum += dst[i] = FE_NORMALISE(src->f[at + i], peak);
    }
    for (; i < count; ++i)
        dst[i] = 0.0f;
#if SERNET_FE_PREEMPHASIS_ON
    {
        /* x[i] - a x[i-1] over the window only, backwards so x[i-1] is still unchanged */
        long end = SERNET_FE_NUM_SAMPLES - from;
        if (end > count)
            end = count;
        for (i = end - 1; i > 0; --i)
            dst[i] = dst[i] - SERNET_FE_PREEMPHASIS * dst[i - 1];
        if (end > 0 && from > 0)
            dst[0] = dst[0] - SERNET_FE_PREEMPHASIS * fe_sample(src, from - 1);
    }
#endif
    return sum;
}

/* Frame t's samples into `frame`: the overlap with frame t - 1 moves down and only the new
   samples are computed (with hop 256 of 1024, each sample once instead of four times).
   Returns the offset the FFT takes out (fe_spectrum): the new samples' mean. */
static float fe_next_frame(const fe_source *src, long t, float *frame)
{
    long keep = 0;
    float sum;
    if (t > 0 && SERNET_FE_HOP_LENGTH < SERNET_FE_FRAME_LENGTH) {
        long at;
        keep = SERNET_FE_FRAME_LENGTH - SERNET_FE_HOP_LENGTH;
        /* hop-sized pieces do not overlap, so memcpy (faster than memmove) may move them */
        for (at = 0; at < keep; at += SERNET_FE_HOP_LENGTH) {
            long piece = keep - at < SERNET_FE_HOP_LENGTH ? keep - at : SERNET_FE_HOP_LENGTH;
            memcpy(frame + at, frame + at + SERNET_FE_HOP_LENGTH, (size_t)piece * sizeof *frame);
        }
    }
    sum = fe_input_samples(src, t * (long)SERNET_FE_HOP_LENGTH + keep,
                           SERNET_FE_FRAME_LENGTH - keep, frame + keep);
#if FE_DC_REMOVAL
    {
        /* after pre-emphasis a steady offset is (1 - a) times smaller. In 64ths, so that
           frames without one (|mean| < 1/128) are computed exactly as without this. */
        float steps = sum / (float)(SERNET_FE_FRAME_LENGTH - keep) * (1.0f - SERNET_FE_PREEMPHASIS)
                      * 64.0f;
        if (!(fabsf(steps) < 1e6f))   /* unnormalised input far beyond full scale: keep it */
            return 0.0f;
        return (float)(long)(steps + (steps < 0.0f ? -0.5f : 0.5f)) / 64.0f;
    }
#else
    (void)sum;
    return 0.0f;
#endif
}

/* ---- 99.9th percentile of |x|: a min-heap of the PCT_TOP largest values ---- */

#if SERNET_FE_NORMALISE
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

/* adds v; returns the value the next one must exceed to get in (-1 until the heap is full) */
static float fe_heap_add(float *h, int *size, float v)
{
    int i;
    if (*size == SERNET_FE_PCT_TOP) {
        h[0] = v;   /* the caller checked v > h[0] */
        fe_heap_down(h, *size, 0);
        return h[0];
    }
    i = (*size)++;
    h[i] = v;
    while (i > 0 && h[(i - 1) / 2] > h[i]) {
        float t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
    return *size == SERNET_FE_PCT_TOP ? h[0] : -1.0f;
}
#endif

/* Refuses NaN and infinity; with NORMALISE, sets src->peak to numpy's linear percentile:
   sorted[k] and sorted[k + 1] are the heap's two smallest. Most samples are below the
   heap's smallest value and cost one comparison. */
static int fe_peak(fe_source *src, float *heap)
{
    long first, last, i;
    const long j0 = src->shift > 0 ? src->shift : 0;
#if SERNET_FE_NORMALISE
    int size = 0;
    float enter = -1.0f, lo, hi, diff;
#else
    (void)heap;
#endif
    fe_clip_span(src, &first, &last);
    if (src->s) {
#if SERNET_FE_NORMALISE
        /* |int16| compared as integers: the same order as the floats they become */
        int enter_s = -1;
        for (i = j0; i < j0 + last - first; ++i) {
            int a = src->s[i];
            if (a < 0)
                a = -a;
            if (a > enter_s) {
                enter = fe_heap_add(heap, &size, FE_S16_TO_FLOAT(a));
                enter_s = enter < 0.0f ? -1 : (int)(enter * 32768.0f);
            }
        }
#endif
    } else {
        for (i = j0; i < j0 + last - first; ++i) {
            float a = fabsf(src->f[i]);
            if (!(a <= FLT_MAX))
                return SERNET_FE_ERR_NOT_FINITE;
#if SERNET_FE_NORMALISE
            if (a > enter)
                enter = fe_heap_add(heap, &size, a);
#endif
        }
    }
#if SERNET_FE_NORMALISE
    /* the zero padding counts too; zeros only enter a heap that is not yet full */
    for (i = SERNET_FE_NUM_SAMPLES - (last - first); i > 0 && size < SERNET_FE_PCT_TOP; --i)
        fe_heap_add(heap, &size, 0.0f);
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
#endif
    return 0;
}

/* ---- the own FFT: complex, decimation in time. The first stage (radix 8 or 4) reads its
   points in bit-reversed order, fused with whatever prepares them; radix-4 and radix-8 stages
   follow (each FFT's plan and twiddles come with the tables). Used for the spectrum (an
   N/2-point FFT of the samples paired as (even, odd), then split into the N/2 + 1 bins)
   unless CMSIS-DSP does it, and for the DCT when FE_DCT_BY_FFT. ---- */

#if !defined(SERNET_FE_USE_CMSIS_DSP) || FE_DCT_BY_FFT
#if defined(__GNUC__)
#define FE_ALWAYS_INLINE inline __attribute__((always_inline))   /* a copy per call site */
#else
#define FE_ALWAYS_INLINE inline
#endif

typedef struct { float re, im; } fe_cpx;

static inline fe_cpx fe_cadd(fe_cpx a, fe_cpx b) { fe_cpx r; r.re = a.re + b.re; r.im = a.im + b.im; return r; }
static inline fe_cpx fe_csub(fe_cpx a, fe_cpx b) { fe_cpx r; r.re = a.re - b.re; r.im = a.im - b.im; return r; }
static inline fe_cpx fe_minus_i(fe_cpx a) { fe_cpx r; r.re = a.im; r.im = -a.re; return r; }   /* -i a */

static inline fe_cpx fe_load(const float *p) { fe_cpx r; r.re = p[0]; r.im = p[1]; return r; }
static inline void fe_store(float *p, fe_cpx a) { p[0] = a.re; p[1] = a.im; }

/* a * (w[0] + i w[1]) */
static inline fe_cpx fe_turn(fe_cpx a, const float *w)
{
    fe_cpx r;
    r.re = FE_MAC(-a.im, w[1], a.re * w[0]);
    r.im = FE_MAC(a.re, w[1], a.im * w[0]);
    return r;
}

/* the 4-point DFT of p0..p3 into out, out + step, out + 2 step, out + 3 step (floats) */
static FE_ALWAYS_INLINE void fe_dft4(fe_cpx p0, fe_cpx p1, fe_cpx p2, fe_cpx p3, float *out, long step)
{
    fe_cpx t0 = fe_cadd(p0, p2), t1 = fe_csub(p0, p2);
    fe_cpx t2 = fe_cadd(p1, p3), t3 = fe_minus_i(fe_csub(p1, p3));
    fe_store(out, fe_cadd(t0, t2));
    fe_store(out + step, fe_cadd(t1, t3));
    fe_store(out + 2 * step, fe_csub(t0, t2));
    fe_store(out + 3 * step, fe_csub(t1, t3));
}

/* the 8-point DFT likewise: X_k = E_k + W^k O_k and X_{k+4} = E_k - W^k O_k, with E and O
   the 4-point DFTs of the even and odd points and W = e^(-i pi/4) */
static FE_ALWAYS_INLINE void fe_dft8(fe_cpx p0, fe_cpx p1, fe_cpx p2, fe_cpx p3, fe_cpx p4,
                                     fe_cpx p5, fe_cpx p6, fe_cpx p7, float *out, long step)
{
    const float h = 0.70710678118654752f;   /* sqrt(1/2) */
    fe_cpx a0 = fe_cadd(p0, p4), a1 = fe_csub(p0, p4);
    fe_cpx a2 = fe_cadd(p2, p6), a3 = fe_minus_i(fe_csub(p2, p6));
    fe_cpx b0 = fe_cadd(p1, p5), b1 = fe_csub(p1, p5);
    fe_cpx b2 = fe_cadd(p3, p7), b3 = fe_minus_i(fe_csub(p3, p7));
    fe_cpx e0 = fe_cadd(a0, a2), e1 = fe_cadd(a1, a3), e2 = fe_csub(a0, a2), e3 = fe_csub(a1, a3);
    fe_cpx o0 = fe_cadd(b0, b2), o1 = fe_cadd(b1, b3), o3 = fe_csub(b1, b3);
    fe_cpx o2 = fe_minus_i(fe_csub(b0, b2));   /* W^2 O_2 */
    fe_cpx w1, w3;                              /* W O_1, W^3 O_3 */
    w1.re = (o1.re + o1.im) * h;
    w1.im = (o1.im - o1.re) * h;
    w3.re = (o3.im - o3.re) * h;
    w3.im = -(o3.re + o3.im) * h;
    fe_store(out, fe_cadd(e0, o0));
    fe_store(out + step, fe_cadd(e1, w1));
    fe_store(out + 2 * step, fe_cadd(e2, o2));
    fe_store(out + 3 * step, fe_cadd(e3, w3));
    fe_store(out + 4 * step, fe_csub(e0, o0));
    fe_store(out + 5 * step, fe_csub(e1, w1));
    fe_store(out + 6 * step, fe_csub(e2, o2));
    fe_store(out + 7 * step, fe_csub(e3, w3));
}

/* One radix-4 stage of an n-point FFT, over blocks of `span` points. In bit-reversed order
   a block's quarters hold the DFTs of its points of residue 0, 2, 1, 3 (mod 4); residue r is
   turned by w^(r j) (w = e^(-2 pi i / span); `tw`: w^j, w^2j, w^3j for each j). */
static FE_ALWAYS_INLINE void fe_radix4_stage(float *z, long n, long span, const float *tw)
{
    const long part = span / 2;   /* a quarter, in floats */
    long at, j;
    for (at = 0; at < 2 * n; at += 2 * span) {
        const float *w = tw;
        for (j = 0; j < span / 4; ++j, w += 6) {
            float *a = z + at + 2 * j;
            fe_dft4(fe_load(a), fe_turn(fe_load(a + 2 * part), w),
                    fe_turn(fe_load(a + part), w + 2), fe_turn(fe_load(a + 3 * part), w + 4),
                    a, part);
        }
    }
}

/* One radix-8 stage likewise: the eighths hold residues 0, 4, 2, 6, 1, 5, 3, 7 (mod 8);
   `tw`: w^j .. w^7j for each j. */
static FE_ALWAYS_INLINE void fe_radix8_stage(float *z, long n, long span, const float *tw)
{
    const long part = span / 4;   /* an eighth, in floats */
    long at, j;
    for (at = 0; at < 2 * n; at += 2 * span) {
        const float *w = tw;
        for (j = 0; j < span / 8; ++j, w += 14) {
            float *a = z + at + 2 * j;
            fe_dft8(fe_load(a), fe_turn(fe_load(a + 4 * part), w),
                    fe_turn(fe_load(a + 2 * part), w + 2), fe_turn(fe_load(a + 6 * part), w + 4),
                    fe_turn(fe_load(a + part), w + 6), fe_turn(fe_load(a + 5 * part), w + 8),
                    fe_turn(fe_load(a + 3 * part), w + 10), fe_turn(fe_load(a + 7 * part), w + 12),
                    a, part);
        }
    }
}

/* The stages after an n-point FFT's first stage of radix `first`: `radix4` radix-4 stages,
   then `radix8` radix-8 ones (at most 2 and 4: n <= 32768). Written out so that, inlined
   with constant arguments, each stage's span is a constant the compiler can build on. */
static FE_ALWAYS_INLINE void fe_fft_stages(float *z, long n, long first, int radix4, int radix8,
                                           const float *tw)
{
    long span = first;
#define FE_STAGE(radix, on) \
    if (on) { \
        span *= (radix); \
        fe_radix##radix##_stage(z, n, span, tw); \
        tw += 2 * ((radix) - 1) * (span / (radix)); \
    }
    FE_STAGE(4, radix4 > 0)
    FE_STAGE(4, radix4 > 1)
    FE_STAGE(8, radix8 > 0)
    FE_STAGE(8, radix8 > 1)
    FE_STAGE(8, radix8 > 2)
    FE_STAGE(8, radix8 > 3)
#undef FE_STAGE
}
#endif

#ifndef SERNET_FE_USE_CMSIS_DSP
/* complex point j of the windowed frame less `dc`: (x[2j] - dc) w[2j] + i (x[2j+1] - dc) w[2j+1] */
static inline fe_cpx fe_windowed(const float *frame, float dc, long j)
{
    fe_cpx r;
    r.re = (frame[2 * j] - dc) * fe_window[2 * j];
    r.im = (frame[2 * j + 1] - dc) * fe_window[2 * j + 1];
    return r;
}

/* Windowing, pairing and the spectrum FFT's first stage in one pass: the DFT of z_j,
   z_{j+m}, ..., z_{j+(R-1)m} (R = FE_FIRST_RADIX points, m = N/2 / R) goes to positions
   fe_bitrev[j] onwards, where R radix-2 stages after a bit reversal would leave it. */
static FE_ALWAYS_INLINE void fe_first_stage(const float *frame, float dc, float *z)
{
    const long m = FE_HALF / FE_FIRST_RADIX;
    long j;
    for (j = 0; j < m; ++j)
#if FE_FIRST_RADIX == 8
        fe_dft8(fe_windowed(frame, dc, j), fe_windowed(frame, dc, j + m),
                fe_windowed(frame, dc, j + 2 * m), fe_windowed(frame, dc, j + 3 * m),
                fe_windowed(frame, dc, j + 4 * m), fe_windowed(frame, dc, j + 5 * m),
                fe_windowed(frame, dc, j + 6 * m), fe_windowed(frame, dc, j + 7 * m),
                z + 2 * fe_bitrev[j], 2);
#else
        fe_dft4(fe_windowed(frame, dc, j), fe_windowed(frame, dc, j + m),
                fe_windowed(frame, dc, j + 2 * m), fe_windowed(frame, dc, j + 3 * m),
                z + 2 * fe_bitrev[j], 2);
#endif
}

/* |X_k| and |X_{N/2-k}| from z_k and z_{N/2-k} (the usual split of a real FFT done at half
   length), plus `dc_re` on X_k's real part. The split's factor 1/2 is in fe_window, which
   holds half the window (exact). */
static FE_ALWAYS_INLINE void fe_split_pair(const float *z, long k, float dc_re, int with_dc,
                                           float *spec)
{
    const float *zk = z + 2 * k, *zm = z + 2 * (FE_HALF - k);
    float ar = zk[0] + zm[0], ai = zk[1] - zm[1];
    float br = zk[0] - zm[0], bi = zk[1] + zm[1];
    float c = fe_split_twiddle[2 * k], s = fe_split_twiddle[2 * k + 1];
    float ur = FE_MAC(c, bi, s * br), ui = FE_MAC(-c, br, s * bi);
    float xr = ar + ur, xi = ai + ui, yr = ar - ur, yi = ui - ai;
    if (with_dc)
        xr = xr + dc_re;
    spec[k] = sqrtf(FE_MAC(xr, xr, xi * xi));
    spec[FE_HALF - k] = sqrtf(FE_MAC(yr, yr, yi * yi));
}

/* the N/2 + 1 magnitudes, the offset `dc` put back: it only reaches bins 0 and 1 */
static void fe_split_magnitudes(const float *z, float dc, float *spec)
{
    long k;
    spec[0] = 2.0f * fabsf(z[0] + z[1] + dc * (0.5f * FE_DC_W0));
    spec[FE_HALF] = 2.0f * fabsf(z[0] - z[1]);
    fe_split_pair(z, 1, dc * FE_DC_W1, 1, spec);
    for (k = 2; k <= FE_HALF / 2; ++k)
        fe_split_pair(z, k, 0.0f, 0, spec);
}
#endif

/* |rfft(frame * window)| (or power). The FFT sees the frame less `dc`, whose spectrum,
   dc times the window's, is put back exactly (float32 rounds relative to the largest values,
   so a large offset would otherwise bury quiet bands in rounding). */
static void fe_spectrum(const float *frame, float dc, float *buf, float *spec)
{
#ifdef SERNET_FE_USE_CMSIS_DSP
    static arm_rfft_fast_instance_f32 rfft;
    static int ready;
    float *in = buf + SERNET_FE_N_FFT, *packed = buf;
    long i;
    if (!ready) {
        arm_rfft_fast_init_f32(&rfft, SERNET_FE_N_FFT);
        ready = 1;
    }
    for (i = 0; i < SERNET_FE_N_FFT; ++i)
        in[i] = (frame[i] - dc) * fe_window[i];
    arm_rfft_fast_f32(&rfft, in, packed, 0);
    packed[0] += dc * (0.5f * FE_DC_W0);
    packed[2] += dc * (0.5f * FE_DC_W1);
    /* packed: [X0.re, X(N/2).re, X1.re, X1.im, ...] of half the spectrum (fe_window is
       half the window) */
    spec[0] = 2.0f * fabsf(packed[0]);
    spec[FE_HALF] = 2.0f * fabsf(packed[1]);
    for (i = 1; i < FE_HALF; ++i) {
        float re = packed[2 * i], im = packed[2 * i + 1];
        spec[i] = 2.0f * sqrtf(FE_MAC(re, re, im * im));
    }
#else
#if FE_DC_REMOVAL
    if (dc != 0.0f)
        fe_first_stage(frame, dc, buf);
    else
#endif
        fe_first_stage(frame, 0.0f, buf);   /* a copy without the subtraction: most frames */
    fe_fft_stages(buf, FE_HALF, FE_FIRST_RADIX, FE_RADIX4_STAGES, FE_RADIX8_STAGES, fe_fft_twiddle);
    fe_split_magnitudes(buf, dc, spec);
#endif
#if SERNET_FE_POWER
    {
        long b;
        for (b = 0; b < FE_BINS; ++b)
            spec[b] = spec[b] * spec[b] * (1.0f / SERNET_FE_N_FFT);
    }
#endif
}

/* ---- log-mel energies and their DCT ---- */

/* ln(x) in float32 arithmetic (newlib's logf costs about 100 instructions on a Cortex-M4;
   this, about 30): x = 2^k z with z in [0.699, 1.398), c the centre of the 1/64 of that
   range that holds z (fe_log_table: c, 1/c, ln c), r = (z - c) / c with z - c exact:
   ln x = k ln 2 + ln c + ln(1 + r), the last as r - r^2/2 + r^3/3 (|r| < 1/128). */
static float fe_log(float x)
{
    union { float f; uint32_t u; } v;
    uint32_t top;
    const float *t;
    float k, r, p;
    v.f = x;
    if (v.u - 0x00800000u >= 0x7F000000u)   /* 0, subnormal, negative, infinite or NaN */
        return logf(x);
    top = v.u + (0x3F800000u - 0x3F330000u);   /* 0x3F330000: 0.69921875 */
    t = fe_log_table + 4 * ((top >> 17) & 63);
    k = (float)((int32_t)(top >> 23) - 127);
    v.u = (top & 0x007FFFFFu) + 0x3F330000u;   /* z */
    r = (v.f - t[0]) * t[1];
    p = FE_MAC(-r * r, FE_MAC(-r, 1.0f / 3.0f, 0.5f), r);   /* r - r^2 (1/2 - r/3) */
    /* ln 2 = 0.693145751953125 (exact, 15 bits: k times it is exact) + 1.42860682e-6 */
    return FE_MAC(k, 0.693145751953125f, FE_MAC(k, 1.42860682e-6f, t[2]) + p);
}

#if FE_DCT_BY_FFT
/* the DCT FFT's points: the log energies in Makhoul's order, paired (fe_dct_order) */
static inline fe_cpx fe_reordered(const float *x, long j)
{
    fe_cpx r;
    r.re = x[fe_dct_order[2 * j]];
    r.im = x[fe_dct_order[2 * j + 1]];
    return r;
}

/* The DCT-II by an FFT, as features._apply_dct (Makhoul 1980): v = the log energies with
   the even bands up and the odd ones down, V = rfft(v) from the M-point complex FFT Z of v
   paired up (M = N/2), coefficient k = Re(V_k T_k) with T_k = 2 e^(-i pi k / 2N) times the
   DCT's scale and lifter. The split: 2 V_k = A + U B with A = Z_k + conj(Z_{M-k}),
   B = Z_k - conj(Z_{M-k}), U = -i e^(-2 pi i k / N); fe_dct_twiddle: U, T / 2 per k. */
static void fe_dct(const float *mel, float *z, float *out)
{
    const long m = FE_DCT_HALF / FE_DCT_FIRST_RADIX;
    const float *t = fe_dct_twiddle;
    long j;
    int k;
    for (j = 0; j < m; ++j)
#if FE_DCT_FIRST_RADIX == 8
        fe_dft8(fe_reordered(mel, j), fe_reordered(mel, j + m), fe_reordered(mel, j + 2 * m),
                fe_reordered(mel, j + 3 * m), fe_reordered(mel, j + 4 * m),
                fe_reordered(mel, j + 5 * m), fe_reordered(mel, j + 6 * m),
                fe_reordered(mel, j + 7 * m), z + 2 * fe_dct_bitrev[j], 2);
#else
        fe_dft4(fe_reordered(mel, j), fe_reordered(mel, j + m), fe_reordered(mel, j + 2 * m),
                fe_reordered(mel, j + 3 * m), z + 2 * fe_dct_bitrev[j], 2);
#endif
    fe_fft_stages(z, FE_DCT_HALF, FE_DCT_FIRST_RADIX, FE_DCT_RADIX4_STAGES, FE_DCT_RADIX8_STAGES,
                  fe_dct_fft_twiddle);
    for (k = 0; k < SERNET_FE_NUM_COEFFS; ++k, t += 4) {
        const float *zk = z + 2 * k, *zm = z + 2 * ((FE_DCT_HALF - k) % FE_DCT_HALF);
        float ar = zk[0] + zm[0], ai = zk[1] - zm[1];
        float br = zk[0] - zm[0], bi = zk[1] + zm[1];
        float vr = ar + FE_MAC(-t[1], bi, t[0] * br), vi = ai + FE_MAC(t[1], br, t[0] * bi);
        out[k] = FE_MAC(-vi, t[3], vr * t[2]);
    }
}
#else
/* `count` rows of the folded DCT with `len` weights each, over the same inputs x:
   out[step * r] = rows[r] . x, four rows per pass over x */
static inline void fe_dct_kind(const float *x, const float *rows, int len, int count, int step,
                               float *out)
{
    int j;
    for (; count >= 4; count -= 4, rows += 4 * len, out += 4 * step) {
        const float *r0 = rows, *r1 = r0 + len, *r2 = r1 + len, *r3 = r2 + len;
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
        for (j = 0; j < len; ++j) {
            float v = x[j];
            a0 = FE_MAC(v, r0[j], a0);
            a1 = FE_MAC(v, r1[j], a1);
            a2 = FE_MAC(v, r2[j], a2);
            a3 = FE_MAC(v, r3[j], a3);
        }
        out[0] = a0;
        out[step] = a1;
        out[2 * step] = a2;
        out[3 * step] = a3;
    }
    for (; count > 0; --count, rows += len, out += step) {
        float acc = 0.0f;
        for (j = 0; j < len; ++j)
            acc = FE_MAC(x[j], rows[j], acc);
        *out = acc;
    }
}

/* x[0..n) in place: sums x[b] + x[n-1-b] to the front, differences x[n-1-b] - x[b] to the
   back (an odd n's middle stays) */
static void fe_fold(float *x, int n)
{
    int b;
    for (b = 0; b < n / 2; ++b) {
        float lo = x[b], hi = x[n - 1 - b];
        x[b] = lo + hi;
        x[n - 1 - b] = hi - lo;
    }
}

#define FE_FOLD1 ((SERNET_FE_N_MELS + 1) / 2)
#define FE_FOLD2 ((FE_FOLD1 + 1) / 2)
#define FE_COUNT(first, step) ((SERNET_FE_NUM_COEFFS + (step) - 1 - (first)) / (step))

/* The DCT-II as a matrix, for band counts an FFT does not fit. Row k is symmetric about the
   middle band for even k and antisymmetric for odd k, so folding the energies (sums to the
   front, differences to the back) halves the products; with an even band count the even
   rows' half folds again (k = 0, 2 mod 4). fe_dct_rows holds each row's weights at the
   inputs it meets, the rows of each kind together. `z` is not used. */
static void fe_dct(float *mel, float *z, float *out)
{
    const float *rows = fe_dct_rows;
    (void)z;
    fe_fold(mel, SERNET_FE_N_MELS);
#if SERNET_FE_N_MELS % 2 == 0
    fe_fold(mel, FE_FOLD1);
    fe_dct_kind(mel, rows, FE_FOLD2, FE_COUNT(0, 4), 4, out);
    rows += FE_COUNT(0, 4) * FE_FOLD2;
    fe_dct_kind(mel + FE_FOLD1 - FE_FOLD2, rows, FE_FOLD2, FE_COUNT(2, 4), 4, out + 2);
    rows += FE_COUNT(2, 4) * FE_FOLD2;
#else
    fe_dct_kind(mel, rows, FE_FOLD1, FE_COUNT(0, 2), 2, out);
    rows += FE_COUNT(0, 2) * FE_FOLD1;
#endif
    fe_dct_kind(mel + SERNET_FE_N_MELS - FE_FOLD1, rows, FE_FOLD1, FE_COUNT(1, 2), 2, out + 1);
}
#endif

/* mel energies plus the log offset: each triangle over its run of bins */
static void fe_mel(const float *spec, float *mel)
{
    int b, i;
    for (b = 0; b < SERNET_FE_N_MELS; ++b) {
        const float *w = fe_mel_weights + fe_mel_offset[b];
        const float *s = spec + fe_mel_first[b];
        float acc = 0.0f;
        for (i = 0; i < fe_mel_count[b]; ++i)
            acc = FE_MAC(s[i], w[i], acc);
        acc += SERNET_FE_LOG_OFFSET;
#if SERNET_FE_LOG_FLOOR_ON
        if (acc == 0.0f)
            acc = SERNET_FE_LOG_FLOOR;
#endif
        mel[b] = acc;
    }
}

/* mel energies, log, DCT, clip: one frame's coefficients (`buf`: room for the DCT's FFT) */
static void fe_cepstrum(const float *spec, float *mel, float *buf, float *out)
{
    int b, k;
    fe_mel(spec, mel);
    for (b = 0; b < SERNET_FE_N_MELS; ++b)
        mel[b] = fe_log(mel[b]);
    fe_dct(mel, buf, out);
#if SERNET_FE_APPEND_ENERGY
    {
        float energy = 0.0f;
        for (k = 0; k < FE_BINS; ++k)
            energy += spec[k];
        out[0] = fe_log(energy > SERNET_FE_ENERGY_FLOOR ? energy : SERNET_FE_ENERGY_FLOOR);
    }
#endif
#if SERNET_FE_CLIP_ON
    for (k = 0; k < SERNET_FE_NUM_COEFFS; ++k)
        out[k] = out[k] < -SERNET_FE_CLIP ? -SERNET_FE_CLIP
                 : (out[k] > SERNET_FE_CLIP ? SERNET_FE_CLIP : out[k]);
#endif
    (void)k;
}

/* The coefficient rows are kept as bytes and read and written through memcpy: in place
   (sernet_fe_extract_s16_in_place) they share the caller's int16 audio buffer, which C's
   aliasing rules let no float pointer touch. memcpy of 4 bytes compiles to a load or store. */
static inline float fe_row_get(const unsigned char *rows, long i)
{
    float v;
    memcpy(&v, rows + 4 * i, sizeof v);
    return v;
}
static inline void fe_row_set(unsigned char *rows, long i, float v)
{
    memcpy(rows + 4 * i, &v, sizeof v);
}

#if SERNET_FE_CMVN
/* each coefficient to zero mean, and unless CMVN_VARIANCE is 0 unit variance, over frames
   [t0, t1); the frames outside become 0 (features.cmvn, in float64 there). The mean is
   corrected by the mean deviation from a first float32 estimate, as float32 sums of a few
   hundred values lose digits that the division by a small spread would magnify. */
static void fe_cmvn(unsigned char *rows, long t0, long t1)
{
    const float count = (float)(t1 - t0);
    int k;
    long t;
    for (k = 0; k < SERNET_FE_NUM_COEFFS; ++k) {
        float mean = 0.0f, dev = 0.0f, var = 0.0f, std;
        for (t = t0; t < t1; ++t)
            mean += fe_row_get(rows, t * SERNET_FE_NUM_COEFFS + k);
        mean /= count;
        for (t = t0; t < t1; ++t) {
            float d = fe_row_get(rows, t * SERNET_FE_NUM_COEFFS + k) - mean;
            dev += d;
            var = FE_MAC(d, d, var);
        }
        dev /= count;
        mean += dev;
        var = var / count - dev * dev;
        std = var > 0.0f ? sqrtf(var) : 0.0f;
        if (std < SERNET_FE_CMVN_FLOOR || !SERNET_FE_CMVN_VARIANCE)
            std = SERNET_FE_CMVN_VARIANCE ? SERNET_FE_CMVN_FLOOR : 1.0f;
        for (t = 0; t < SERNET_FE_NUM_FRAMES; ++t) {
            long i = t * SERNET_FE_NUM_COEFFS + k;
            fe_row_set(rows, i, t < t0 || t >= t1 ? 0.0f : (fe_row_get(rows, i) - mean) / std);
        }
    }
}
#endif

/* real = scale * (q - zero_point), rounded half to even as numpy */
static int8_t fe_quantise(float c)
{
    /* v + 1.5 * 2^23 has no fraction bits left: float32 rounding to nearest, ties to even,
       does the rounding (|v| < 2^22; v is clipped first). newlib's rintf costs about 40
       instructions on a Cortex-M4. Not with -ffast-math, which would cancel the two. */
    const float round_even = 12582912.0f;
    float v = c / SERNET_FE_INPUT_SCALE, r;
    v = v < -1024.0f ? -1024.0f : (v > 1024.0f ? 1024.0f : v);
    r = v + round_even;
    v = (r - round_even) + (float)SERNET_FE_INPUT_ZERO_POINT;
    return (int8_t)(v < -128.0f ? -128 : (v > 127.0f ? 127 : (int)v));
}

/* One window. With CMVN every coefficient row is kept until all are known: in the work
   buffer (`rows` NULL), or at `rows` (the caller's audio, in place); a frame's coefficients
   go to work + FE_AT_CEPS first. */
static int fe_extract(fe_source *src, float *work, unsigned char *rows,
                      float *coeffs, int8_t *input)
{
    long t, i, n = src->n;
    int err;
    float *frame = work + FE_AT_FRAME;
    const int rows_in_work = rows == NULL;
    if (rows_in_work)
        rows = (unsigned char *)(work + FE_AT_CEPS);
    /* fit_length: centre crop, or centre zero padding */
    src->shift = n >= SERNET_FE_NUM_SAMPLES ? (n - SERNET_FE_NUM_SAMPLES) / 2
                                            : -((SERNET_FE_NUM_SAMPLES - n) / 2);
    src->peak = 1.0f;
    err = fe_peak(src, work + FE_AT_HEAP);  /* also refuses NaN and infinity */
    if (err)
        return err;
    for (i = SERNET_FE_FRAME_LENGTH; i < SERNET_FE_N_FFT; ++i)
        frame[i] = 0.0f;   /* the FFT's zero padding past the frame */
    for (t = 0; t < SERNET_FE_NUM_FRAMES; ++t) {
        float *out = work + FE_AT_CEPS;   /* this frame's coefficients */
        float dc = fe_next_frame(src, t, frame);
        int k;
#if SERNET_FE_CMVN
        if (rows_in_work)
            out += t * SERNET_FE_NUM_COEFFS;
#endif
        fe_spectrum(frame, dc, work + FE_AT_FFT, work + FE_AT_SPEC);
        fe_cepstrum(work + FE_AT_SPEC, work + FE_AT_MEL, work + FE_AT_FFT, out);
#if SERNET_FE_CMVN
        /* after this frame's samples were read: in place, these bytes lie behind every
           sample a later frame reads (SERNET_FE_IN_PLACE: export_c checked the settings) */
        if (!rows_in_work)
            memcpy(rows + 4 * t * SERNET_FE_NUM_COEFFS, out, 4 * SERNET_FE_NUM_COEFFS);
#else
        for (k = 0; k < SERNET_FE_NUM_COEFFS; ++k) {
            if (coeffs)
                coeffs[t * SERNET_FE_NUM_COEFFS + k] = out[k];
            if (input)
                input[t * SERNET_FE_NUM_COEFFS + k] = fe_quantise(out[k]);
        }
#endif
        (void)k;
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
        fe_cmvn(rows, t0, t1);
    }
    for (i = 0; i < SERNET_FE_INPUT_SIZE; ++i) {
        float c = fe_row_get(rows, i);
        if (coeffs)
            coeffs[i] = c;
        if (input)
            input[i] = fe_quantise(c);
    }
#endif
    (void)rows_in_work;
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
    return fe_extract(&src, work, NULL, coeffs, input);
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
    return fe_extract(&src, work, NULL, coeffs, input);
}

#if SERNET_FE_CMVN
/* s[0, n) up by `by` samples, from the top down. Written out: newlib's memmove copies
   overlapping bytes one at a time (about 10 instructions a sample on a Cortex-M4), and GCC
   would turn this loop into a call to it. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
static void fe_move_up(int16_t *s, long n, long by)
{
    long i;
    for (i = n - 1; i >= 0; --i)
        s[i + by] = s[i];
}
#endif

int sernet_fe_extract_s16_in_place(int16_t *samples, long n, long capacity, float *work,
                                   float *coeffs, int8_t *input)
{
#if SERNET_FE_CMVN
    const long row_bytes = 4L * SERNET_FE_INPUT_SIZE;
    unsigned char *rows = (unsigned char *)samples;
    fe_source src;
    if (!SERNET_FE_IN_PLACE)
        return SERNET_FE_ERR_IN_PLACE;
    if (!work || !samples || n < 0 || n > capacity || capacity < SERNET_FE_NUM_SAMPLES)
        return SERNET_FE_ERR_ARGUMENT;
    src.f = NULL; src.s = samples; src.n = n;
    if (2 * n + row_bytes <= 2 * capacity) {
        /* room behind the clip (a clip of 2 s or less in a 3 s buffer): nothing moves */
        rows += 2 * capacity - row_bytes;
    } else if (n < SERNET_FE_NUM_SAMPLES) {
        /* a clip a little short of the window: moved to the buffer's end, so that the rows,
           written from its start, stay behind the samples still to be read, as for a clip
           that fills the window */
        fe_move_up(samples, n, capacity - n);
        src.s = samples + capacity - n;
    }
    return fe_extract(&src, work, rows, coeffs, input);
#else
    /* without CMVN one row of work suffices: nothing to gain, and the samples stay */
    if (n > capacity)
        return SERNET_FE_ERR_ARGUMENT;
    return sernet_fe_extract_s16(samples, n, work, coeffs, input);
#endif
}
