#include "probes/mem_decode.h"

#include <algorithm>
#include <cstring>

namespace nodepulse {
namespace {

Log2Histogram to_log2(const np_histogram& hist) {
  Log2Histogram out;
  std::copy(std::begin(hist.slots), std::end(hist.slots), out.slots.begin());
  out.count = hist.count;
  out.sum_ns = hist.sum_ns;
  return out;
}

}  // namespace

ReclaimReading sum_mem_stats(std::span<const np_mem_stats> per_cpu) {
  ReclaimReading reading;
  for (const np_mem_stats& cpu : per_cpu) {
    reading.direct += to_log2(cpu.direct_reclaim);
    reading.memcg += to_log2(cpu.memcg_reclaim);
    reading.oom_kills += cpu.oom_kills;
  }
  return reading;
}

std::optional<OomEvent> decode_mem_event(std::span<const std::byte> record) {
  np_mem_event raw;
  if (record.size() != sizeof(raw)) return std::nullopt;
  std::memcpy(&raw, record.data(), sizeof(raw));
  if (raw.kind != NP_MEM_EVENT_OOM_KILL) return std::nullopt;

  OomEvent event;
  event.ts_ns = raw.ts_ns;
  event.pid = static_cast<pid_t>(raw.pid);
  event.tgid = static_cast<pid_t>(raw.tgid);
  event.target_index =
      (raw.target_slot >= 1 && raw.target_slot <= NP_MEM_MAX_TARGETS) ? static_cast<int>(raw.target_slot) - 1 : -1;
  const auto* comm = reinterpret_cast<const char*>(raw.comm);
  event.comm.assign(comm, strnlen(comm, sizeof(raw.comm)));
  event.cgroup_id = raw.cgroup_id;
  event.memcg_id = raw.memcg_id;
  event.pid_only = (raw.flags & NP_MEM_EVENT_PID_ONLY) != 0;
  return event;
}

}  // namespace nodepulse
