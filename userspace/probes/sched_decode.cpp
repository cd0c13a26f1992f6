#include "probes/sched_decode.h"

#include <algorithm>
#include <cstring>

namespace nodepulse {

Log2Histogram to_histogram(const np_histogram& hist) {
  Log2Histogram out;
  std::copy(std::begin(hist.slots), std::end(hist.slots), out.slots.begin());
  out.count = hist.count;
  out.sum_ns = hist.sum_ns;
  return out;
}

RunqReading sum_runq(std::span<const np_runq_stats> per_cpu, uint64_t window_epoch) {
  RunqReading reading;
  for (const np_runq_stats& cpu : per_cpu) {
    reading.wait += to_histogram(cpu.wait);
    reading.stalls += cpu.stalls;
    if (cpu.window_epoch == window_epoch) {
      reading.longest_wait_ns = std::max<uint64_t>(reading.longest_wait_ns, cpu.window_max_ns);
    }
  }
  return reading;
}

std::optional<SchedEvent> decode_sched_event(std::span<const std::byte> record) {
  np_sched_event raw;
  if (record.size() != sizeof(raw)) return std::nullopt;
  std::memcpy(&raw, record.data(), sizeof(raw));

  SchedEvent event;
  switch (raw.kind) {
    case NP_SCHED_EVENT_STALL: event.kind = SchedEvent::Kind::kStall; break;
    case NP_SCHED_EVENT_EXEC: event.kind = SchedEvent::Kind::kExec; break;
    case NP_SCHED_EVENT_EXIT: event.kind = SchedEvent::Kind::kExit; break;
    default: return std::nullopt;
  }
  event.ts_ns = raw.ts_ns;
  event.wait_ns = raw.wait_ns;
  event.tgid = static_cast<pid_t>(raw.tgid);
  event.pid = static_cast<pid_t>(raw.pid);
  event.target_index =
      (raw.target_slot >= 1 && raw.target_slot <= NP_SCHED_MAX_TARGETS) ? static_cast<int>(raw.target_slot) - 1 : -1;
  const auto* comm = reinterpret_cast<const char*>(raw.comm);
  event.comm.assign(comm, strnlen(comm, sizeof(raw.comm)));
  return event;
}

}  // namespace nodepulse
