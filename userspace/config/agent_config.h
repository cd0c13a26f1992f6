// The agent's own keys and their defaults: cluster, node, targets, log, probes, collect, metrics
// (read, checked and rendered in agent_config.cpp).
#pragma once

#include <cstdint>
#include <string>

namespace nodepulse {

// One process (or group of processes) whose health matters. Exactly one selector is set.
struct TargetSpec {
  std::string name;              // label value in metrics; unique; [a-zA-Z0-9_.-]+
  std::string cmdline_contains;  // substring of /proc/PID/cmdline (NULs read as spaces)
  std::string comm;              // exact /proc/PID/comm
  std::string pid_file;          // file holding the pid
  std::string cgroup;            // cgroup path, e.g. /system.slice/trino.service: every process in it or below
};

// The default target: the Trino JVM.
inline const TargetSpec kDefaultTarget{"trino", "io.trino.server.TrinoServer", "", "", ""};

struct NodeConfig {
  std::string id;    // "" = Trino's node.id, else the hostname
  std::string role;  // "" | coordinator | worker
};

struct LogConfig {
  std::string level = "info";
};

// How every probe reaches the kernel; auto picks the best this kernel supports, and the others
// force a fallback (to run an older kernel's path here, or to step around a kernel bug).
struct ProbesConfig {
  std::string attach = "auto";  // auto | tp_btf | raw_tp | tracepoint (classic)
  std::string events = "auto";  // auto | ringbuf | perfbuf
};

struct CollectConfig {
  uint32_t interval_ms = 250;  // how often BPF maps are read into a sample
};

struct MetricsConfig {
  // nodepulse_bpf_run_{seconds,count}_total per BPF program. Off by default: while on, the
  // kernel times every run of every BPF program on the host (not only ours) with two extra
  // clock reads, which adds to the hottest hook we use (sched_switch).
  bool bpf_stats = false;
};

}  // namespace nodepulse
