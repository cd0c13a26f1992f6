#include "probes/probe_paths.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <filesystem>
#include <memory>

namespace nodepulse {
namespace {

bool btf_enum_has_value(const btf* types, const char* enum_name, std::string_view value) {
  const int id = btf__find_by_name_kind(types, enum_name, BTF_KIND_ENUM);
  if (id < 0) return false;
  const btf_type* type = btf__type_by_id(types, static_cast<uint32_t>(id));
  const struct btf_enum* values = btf_enum(type);
  for (uint16_t i = 0; i < btf_vlen(type); ++i) {
    const char* name = btf__name_by_offset(types, values[i].name_off);
    if (name && value == name) return true;
  }
  return false;
}

KernelSupport probe_kernel() {
  KernelSupport kernel;
  std::unique_ptr<btf, decltype(&btf__free)> vmlinux(btf__load_vmlinux_btf(), &btf__free);
  kernel.btf = vmlinux != nullptr;
  // libbpf 1.1 cannot trial-load a tracing program without a target, but the kernel's own BTF
  // lists every program type it knows.
  kernel.tracing_programs = kernel.btf && btf_enum_has_value(vmlinux.get(), "bpf_prog_type", "BPF_PROG_TYPE_TRACING");
  kernel.task_storage = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, nullptr) == 1;
  kernel.raw_tracepoints = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_RAW_TRACEPOINT, nullptr) == 1;
  kernel.tracepoints = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACEPOINT, nullptr) == 1 &&
                       std::filesystem::exists("/sys/kernel/tracing/events");
  kernel.ring_buffer = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr) == 1;
  kernel.perf_buffer = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_PERF_EVENT_ARRAY, nullptr) == 1;
  kernel.probe_read_kernel = libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_probe_read_kernel, nullptr) == 1;
  return kernel;
}

// What `path` lacks on `kernel`; empty when it can load.
std::string missing_for(AttachPath path, const KernelSupport& kernel) {
  if (!kernel.btf) return "no kernel BTF (/sys/kernel/btf/vmlinux; CONFIG_DEBUG_INFO_BTF)";
  switch (path) {
    case AttachPath::kTpBtf:
      if (!kernel.tracing_programs) return "no BPF tracing programs (tp_btf, kernel >= 5.5)";
      if (!kernel.task_storage) return "no BPF task storage (kernel >= 5.11)";
      return "";
    case AttachPath::kRawTp:
      return kernel.raw_tracepoints ? "" : "no raw tracepoint programs (kernel >= 4.17)";
    case AttachPath::kTracepoint:
      return kernel.tracepoints ? "" : "no tracepoint programs or no tracefs at /sys/kernel/tracing";
  }
  return "unknown path";
}

}  // namespace

const KernelSupport& KernelSupport::detect() {
  static const KernelSupport kernel = probe_kernel();
  return kernel;
}

KernelSupport KernelSupport::all() { return {true, true, true, true, true, true, true, true}; }

const char* attach_path_name(AttachPath path) {
  switch (path) {
    case AttachPath::kTpBtf: return "tp_btf";
    case AttachPath::kRawTp: return "raw_tp";
    case AttachPath::kTracepoint: return "tracepoint";
  }
  return "?";
}

const char* event_transport_name(EventTransport path) {
  switch (path) {
    case EventTransport::kRingBuffer: return "ring buffer";
    case EventTransport::kPerfBuffer: return "perf buffer";
  }
  return "?";
}

std::optional<std::optional<AttachPath>> parse_attach_path(std::string_view text) {
  if (text == "auto") return std::optional<AttachPath>();
  if (text == "tp_btf") return AttachPath::kTpBtf;
  if (text == "raw_tp") return AttachPath::kRawTp;
  if (text == "tracepoint") return AttachPath::kTracepoint;
  return std::nullopt;
}

std::optional<std::optional<EventTransport>> parse_event_transport(std::string_view text) {
  if (text == "auto") return std::optional<EventTransport>();
  if (text == "ringbuf") return EventTransport::kRingBuffer;
  if (text == "perfbuf") return EventTransport::kPerfBuffer;
  return std::nullopt;
}

Result<PathChoice<AttachPath>> choose_attach_path(std::optional<AttachPath> wanted, const KernelSupport& kernel) {
  if (wanted) {
    const std::string missing = missing_for(*wanted, kernel);
    if (!missing.empty()) {
      return Error{std::string("probes.attach=") + attach_path_name(*wanted) + ", but this kernel has " + missing +
                   "; use auto"};
    }
    return PathChoice<AttachPath>{*wanted, "forced by probes.attach"};
  }
  std::string why_not;
  for (AttachPath path : {AttachPath::kTpBtf, AttachPath::kRawTp, AttachPath::kTracepoint}) {
    const std::string missing = missing_for(path, kernel);
    if (missing.empty()) {
      return PathChoice<AttachPath>{path, why_not.empty() ? "the best this kernel supports" : "auto: " + why_not};
    }
    why_not += std::string(why_not.empty() ? "" : "; ") + attach_path_name(path) + ": " + missing;
  }
  return Error{"no attach path loads on this kernel: " + why_not};
}

Result<PathChoice<EventTransport>> choose_event_transport(std::optional<EventTransport> wanted,
                                                          const KernelSupport& kernel) {
  if (wanted == EventTransport::kRingBuffer && !kernel.ring_buffer) {
    return Error{"probes.events=ringbuf, but this kernel has no BPF ring buffer (kernel >= 5.8); use auto"};
  }
  if (wanted == EventTransport::kPerfBuffer && !kernel.perf_buffer) {
    return Error{"probes.events=perfbuf, but this kernel has no BPF perf event arrays"};
  }
  if (wanted) return PathChoice<EventTransport>{*wanted, "forced by probes.events"};
  if (kernel.ring_buffer) return PathChoice<EventTransport>{EventTransport::kRingBuffer, "the best this kernel supports"};
  if (kernel.perf_buffer) {
    return PathChoice<EventTransport>{EventTransport::kPerfBuffer, "auto: no BPF ring buffer (kernel >= 5.8)"};
  }
  return Error{"this kernel has neither a BPF ring buffer nor perf event arrays"};
}

}  // namespace nodepulse
