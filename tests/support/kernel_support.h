// This kernel's BPF support cut down to what Linux 5.4 has, so a probe given it makes 5.4's
// choices here: raw_tp (no BTF tracing programs, no task storage), the perf buffer (no ring
// buffer) and bpf_probe_read() (no bpf_probe_read_kernel()).
#pragma once

#include "probes/probe_paths.h"

namespace nodepulse::testing {

inline KernelSupport as_linux_5_4() {
  KernelSupport kernel = KernelSupport::detect();
  kernel.tracing_programs = false;
  kernel.task_storage = false;
  kernel.ring_buffer = false;
  kernel.probe_read_kernel = false;
  return kernel;
}

}  // namespace nodepulse::testing
