#include "probes/jvm_probe.h"

#include <unistd.h>

#include <map>

#include "common/clock.h"
#include "probes/bpf_util.h"
#include "probes/jvm_decode.h"
#include "jvm.skel.h"

namespace nodepulse {

using JvmSkeleton = SkeletonPtr<jvm_bpf, jvm_bpf__destroy>;

namespace {

// Where the kernel lists its uprobe PMU; libbpf attaches USDT through it.
constexpr const char* kUprobePmu = "/sys/bus/event_source/devices/uprobe/type";

// The four links of one process. Destroying it detaches them.
struct Attachment {
  uint32_t target_index = 0;
  std::vector<LinkPtr> links;
};

// Mind the providers: the safepoint probes are HotSpot-private, the GC probes public.
using Progs = decltype(jvm_bpf::progs);
constexpr struct {
  const char* provider;
  const char* name;
  bpf_program* Progs::*program;
} kUsdtProbes[] = {
    {"hotspot", "gc__begin", &Progs::gc_begin},
    {"hotspot", "gc__end", &Progs::gc_end},
    {"hs_private", "safepoint__begin", &Progs::safepoint_begin},
    {"hs_private", "safepoint__end", &Progs::safepoint_end},
};

Result<JvmSkeleton> open_and_load(const JvmProbe::Options& options) {
  if (options.target_count > NP_JVM_MAX_TARGETS) {
    return Error{"the jvm probe supports at most " + std::to_string(NP_JVM_MAX_TARGETS) + " targets"};
  }
  JvmSkeleton skeleton(jvm_bpf__open());
  if (!skeleton) return errno_error("opening the jvm BPF object", errno);
  if (skeleton->rodata->abi_version != NP_JVM_ABI_VERSION) {
    return Error{"jvm BPF object has ABI version " + std::to_string(skeleton->rodata->abi_version) +
                 ", this agent expects " + std::to_string(NP_JVM_ABI_VERSION) + " (stale build?)"};
  }
  if (int err = jvm_bpf__load(skeleton.get())) return errno_error("loading the jvm BPF programs", err);
  return skeleton;
}

std::string attach_error(int err, pid_t tgid, const std::string& path, const char* provider, const char* name) {
  const std::string probe = std::string(provider) + ":" + name;
  if (err == -ENOENT) {
    return path + " has no USDT probe " + probe + ": process " + std::to_string(tgid) +
           " is not a HotSpot JVM, or its libjvm.so was built without DTrace probes or stripped of them";
  }
  if (err == -ESRCH) return "process " + std::to_string(tgid) + " exited before its probes were attached";
  return errno_error("attaching USDT " + probe + " in " + path + " to process " + std::to_string(tgid), err).message;
}

}  // namespace

struct JvmProbe::Impl {
  // Declared before the attachments, so every link is destroyed before the programs.
  JvmSkeleton skeleton;
  size_t target_count = 0;
  std::map<pid_t, Attachment> attachments;

  void forget_inflight(pid_t tgid) {
    const auto key = static_cast<uint32_t>(tgid);
    bpf_map__delete_elem(skeleton->maps.inflight, &key, sizeof(key), 0);
  }
};

ProbeRequirements JvmProbe::requirements() {
  return {.probe = "jvm",
          .btf_tracepoints = {},
          .tracepoints = {},
          .ring_buffer = false,
          .task_storage = false,
          .raw_tracepoints = {},
          .perf_buffer = false};
}

ProbePlan JvmProbe::plan(const PathRequest&) {
  return {.attach = "usdt",
          .attach_reason = "HotSpot's USDT probes through uprobes; probes.attach does not apply",
          .events = "none",
          .events_reason = "histograms and pauses in progress in maps only",
          .degraded = {}};
}

Result<void> JvmProbe::verify_load(const Options& options) {
  if (access(kUprobePmu, R_OK) != 0) {
    return Error{std::string(kUprobePmu) +
                 " is missing: this kernel has no uprobes (CONFIG_UPROBE_EVENTS), so JVM USDT probes cannot attach"};
  }
  auto skeleton = open_and_load(options);
  if (!skeleton) return skeleton.error();
  return ok();
}

Result<std::unique_ptr<JvmProbe>> JvmProbe::start(const Options& options) {
  auto skeleton = open_and_load(options);
  if (!skeleton) return skeleton.error();
  auto impl = std::make_unique<Impl>();
  impl->skeleton = std::move(*skeleton);
  impl->target_count = options.target_count;
  return std::unique_ptr<JvmProbe>(new JvmProbe(std::move(impl)));
}

JvmProbe::JvmProbe(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

JvmProbe::~JvmProbe() = default;

Result<void> JvmProbe::attach(pid_t tgid, size_t target_index, const std::string& libjvm_path) {
  if (target_index >= impl_->target_count) return Error{"target index out of range"};
  detach(tgid);

  // The entry first: the programs ignore hits of a process without one, so none is lost
  // between the first link and the last.
  const auto key = static_cast<uint32_t>(tgid);
  np_jvm_inflight entry{};
  entry.target_index = static_cast<uint32_t>(target_index);
  if (int err = bpf_map__update_elem(impl_->skeleton->maps.inflight, &key, sizeof(key), &entry, sizeof(entry),
                                     BPF_ANY)) {
    return errno_error("registering process " + std::to_string(tgid) + " in the jvm inflight map", err);
  }

  Attachment attachment;
  attachment.target_index = entry.target_index;
  for (const auto& probe : kUsdtProbes) {
    bpf_program* program = impl_->skeleton->progs.*probe.program;
    bpf_link* link =
        bpf_program__attach_usdt(program, tgid, libjvm_path.c_str(), probe.provider, probe.name, nullptr);
    if (!link) {
      const int err = -errno;
      attachment.links.clear();  // detach what did attach, before forgetting the entry
      impl_->forget_inflight(tgid);
      return Error{attach_error(err, tgid, libjvm_path, probe.provider, probe.name)};
    }
    attachment.links.emplace_back(link);
  }
  impl_->attachments.insert_or_assign(tgid, std::move(attachment));
  return ok();
}

void JvmProbe::detach(pid_t tgid) {
  auto it = impl_->attachments.find(tgid);
  if (it == impl_->attachments.end()) return;
  impl_->attachments.erase(it);  // links first: no hit may arrive after the entry is gone
  impl_->forget_inflight(tgid);
}

bool JvmProbe::attached(pid_t tgid) const { return impl_->attachments.contains(tgid); }

size_t JvmProbe::attached_count() const { return impl_->attachments.size(); }

Result<std::vector<JvmPauseInProgress>> JvmProbe::pauses_in_progress() {
  std::vector<JvmPauseInProgress> pauses;
  for (const auto& [tgid, attachment] : impl_->attachments) {
    const auto key = static_cast<uint32_t>(tgid);
    np_jvm_inflight entry{};
    const int err = bpf_map__lookup_elem(impl_->skeleton->maps.inflight, &key, sizeof(key), &entry, sizeof(entry), 0);
    if (err) return errno_error("reading the pause in progress of process " + std::to_string(tgid), err);
    // The clock is read after the lookup, so no begin can be later than now.
    pauses.push_back(decode_inflight(tgid, entry, monotonic_ns()));
  }
  return pauses;
}

Result<JvmReading> JvmProbe::read() {
  jvm_bpf* skel = impl_->skeleton.get();
  JvmReading reading;
  for (size_t i = 0; i < impl_->target_count; ++i) {
    auto gc = read_percpu<np_histogram>(skel->maps.pause_stats, jvm_stats_key(i, NP_JVM_PAUSE_GC));
    if (!gc) return gc.error();
    auto safepoint = read_percpu<np_histogram>(skel->maps.pause_stats, jvm_stats_key(i, NP_JVM_PAUSE_SAFEPOINT));
    if (!safepoint) return safepoint.error();
    reading.targets.push_back({sum_pause_histogram(*gc), sum_pause_histogram(*safepoint)});
  }
  auto drops = read_percpu<np_jvm_drops>(skel->maps.jvm_drops, 0);
  if (!drops) return drops.error();
  for (const np_jvm_drops& cpu : *drops) {
    reading.untracked_hits += cpu.untracked_process;
    reading.bad_targets += cpu.bad_target;
  }
  auto in_progress = pauses_in_progress();
  if (!in_progress) return in_progress.error();
  reading.in_progress = std::move(*in_progress);
  return reading;
}

std::vector<ProgramStats> JvmProbe::program_stats() const {
  return nodepulse::program_stats(impl_->skeleton->obj);
}

std::vector<uint32_t> JvmProbe::program_ids() const {
  std::vector<uint32_t> ids;
  bpf_program* program = nullptr;
  bpf_object__for_each_program(program, impl_->skeleton->obj) {
    bpf_prog_info info{};
    uint32_t length = sizeof(info);
    if (bpf_obj_get_info_by_fd(bpf_program__fd(program), &info, &length) == 0) ids.push_back(info.id);
  }
  return ids;
}

}  // namespace nodepulse
