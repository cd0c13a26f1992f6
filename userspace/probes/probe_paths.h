// How a probe's programs hook the kernel and how its events reach userspace, chosen before load
// from what this kernel supports and what the config forces (probes.attach, probes.events).
// The choice is a pure function of (request, kernel support), so it is unit-tested; only
// KernelSupport::detect() touches the kernel.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace nodepulse {

// Best first: each later path runs on older kernels and costs a little more.
enum class AttachPath {
  kTpBtf,       // tp_btf: typed arguments, direct loads, task storage (5.11+)
  kRawTp,       // raw_tp: the same arguments untyped, read with BPF_CORE_READ (4.17+ with BTF)
  kTracepoint,  // classic tracepoints: the tracepoint's record (tracefs), pids rather than tasks
};

enum class EventTransport {
  kRingBuffer,  // one buffer shared by all CPUs, ordered (5.8+)
  kPerfBuffer,  // one buffer per CPU (any kernel)
};

// What the config asks for; nullopt = auto (the best this kernel supports).
struct PathRequest {
  std::optional<AttachPath> attach = std::nullopt;
  std::optional<EventTransport> events = std::nullopt;
};

// The BPF features the paths depend on. Every path needs BTF: the programs are CO-RE.
struct KernelSupport {
  bool btf = false;              // /sys/kernel/btf/vmlinux
  bool tracing_programs = false;  // BPF_PROG_TYPE_TRACING (tp_btf), 5.5+
  bool task_storage = false;     // BPF_MAP_TYPE_TASK_STORAGE, 5.11+: the tp_btf programs' per-task state
  bool raw_tracepoints = false;  // BPF_PROG_TYPE_RAW_TRACEPOINT, 4.17+
  bool tracepoints = false;      // BPF_PROG_TYPE_TRACEPOINT and a mounted tracefs
  bool ring_buffer = false;      // BPF_MAP_TYPE_RINGBUF, 5.8+
  bool perf_buffer = false;      // BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4.3+
  // bpf_probe_read_kernel(), 5.5+; without it the programs fall back to bpf_probe_read()
  // (see bpf/compat.bpf.h), so it decides no path.
  bool probe_read_kernel = false;

  // What the running kernel supports (probed once, then cached).
  static const KernelSupport& detect();
  // Everything: for tests of the choice.
  static KernelSupport all();
};

template <class Path>
struct PathChoice {
  Path path;
  std::string reason;  // why this one, for `check` and the start-up log
};

Result<PathChoice<AttachPath>> choose_attach_path(std::optional<AttachPath> wanted, const KernelSupport& kernel);
Result<PathChoice<EventTransport>> choose_event_transport(std::optional<EventTransport> wanted,
                                                          const KernelSupport& kernel);

// The paths one probe took (or will take), for `check` and the logs.
struct ProbePlan {
  std::string attach;                 // "tp_btf", "raw_tp", "tracepoint", "usdt", ...
  std::string attach_reason;
  std::string events;                 // "ring buffer", "perf buffer", or "none"
  std::string events_reason;
  std::vector<std::string> degraded;  // what this choice costs, one line each
};

const char* attach_path_name(AttachPath path);         // "tp_btf" | "raw_tp" | "tracepoint"
const char* event_transport_name(EventTransport path);  // "ring buffer" | "perf buffer"

// The config's spelling: "auto" is nullopt; nullopt result for anything unknown.
std::optional<std::optional<AttachPath>> parse_attach_path(std::string_view text);
std::optional<std::optional<EventTransport>> parse_event_transport(std::string_view text);

}  // namespace nodepulse
