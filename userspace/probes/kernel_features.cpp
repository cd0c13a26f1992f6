#include "probes/kernel_features.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string_view>

#include "probes/bpf_util.h"

namespace nodepulse {
namespace {

constexpr const char* kTracefs = "/sys/kernel/tracing";
constexpr const char* kVmlinuxBtf = "/sys/kernel/btf/vmlinux";

using BtfPtr = std::unique_ptr<btf, decltype(&btf__free)>;

BtfPtr load_vmlinux_btf() { return BtfPtr(btf__load_vmlinux_btf(), &btf__free); }

uint64_t effective_capabilities() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
  }
  return 0;
}

bool has_capability(uint64_t caps, int cap) { return (caps >> cap) & 1; }

FeatureCheck check_privileges() {
  const uint64_t caps = effective_capabilities();
  const bool admin = has_capability(caps, CAP_SYS_ADMIN);
  const bool bpf_and_perfmon = has_capability(caps, CAP_BPF) && has_capability(caps, CAP_PERFMON);
  if (!admin && !bpf_and_perfmon) {
    return {"privileges", FeatureCheck::Status::kFail,
            "needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN): run the agent as root"};
  }
  // What the kernel probes load with is not all the agent needs (userspace/common/privileges.h
  // lists what it keeps after start-up, and why).
  std::string missing;
  if (!admin) missing += "; without CAP_SYS_ADMIN the JVM pause probes cannot attach (a uprobe's perf_event_open answers EACCES)";
  if (!has_capability(caps, CAP_SYS_PTRACE)) missing += "; without CAP_SYS_PTRACE targets of other users cannot be read (/proc/PID/maps, /proc/PID/root)";
  const std::string held = admin ? "CAP_SYS_ADMIN" : "CAP_BPF + CAP_PERFMON";
  return {"privileges", missing.empty() ? FeatureCheck::Status::kOk : FeatureCheck::Status::kWarn, held + missing};
}

FeatureCheck check_btf() {
  if (access(kVmlinuxBtf, R_OK) != 0) {
    return {"kernel BTF", FeatureCheck::Status::kFail,
            std::string(kVmlinuxBtf) + " is missing: the kernel needs CONFIG_DEBUG_INFO_BTF=y for CO-RE"};
  }
  if (!load_vmlinux_btf()) return {"kernel BTF", FeatureCheck::Status::kFail, "cannot parse " + std::string(kVmlinuxBtf)};
  return {"kernel BTF", FeatureCheck::Status::kOk, kVmlinuxBtf};
}

FeatureCheck check_bpf_stats() {
  auto stats = enable_bpf_stats();
  if (stats) return {"BPF run-time stats", FeatureCheck::Status::kOk, "available (BPF_ENABLE_STATS)"};
  return {"BPF run-time stats", FeatureCheck::Status::kWarn,
          stats.error().message + "; metrics.bpf_stats cannot export nodepulse_bpf_run_* metrics"};
}

FeatureCheck check_tracefs() {
  if (std::filesystem::exists(std::string(kTracefs) + "/events")) {
    return {"tracefs", FeatureCheck::Status::kOk, kTracefs};
  }
  return {"tracefs", FeatureCheck::Status::kWarn,
          std::string(kTracefs) + " is not mounted (mount -t tracefs tracefs " + kTracefs +
              "); classic tracepoints cannot be checked"};
}

FeatureCheck check_memlock() {
  rlimit limit{};
  getrlimit(RLIMIT_MEMLOCK, &limit);
  if (limit.rlim_cur == RLIM_INFINITY) return {"RLIMIT_MEMLOCK", FeatureCheck::Status::kOk, "unlimited"};
  // Kernels since 5.11 charge BPF memory to the memory cgroup, so a low limit only matters
  // on older kernels.
  std::ostringstream detail;
  detail << limit.rlim_cur / 1024 << " KiB; fine on kernels >= 5.11 (BPF memory is charged to the cgroup)";
  return {"RLIMIT_MEMLOCK", FeatureCheck::Status::kOk, detail.str()};
}

FeatureCheck check_map_type(const std::string& probe, bpf_map_type type, const char* name) {
  const int supported = libbpf_probe_bpf_map_type(type, nullptr);
  if (supported == 1) return {probe + ": " + name, FeatureCheck::Status::kOk, "supported"};
  return {probe + ": " + name, FeatureCheck::Status::kFail,
          supported == 0 ? "not supported by this kernel" : errno_error("probing", supported).message};
}

}  // namespace

const char* status_name(FeatureCheck::Status status) {
  switch (status) {
    case FeatureCheck::Status::kOk: return "ok";
    case FeatureCheck::Status::kWarn: return "warn";
    case FeatureCheck::Status::kFail: return "FAIL";
  }
  return "?";
}

bool kernel_struct_has_member(const char* struct_name, const char* member) {
  BtfPtr vmlinux = load_vmlinux_btf();
  if (!vmlinux) return false;
  const int id = btf__find_by_name_kind(vmlinux.get(), struct_name, BTF_KIND_STRUCT);
  if (id < 0) return false;
  const btf_type* type = btf__type_by_id(vmlinux.get(), static_cast<uint32_t>(id));
  const btf_member* members = btf_members(type);
  for (uint16_t i = 0; i < btf_vlen(type); ++i) {
    const char* name = btf__name_by_offset(vmlinux.get(), members[i].name_off);
    if (name && std::string_view(name) == member) return true;
  }
  return false;
}

std::vector<FeatureCheck> check_environment() {
  return {check_privileges(), check_btf(), check_tracefs(), check_bpf_stats(), check_memlock()};
}

std::vector<FeatureCheck> check_probe_requirements(const ProbeRequirements& probe) {
  std::vector<FeatureCheck> checks;
  BtfPtr vmlinux(nullptr, &btf__free);
  if (!probe.btf_tracepoints.empty() || !probe.raw_tracepoints.empty()) vmlinux = load_vmlinux_btf();
  // A raw tracepoint exists exactly when its btf_trace_ typedef does, and every path needs BTF.
  for (const auto& [prefix, names] : {std::pair{"tp_btf/", &probe.btf_tracepoints},
                                      std::pair{"raw_tp/", &probe.raw_tracepoints}}) {
    for (const std::string& name : *names) {
      const std::string what = probe.probe + ": " + prefix + name;
      if (!vmlinux) {
        checks.push_back({what, FeatureCheck::Status::kFail, "no kernel BTF"});
      } else if (btf__find_by_name_kind(vmlinux.get(), ("btf_trace_" + name).c_str(), BTF_KIND_TYPEDEF) < 0) {
        checks.push_back({what, FeatureCheck::Status::kFail, "this kernel has no such BTF tracepoint"});
      } else {
        checks.push_back({what, FeatureCheck::Status::kOk, "present"});
      }
    }
  }
  for (const std::string& name : probe.tracepoints) {
    const std::string what = probe.probe + ": tracepoint " + name;
    if (std::filesystem::exists(std::string(kTracefs) + "/events/" + name)) {
      checks.push_back({what, FeatureCheck::Status::kOk, "present"});
    } else {
      checks.push_back({what, FeatureCheck::Status::kFail, "not in " + std::string(kTracefs) + "/events"});
    }
  }
  if (probe.ring_buffer) checks.push_back(check_map_type(probe.probe, BPF_MAP_TYPE_RINGBUF, "ring buffer"));
  if (probe.perf_buffer) {
    checks.push_back(check_map_type(probe.probe, BPF_MAP_TYPE_PERF_EVENT_ARRAY, "perf buffer"));
  }
  if (probe.task_storage) checks.push_back(check_map_type(probe.probe, BPF_MAP_TYPE_TASK_STORAGE, "task storage"));
  return checks;
}

}  // namespace nodepulse
