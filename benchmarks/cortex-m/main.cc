// One bundled clip end to end on an emulated Cortex-M4: the generated front end, then
// the int8 model under TensorFlow Lite Micro (CMSIS-NN kernels). Prints, by semihosting,
// the label and the instructions each step took (SysTick under QEMU -icount: see README).
#include <cstdint>
#include <cstdio>

#include "clip_data.h"
#include "model_data.h"
#include "sernet_card.h"
#include "sernet_frontend.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

#ifndef ARENA_MARGIN
#define ARENA_MARGIN (32 * 1024)
#endif
constexpr int kArenaBytes = SERNET_CARD_ARENA_BYTES + ARENA_MARGIN;
alignas(16) static uint8_t arena[kArenaBytes];
static float work[SERNET_FE_WORK_FLOATS];

// SysTick: 24-bit down-counter at the core clock; wraps counted in the interrupt.
static volatile uint32_t wraps;
#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)
#define ICSR (*(volatile uint32_t *)0xE000ED04)
extern "C" void SysTick_Handler(void) { wraps = wraps + 1; }

static uint64_t ticks() {
  // interrupts off; a reload whose interrupt is still pending counts as a wrap
  __asm volatile("cpsid i" ::: "memory");
  uint32_t v = SYST_CVR, w = wraps;
  if (ICSR & (1u << 26)) {
    v = SYST_CVR;
    w++;
  }
  __asm volatile("cpsie i" ::: "memory");
  return (uint64_t)w * 0x1000000u + (0xFFFFFFu - v);
}

static void busy_loop(uint32_t n) {  // 2 instructions per iteration: subs, bne
  __asm volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n) : : "cc");
}

int main() {
  SYST_RVR = 0xFFFFFF;
  SYST_CVR = 0;
  SYST_CSR = 7;  // core clock, interrupt, enable
  while (SYST_CVR == 0) {}  // the first reload: until then the counter reads 0

  uint64_t t0 = ticks();
  busy_loop(1000000);
  uint64_t calibration = ticks() - t0;
  printf("calibration: 2,000,000 instructions = %llu ticks\n", (unsigned long long)calibration);

  const tflite::Model *model = tflite::GetModel(MODEL_DATA);
  static tflite::MicroMutableOpResolver<6> resolver;
  resolver.AddConv2D();
  resolver.AddAveragePool2D();
  resolver.AddConcatenation();
  resolver.AddMean();
  resolver.AddFullyConnected();
  resolver.AddSoftmax();
  static tflite::MicroInterpreter interpreter(model, resolver, arena, kArenaBytes);
  if (interpreter.AllocateTensors() != kTfLiteOk) {
    printf("AllocateTensors failed\n");
    return 1;
  }
  printf("arena: %u bytes used of %d\n", (unsigned)interpreter.arena_used_bytes(), kArenaBytes);

  int8_t *input = interpreter.input(0)->data.int8;
  t0 = ticks();
  int rc = sernet_fe_extract_s16(clip_samples, CLIP_SAMPLES, work, nullptr, input);
  uint64_t t_fe = ticks() - t0;
  if (rc != 0) {
    printf("front end failed: %d\n", rc);
    return 1;
  }
  uint32_t sum = 0;
  for (int i = 0; i < SERNET_FE_INPUT_SIZE; ++i) sum = sum * 31u + (uint8_t)input[i];
  printf("input hash: %08lx\n", (unsigned long)sum);

  t0 = ticks();
  if (interpreter.Invoke() != kTfLiteOk) {
    printf("Invoke failed\n");
    return 1;
  }
  uint64_t t_nn = ticks() - t0;
  const int8_t *out = interpreter.output(0)->data.int8;
  static const char *const labels[] = SERNET_CARD_LABELS;
  int best = 0;
  for (int k = 0; k < SERNET_CARD_NUM_LABELS; ++k) {
    printf("  %-10s %4d\n", labels[k], out[k]);
    if (out[k] > out[best]) best = k;
  }
  printf("clip: %s\nlabel: %s\n", CLIP_NAME, labels[best]);
  printf("ticks: front_end %llu invoke %llu\n", (unsigned long long)t_fe, (unsigned long long)t_nn);
  return 0;
}
