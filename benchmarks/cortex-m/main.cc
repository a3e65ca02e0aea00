// One bundled clip end to end on an emulated Cortex-M4: the generated front end, then
// the int8 model under TensorFlow Lite Micro (CMSIS-NN kernels). The clip's window is first
// copied into a RAM audio buffer, as a microphone would fill it, and the front end runs in
// place there (CMVN's coefficient rows over the audio it has read). Prints, by semihosting,
// the int8 output, the label and the instructions each step took (SysTick under QEMU -icount:
// see README).
#include <cstdint>
#include <cstdio>
#include <malloc.h>

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
static float work[SERNET_FE_IN_PLACE_WORK_FLOATS];
static int16_t audio[SERNET_FE_NUM_SAMPLES];  // the device's audio window (3 s for a 3 s model)

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

// Per-operator instructions. TFLM's own per-op profiling (MicroProfiler, via the
// ScopedMicroProfiler in MicroInterpreterGraph::InvokeSubgraph) is compiled out of a
// BUILD_TYPE=release library (TF_LITE_STRIP_ERROR_STRINGS), so each registered kernel's invoke
// is wrapped instead: the wrapper reads SysTick before and after the kernel and records one
// event per operator, in execution order (one subgraph: the operator's index in the file).
// Outside the events: the interpreter's own loop (ResetTempAllocations, ...), reported as such.
constexpr int kMaxOpSlots = 8;
constexpr int kMaxEvents = 256;
struct OpEvent {
  uint16_t slot;
  uint32_t ticks;
};
static OpEvent events[kMaxEvents];
static int num_events;
static TfLiteStatus (*original_invoke[kMaxOpSlots])(TfLiteContext *, TfLiteNode *);
static int32_t slot_code[kMaxOpSlots];

template <int I>
static TfLiteStatus profiled_invoke(TfLiteContext *context, TfLiteNode *node) {
  uint64_t t = ticks();
  TfLiteStatus s = original_invoke[I](context, node);
  t = ticks() - t;
  if (num_events < kMaxEvents) events[num_events++] = {(uint16_t)I, (uint32_t)t};
  return s;
}
static TfLiteStatus (*const wrappers[kMaxOpSlots])(TfLiteContext *, TfLiteNode *) = {
    profiled_invoke<0>, profiled_invoke<1>, profiled_invoke<2>, profiled_invoke<3>,
    profiled_invoke<4>, profiled_invoke<5>, profiled_invoke<6>, profiled_invoke<7>};

static void busy_loop(uint32_t n) {  // 2 instructions per iteration: subs, bne
  __asm volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n) : : "cc");
}

// The card lists the model's ops (multi-micro: six; multi writes its average pools as
// DEPTHWISE_CONV_2D and STRIDED_SLICE): register exactly those, so only their kernels link.
constexpr bool card_has(const char *op) {
  const char *ops = SERNET_CARD_OPS;
  for (const char *p = ops; *p; ++p) {
    if (p != ops && p[-1] != ' ') continue;
    int i = 0;
    while (op[i] && p[i] == op[i]) ++i;
    if (!op[i] && (p[i] == ',' || p[i] == 0)) return true;
  }
  return false;
}
constexpr int card_op_count() {
  int n = 1;
  for (const char *p = SERNET_CARD_OPS; *p; ++p) n += *p == ',';
  return n;
}
constexpr int kOps = card_has("AVERAGE_POOL_2D") + card_has("CONCATENATION") +
                     card_has("CONV_2D") + card_has("DEPTHWISE_CONV_2D") +
                     card_has("FULLY_CONNECTED") + card_has("MEAN") + card_has("SOFTMAX") +
                     card_has("STRIDED_SLICE");
static_assert(kOps == card_op_count(), "the model uses an op main.cc does not register");

// Stack high-water mark: the 64 KB below main's frame is painted before anything runs and
// read back at the end (the linker script keeps 64 KB for the stack).
constexpr uint32_t kPaint = 0xA5A5A5A5u;
constexpr uint32_t kStackWords = 64 * 1024 / 4 - 64;
static uint32_t *stack_floor;
static void paint_stack() {
  uint32_t *sp;
  __asm volatile("mov %0, sp" : "=r"(sp));
  stack_floor = sp - kStackWords;
  for (uint32_t *p = stack_floor; p < sp - 16; ++p) *(volatile uint32_t *)p = kPaint;
}
static unsigned stack_used() {
  extern uint32_t __StackTop;
  const uint32_t *p = stack_floor;
  while (*p == kPaint) ++p;
  return (unsigned)((const char *)&__StackTop - (const char *)p);
}

int main() {
  paint_stack();
  SYST_RVR = 0xFFFFFF;
  SYST_CVR = 0;
  SYST_CSR = 7;  // core clock, interrupt, enable
  while (SYST_CVR == 0) {}  // the first reload: until then the counter reads 0

  uint64_t t0 = ticks();
  busy_loop(1000000);
  uint64_t calibration = ticks() - t0;
  printf("calibration: 2,000,000 instructions = %llu ticks\n", (unsigned long long)calibration);

  const tflite::Model *model = tflite::GetModel(MODEL_DATA);
  static tflite::MicroMutableOpResolver<kOps> resolver;
  if constexpr (card_has("AVERAGE_POOL_2D")) resolver.AddAveragePool2D();
  if constexpr (card_has("CONCATENATION")) resolver.AddConcatenation();
  if constexpr (card_has("CONV_2D")) resolver.AddConv2D();
  if constexpr (card_has("DEPTHWISE_CONV_2D")) resolver.AddDepthwiseConv2D();
  if constexpr (card_has("FULLY_CONNECTED")) resolver.AddFullyConnected();
  if constexpr (card_has("MEAN")) resolver.AddMean();
  if constexpr (card_has("SOFTMAX")) resolver.AddSoftmax();
  if constexpr (card_has("STRIDED_SLICE")) resolver.AddStridedSlice();
  // the resolver owns the registrations the interpreter points to: wrap their invoke
  static_assert(kOps <= kMaxOpSlots, "more op kinds than profiler slots");
  {
    static const tflite::BuiltinOperator kinds[] = {
        tflite::BuiltinOperator_AVERAGE_POOL_2D, tflite::BuiltinOperator_CONCATENATION,
        tflite::BuiltinOperator_CONV_2D,         tflite::BuiltinOperator_DEPTHWISE_CONV_2D,
        tflite::BuiltinOperator_FULLY_CONNECTED, tflite::BuiltinOperator_MEAN,
        tflite::BuiltinOperator_SOFTMAX,         tflite::BuiltinOperator_STRIDED_SLICE};
    int slot = 0;
    for (tflite::BuiltinOperator kind : kinds) {
      auto *reg = const_cast<TFLMRegistration *>(resolver.FindOp(kind));
      if (reg == nullptr) continue;
      original_invoke[slot] = reg->invoke;
      slot_code[slot] = reg->builtin_code;
      reg->invoke = wrappers[slot++];
    }
  }
  static tflite::MicroInterpreter interpreter(model, resolver, arena, kArenaBytes);
  if (interpreter.AllocateTensors() != kTfLiteOk) {
    printf("AllocateTensors failed\n");
    return 1;
  }
  printf("arena: %u bytes used of %d\n", (unsigned)interpreter.arena_used_bytes(), kArenaBytes);

  int8_t *input = interpreter.input(0)->data.int8;
  // the clip's centre window (what the front end reads of a longer clip), outside the count
  long n = CLIP_SAMPLES < SERNET_FE_NUM_SAMPLES ? CLIP_SAMPLES : SERNET_FE_NUM_SAMPLES;
  long from = (CLIP_SAMPLES - n) / 2;
  for (long i = 0; i < n; ++i) audio[i] = clip_samples[from + i];
  t0 = ticks();
  int rc = sernet_fe_extract_s16_in_place(audio, n, SERNET_FE_NUM_SAMPLES, work, nullptr, input);
  uint64_t t_fe = ticks() - t0;
  if (rc != 0) {
    printf("front end failed: %d\n", rc);
    return 1;
  }
  uint32_t sum = 0;
  for (int i = 0; i < SERNET_FE_INPUT_SIZE; ++i) sum = sum * 31u + (uint8_t)input[i];
  printf("input hash: %08lx\ninput tensor:", (unsigned long)sum);
  for (int i = 0; i < SERNET_FE_INPUT_SIZE; ++i) printf("%02x", (uint8_t)input[i]);
  printf("\n");

  t0 = ticks();
  if (interpreter.Invoke() != kTfLiteOk) {
    printf("Invoke failed\n");
    return 1;
  }
  uint64_t t_nn = ticks() - t0;
  // the profiler's own cost: one event's worth of wrapper work around an empty call, timed
  // over 1000 events (the ticks() pair and the record; the kernel call itself is not overhead)
  int saved = num_events;
  static TfLiteStatus (*const empty)(TfLiteContext *, TfLiteNode *) =
      [](TfLiteContext *, TfLiteNode *) { return kTfLiteOk; };
  TfLiteStatus (*keep)(TfLiteContext *, TfLiteNode *) = original_invoke[0];
  original_invoke[0] = empty;
  uint64_t t_ov = ticks();
  for (int i = 0; i < 1000; ++i) {
    num_events = saved;
    wrappers[0](nullptr, nullptr);
  }
  t_ov = ticks() - t_ov;
  original_invoke[0] = keep;
  num_events = saved;
  uint64_t t_ops = 0;
  for (int i = 0; i < num_events; ++i) {
    printf("op %d %s %lu\n", i,
           tflite::EnumNameBuiltinOperator((tflite::BuiltinOperator)slot_code[events[i].slot]),
           (unsigned long)events[i].ticks);
    t_ops += events[i].ticks;
  }
  printf("ops: %d events, %llu ticks in kernels, %llu outside; profiler overhead %llu ticks per "
         "1000 events\n",
         num_events, (unsigned long long)t_ops, (unsigned long long)(t_nn - t_ops),
         (unsigned long long)t_ov);
  const int8_t *out = interpreter.output(0)->data.int8;
  static const char *const labels[] = SERNET_CARD_LABELS;
  int best = 0;
  printf("int8 output");
  for (int k = 0; k < SERNET_CARD_NUM_LABELS; ++k) {
    printf(" %d", out[k]);
    if (out[k] > out[best]) best = k;
  }
  printf("\nclip: %s\nmodel: %s\nlabel: %s\n", CLIP_NAME, SERNET_CARD_NAME, labels[best]);
  printf("ticks: front_end %llu invoke %llu\n", (unsigned long long)t_fe, (unsigned long long)t_nn);
  printf("stack: %u bytes peak; heap: %u bytes from sbrk (newlib stdio)\n", stack_used(),
         (unsigned)mallinfo().arena);
  return 0;
}
