// Probes what this kernel and this process can do before anything is loaded, so `check` and
// the agent can say exactly what will and will not work, and why.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace nodepulse {

struct FeatureCheck {
  enum class Status { kOk, kWarn, kFail };
  std::string what;
  Status status = Status::kOk;
  std::string detail;
};

// What one probe needs from the kernel.
struct ProbeRequirements {
  std::string probe;
  std::vector<std::string> btf_tracepoints;  // tp_btf names, e.g. "sched_switch"
  std::vector<std::string> tracepoints;      // classic "category/name", e.g. "tcp/tcp_retransmit_skb"
  bool ring_buffer = false;
  bool task_storage = false;
  std::vector<std::string> raw_tracepoints;  // raw_tp names, e.g. "sched_switch"
  bool perf_buffer = false;
};

// Node-wide facts: BTF, privileges, BPF statistics, tracefs, memlock.
std::vector<FeatureCheck> check_environment();

// Every requirement of `probe`; a kFail entry means the probe will not load.
std::vector<FeatureCheck> check_probe_requirements(const ProbeRequirements& probe);

const char* status_name(FeatureCheck::Status status);

// Whether the running kernel's BTF has `struct_name.member` (false when there is no BTF).
bool kernel_struct_has_member(const char* struct_name, const char* member);

}  // namespace nodepulse
