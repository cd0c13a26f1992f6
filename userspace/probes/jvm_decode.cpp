#include "probes/jvm_decode.h"

#include <algorithm>

namespace nodepulse {

Log2Histogram sum_pause_histogram(std::span<const np_histogram> per_cpu) {
  Log2Histogram total;
  for (const np_histogram& cpu : per_cpu) {
    for (size_t i = 0; i < Log2Histogram::kSlots; ++i) total.slots[i] += cpu.slots[i];
    total.count += cpu.count;
    total.sum_ns += cpu.sum_ns;
  }
  return total;
}

JvmPauseInProgress decode_inflight(pid_t tgid, const np_jvm_inflight& entry, uint64_t now_ns) {
  JvmPauseInProgress pause;
  pause.tgid = tgid;
  pause.target_index = entry.target_index;
  pause.gc_ns = pause_elapsed_ns(entry.begin_ns[NP_JVM_PAUSE_GC], now_ns);
  pause.safepoint_ns = pause_elapsed_ns(entry.begin_ns[NP_JVM_PAUSE_SAFEPOINT], now_ns);
  return pause;
}

}  // namespace nodepulse
