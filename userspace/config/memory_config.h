// The memory keys and their defaults (read, checked and rendered in memory_config.cpp).
#pragma once

#include <cstdint>

namespace nodepulse {

struct MemoryConfig {
  // PSI trigger: wake the agent at once when the `some` memory stall (node-wide, and in each
  // target's cgroup) reaches psi_trigger_stall_us within psi_trigger_window_us. 0 = off.
  // Kernels >= 6.5 accept from a process without CAP_SYS_RESOURCE only windows that are a
  // multiple of 2 s (and evaluate them every 2 s), hence the 2 s default; there the agent
  // checks the same rule itself at every collection (see collect/mem_collector.h).
  uint32_t psi_trigger_stall_us = 200000;
  uint32_t psi_trigger_window_us = 2000000;  // 500000-10000000, the kernel's limits
};

}  // namespace nodepulse
