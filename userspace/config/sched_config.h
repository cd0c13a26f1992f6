// The sched keys and their defaults (read, checked and rendered in sched_config.cpp).
#pragma once

#include <cstdint>
#include <string>

namespace nodepulse {

struct SchedConfig {
  uint32_t stall_threshold_ms = 10;  // a target's run-queue wait at or above this is a stall event
  // Where "queued at" comes from: auto (schedstat when the kernel has it), schedstat, or
  // wakeup (our own timestamps at sched_wakeup; costlier, works without CONFIG_SCHED_INFO).
  std::string queue_timestamps = "auto";
};

}  // namespace nodepulse
