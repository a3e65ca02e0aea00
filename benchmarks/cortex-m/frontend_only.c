/* The generated front end alone on an emulated Cortex-M4: one bundled clip to the int8
 * input tensor, with its instruction count (SysTick under QEMU -icount: see README). */
#include <stdint.h>
#include <stdio.h>

#include "clip_data.h"
#include "sernet_frontend.h"

static float work[SERNET_FE_WORK_FLOATS];
static int8_t input[SERNET_FE_INPUT_SIZE];

static volatile uint32_t wraps;
#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)
#define ICSR (*(volatile uint32_t *)0xE000ED04)
void SysTick_Handler(void) { wraps = wraps + 1; }

static uint64_t ticks(void)
{
    /* interrupts off; a reload whose interrupt is still pending counts as a wrap */
    uint32_t w, v;
    __asm volatile("cpsid i" ::: "memory");
    v = SYST_CVR;
    w = wraps;
    if (ICSR & (1u << 26)) {
        v = SYST_CVR;
        w++;
    }
    __asm volatile("cpsie i" ::: "memory");
    return (uint64_t)w * 0x1000000u + (0xFFFFFFu - v);
}

static void busy_loop(uint32_t n)  /* 2 instructions per iteration: subs, bne */
{
    __asm volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n) : : "cc");
}

int main(void)
{
    uint64_t t0, calibration, t_fe;
    uint32_t sum = 0;
    int i, rc;
    SYST_RVR = 0xFFFFFF;
    SYST_CVR = 0;
    SYST_CSR = 7;
    while (SYST_CVR == 0) {}  /* the first reload: until then the counter reads 0 */
    t0 = ticks();
    busy_loop(1000000);
    calibration = ticks() - t0;
    printf("calibration: 2,000,000 instructions = %llu ticks\n", (unsigned long long)calibration);
    t0 = ticks();
    rc = sernet_fe_extract_s16(clip_samples, CLIP_SAMPLES, work, 0, input);
    t_fe = ticks() - t0;
    if (rc != 0) {
        printf("front end failed: %d\n", rc);
        return 1;
    }
    for (i = 0; i < SERNET_FE_INPUT_SIZE; ++i)
        sum = sum * 31u + (uint8_t)input[i];
    printf("clip: %s\ninput hash: %08lx\n", CLIP_NAME, (unsigned long)sum);
    printf("ticks: front_end %llu\n", (unsigned long long)t_fe);
    return 0;
}
