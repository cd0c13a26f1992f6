#include "probes/mem_probe.h"

#include <bpf/btf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <string_view>

#include "mem.skel.h"
#include "probes/bpf_util.h"
#include "probes/mem_decode.h"

namespace nodepulse {

using MemSkeleton = SkeletonPtr<mem_bpf, mem_bpf__destroy>;

struct MemProbe::Impl {
  MemSkeleton skeleton;
  // Declared before the event stream that points to it, so it outlives the stream.
  EventDispatcher<OomEvent> dispatcher{"mem", decode_mem_event};
  std::optional<EventStream> events;
  size_t target_count = 0;
  OomHook oom_hook = OomHook::kBtf;
  bool memcg_reclaim = true;
  AttachPath attach = AttachPath::kTpBtf;
  EventTransport transport = EventTransport::kRingBuffer;
  ProbePlan plan;
};

namespace {

using BtfPtr = std::unique_ptr<btf, decltype(&btf__free)>;

// What the running kernel's BTF says about the hooks this probe may use.
struct KernelHooks {
  bool has_btf = false;
  bool mark_victim_passes_task = false;  // see mark_victim in bpf/mem.bpf.c
  bool memcg_reclaim = false;            // mm_vmscan_memcg_reclaim_* exist (CONFIG_MEMCG)
};

const btf_type* resolve_typedefs_and_modifiers(const btf* types, uint32_t id) {
  const btf_type* type = btf__type_by_id(types, id);
  while (type && (btf_is_typedef(type) || btf_is_mod(type))) type = btf__type_by_id(types, type->type);
  return type;
}

// btf_trace_mark_victim is `void (*)(void *, struct task_struct *, uid_t)` on kernels with the
// 2024 tracepoint change and `void (*)(void *, int)` before it.
bool mark_victim_passes_task(const btf* types) {
  const int id = btf__find_by_name_kind(types, "btf_trace_mark_victim", BTF_KIND_TYPEDEF);
  if (id < 0) return false;
  const btf_type* pointer = resolve_typedefs_and_modifiers(types, static_cast<uint32_t>(id));
  if (!pointer || !btf_is_ptr(pointer)) return false;
  const btf_type* proto = btf__type_by_id(types, pointer->type);
  if (!proto || !btf_is_func_proto(proto) || btf_vlen(proto) < 2) return false;
  const btf_type* victim = resolve_typedefs_and_modifiers(types, btf_params(proto)[1].type);
  if (!victim || !btf_is_ptr(victim)) return false;
  const btf_type* pointee = resolve_typedefs_and_modifiers(types, victim->type);
  return pointee && btf_is_struct(pointee) &&
         std::string_view(btf__name_by_offset(types, pointee->name_off)) == "task_struct";
}

KernelHooks probe_kernel_hooks() {
  KernelHooks hooks;
  BtfPtr vmlinux(btf__load_vmlinux_btf(), &btf__free);
  if (!vmlinux) return hooks;
  hooks.has_btf = true;
  hooks.mark_victim_passes_task = mark_victim_passes_task(vmlinux.get());
  hooks.memcg_reclaim =
      btf__find_by_name_kind(vmlinux.get(), "btf_trace_mm_vmscan_memcg_reclaim_begin", BTF_KIND_TYPEDEF) >= 0;
  return hooks;
}

// 16 KiB per CPU: OOM kills are rare.
constexpr size_t kPerfPagesPerCpu = 4;

struct Choice {
  PathChoice<AttachPath> attach;
  PathChoice<EventTransport> events;
  MemProbe::OomHook oom_hook;
  bool memcg_reclaim;
};

Result<Choice> choose(const MemProbe::Options& options) {
  if (options.target_count > NP_MEM_MAX_TARGETS) {
    return Error{"the mem probe supports at most " + std::to_string(NP_MEM_MAX_TARGETS) + " targets"};
  }
  const KernelHooks hooks = probe_kernel_hooks();
  if (!hooks.has_btf) return Error{"the mem probe needs kernel BTF (/sys/kernel/btf/vmlinux)"};
  const KernelSupport& kernel = options.kernel ? *options.kernel : KernelSupport::detect();
  auto attach = choose_attach_path(options.paths.attach, kernel);
  if (!attach) return attach.error();
  auto events = choose_event_transport(options.paths.events, kernel);
  if (!events) return events.error();
  // The classic tracepoint's record has the victim's pid only, whatever the kernel.
  const bool task_hook = hooks.mark_victim_passes_task && attach->path != AttachPath::kTracepoint;
  MemProbe::OomHook oom_hook = options.oom_hook;
  if (oom_hook == MemProbe::OomHook::kAuto) {
    oom_hook = task_hook ? MemProbe::OomHook::kBtf : MemProbe::OomHook::kTracepoint;
  } else if (oom_hook == MemProbe::OomHook::kBtf && !task_hook) {
    return Error{hooks.mark_victim_passes_task
                     ? "probes.attach=tracepoint: the classic oom:mark_victim record has the victim's pid only"
                     : "this kernel's oom:mark_victim passes no task_struct; tp_btf/mark_victim cannot load"};
  }
  return Choice{*attach, *events, oom_hook, hooks.memcg_reclaim};
}

ProbePlan plan_of(const Choice& choice) {
  const bool task_hook = choice.oom_hook == MemProbe::OomHook::kBtf;
  ProbePlan plan{.attach = attach_path_name(choice.attach.path),
                 .attach_reason = choice.attach.reason + "; OOM kills through " +
                                  (task_hook ? std::string(attach_path_name(choice.attach.path)) + "/mark_victim"
                                             : std::string("tracepoint/oom/mark_victim")),
                 .events = event_transport_name(choice.events.path),
                 .events_reason = choice.events.reason,
                 .degraded = {}};
  if (!task_hook) {
    plan.degraded.push_back("OOM kills name the victim's pid only: no comm, no cgroup ids");
  }
  if (!choice.memcg_reclaim) plan.degraded.push_back("no memcg reclaim tracepoints: memcg stalls are not measured");
  return plan;
}

void choose_programs(mem_bpf* skel, const Choice& choice) {
  const auto load = [](bpf_program* program, bool on) { bpf_program__set_autoload(program, on); };
  const bool btf = choice.attach.path == AttachPath::kTpBtf;
  const bool raw = choice.attach.path == AttachPath::kRawTp;
  const bool classic = choice.attach.path == AttachPath::kTracepoint;
  const bool task_hook = choice.oom_hook == MemProbe::OomHook::kBtf;
  const bool memcg = choice.memcg_reclaim;
  load(skel->progs.mm_vmscan_direct_reclaim_begin, btf);
  load(skel->progs.mm_vmscan_direct_reclaim_end, btf);
  load(skel->progs.mm_vmscan_memcg_reclaim_begin, btf && memcg);
  load(skel->progs.mm_vmscan_memcg_reclaim_end, btf && memcg);
  load(skel->progs.raw_direct_begin, raw);
  load(skel->progs.raw_direct_end, raw);
  load(skel->progs.raw_memcg_begin, raw && memcg);
  load(skel->progs.raw_memcg_end, raw && memcg);
  load(skel->progs.tp_direct_begin, classic);
  load(skel->progs.tp_direct_end, classic);
  load(skel->progs.tp_memcg_begin, classic && memcg);
  load(skel->progs.tp_memcg_end, classic && memcg);
  load(skel->progs.mark_victim, btf && task_hook);
  load(skel->progs.raw_mark_victim, raw && task_hook);
  load(skel->progs.mark_victim_legacy, !task_hook);
}

Result<MemSkeleton> open_and_load(const MemProbe::Options& options, const Choice& choice) {
  MemSkeleton skeleton(mem_bpf__open());
  if (!skeleton) return errno_error("opening the mem BPF object", errno);
  if (skeleton->rodata->abi_version != NP_MEM_ABI_VERSION) {
    return Error{"mem BPF object has ABI version " + std::to_string(skeleton->rodata->abi_version) +
                 ", this agent expects " + std::to_string(NP_MEM_ABI_VERSION) + " (stale build?)"};
  }
  mem_bpf* skel = skeleton.get();
  skel->rodata->events_use_perf_buffer = choice.events.path == EventTransport::kPerfBuffer ? 1 : 0;
  const KernelSupport& kernel = options.kernel ? *options.kernel : KernelSupport::detect();
  skel->rodata->has_probe_read_kernel = kernel.probe_read_kernel ? 1 : 0;
  choose_programs(skel, choice);
  // Task storage on the tp_btf path (kernels without it never get there), a pid-keyed hash
  // elsewhere; the one not used is not created, or shrunk to one entry.
  const bool btf = choice.attach.path == AttachPath::kTpBtf;
  if (int err = bpf_map__set_autocreate(skel->maps.reclaim_since, btf)) {
    return errno_error("configuring the mem task storage", err);
  }
  if (btf) {
    if (int err = bpf_map__set_max_entries(skel->maps.reclaim_since_pid, 1)) {
      return errno_error("shrinking the unused mem pid map", err);
    }
  }
  if (auto prepared = EventStream::prepare(skel->maps.mem_events, skel->maps.mem_events_perf, choice.events.path);
      !prepared) {
    return prepared.error();
  }
  if (int err = mem_bpf__load(skel)) return errno_error("loading the mem BPF programs", err);
  return skeleton;
}

}  // namespace

const char* oom_hook_name(MemProbe::OomHook hook) {
  switch (hook) {
    case MemProbe::OomHook::kAuto: return "auto";
    case MemProbe::OomHook::kBtf: return "tp_btf/mark_victim";
    case MemProbe::OomHook::kTracepoint: return "tracepoint/oom/mark_victim";
  }
  return "?";
}

Result<ProbePlan> MemProbe::plan(const Options& options) {
  auto choice = choose(options);
  if (!choice) return choice.error();
  return plan_of(*choice);
}

ProbeRequirements MemProbe::requirements(const Options& options) {
  ProbeRequirements requirements;
  requirements.probe = "mem";
  auto choice = choose(options);
  if (!choice) return requirements;  // `check` reports the plan's error
  std::vector<std::string> hooks = {"mm_vmscan_direct_reclaim_begin", "mm_vmscan_direct_reclaim_end"};
  // Without CONFIG_MEMCG the probe loads without them (see measures_memcg_reclaim()).
  if (choice->memcg_reclaim) {
    hooks.push_back("mm_vmscan_memcg_reclaim_begin");
    hooks.push_back("mm_vmscan_memcg_reclaim_end");
  }
  const bool task_hook = choice->oom_hook == OomHook::kBtf;
  switch (choice->attach.path) {
    case AttachPath::kTpBtf:
      requirements.btf_tracepoints = hooks;
      if (task_hook) requirements.btf_tracepoints.push_back("mark_victim");
      requirements.task_storage = true;
      break;
    case AttachPath::kRawTp:
      requirements.raw_tracepoints = hooks;
      if (task_hook) requirements.raw_tracepoints.push_back("mark_victim");
      break;
    case AttachPath::kTracepoint:
      for (const std::string& hook : hooks) requirements.tracepoints.push_back("vmscan/" + hook);
      break;
  }
  if (!task_hook) requirements.tracepoints.push_back("oom/mark_victim");
  requirements.ring_buffer = choice->events.path == EventTransport::kRingBuffer;
  requirements.perf_buffer = choice->events.path == EventTransport::kPerfBuffer;
  return requirements;
}

Result<void> MemProbe::verify_load(const Options& options) {
  auto choice = choose(options);
  if (!choice) return choice.error();
  auto skeleton = open_and_load(options, *choice);
  if (!skeleton) return skeleton.error();
  return ok();
}

Result<std::unique_ptr<MemProbe>> MemProbe::start(const Options& options, EventHandler handler) {
  auto choice = choose(options);
  if (!choice) return choice.error();
  auto skeleton = open_and_load(options, *choice);
  if (!skeleton) return skeleton.error();
  auto impl = std::make_unique<Impl>();
  impl->dispatcher.set_handler(std::move(handler));
  impl->target_count = options.target_count;
  impl->oom_hook = choice->oom_hook;
  impl->memcg_reclaim = choice->memcg_reclaim;
  impl->attach = choice->attach.path;
  impl->transport = choice->events.path;
  impl->plan = plan_of(*choice);
  impl->skeleton = std::move(*skeleton);
  mem_bpf* skel = impl->skeleton.get();
  // The stream first: until a perf buffer is open on a CPU, output there fails (and would
  // count as a drop).
  auto events = EventStream::open(impl->transport, {skel->maps.mem_events, skel->maps.mem_events_perf},
                                  {sizeof(np_mem_event), kPerfPagesPerCpu}, &EventDispatcher<OomEvent>::on_record,
                                  &impl->dispatcher);
  if (!events) return events.error();
  impl->events.emplace(std::move(*events));
  if (int err = mem_bpf__attach(skel)) return errno_error("attaching the mem BPF programs", err);
  return std::unique_ptr<MemProbe>(new MemProbe(std::move(impl)));
}

MemProbe::MemProbe(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MemProbe::~MemProbe() = default;

Result<void> MemProbe::add_target(pid_t tgid, size_t target_index) {
  if (target_index >= impl_->target_count) return Error{"target index out of range"};
  const auto key = static_cast<uint32_t>(tgid);
  const uint32_t slot = mem_target_slot(target_index);
  if (int err = bpf_map__update_elem(impl_->skeleton->maps.targets, &key, sizeof(key), &slot, sizeof(slot), BPF_ANY)) {
    return errno_error("adding pid " + std::to_string(tgid) + " to the mem targets map", err);
  }
  return ok();
}

Result<void> MemProbe::remove_target(pid_t tgid) {
  const auto key = static_cast<uint32_t>(tgid);
  const int err = bpf_map__delete_elem(impl_->skeleton->maps.targets, &key, sizeof(key), 0);
  if (err && err != -ENOENT) return errno_error("removing pid " + std::to_string(tgid) + " from the mem targets", err);
  return ok();
}

Result<MemReading> MemProbe::read() {
  mem_bpf* skel = impl_->skeleton.get();
  MemReading reading;
  auto node = read_percpu<np_mem_stats>(skel->maps.mem_stats, NP_MEM_NODE_SLOT);
  if (!node) return node.error();
  reading.node = sum_mem_stats(*node);
  for (size_t i = 0; i < impl_->target_count; ++i) {
    auto target = read_percpu<np_mem_stats>(skel->maps.mem_stats, mem_target_slot(i));
    if (!target) return target.error();
    reading.targets.push_back(sum_mem_stats(*target));
  }
  auto drops = read_percpu<np_mem_drops>(skel->maps.mem_drops, 0);
  if (!drops) return drops.error();
  for (const np_mem_drops& cpu : *drops) {
    reading.dropped_events += cpu.ringbuf_full;
    reading.unmeasured_stalls += cpu.task_storage;
  }
  // A full perf buffer shows twice: the program's failed output (counted above) and the
  // kernel's lost-record report. The larger is the truth so far; the sum would double count.
  reading.dropped_events = std::max<uint64_t>(reading.dropped_events, impl_->events->lost());
  return reading;
}

MemProbe::OomHook MemProbe::oom_hook() const { return impl_->oom_hook; }

bool MemProbe::measures_memcg_reclaim() const { return impl_->memcg_reclaim; }

AttachPath MemProbe::attach_path() const { return impl_->attach; }

EventTransport MemProbe::event_transport() const { return impl_->transport; }

const ProbePlan& MemProbe::paths() const { return impl_->plan; }

int MemProbe::event_fd() const { return impl_->events->epoll_fd(); }

int MemProbe::consume_events() { return impl_->events->consume(); }

std::vector<ProgramStats> MemProbe::program_stats() const { return nodepulse::program_stats(impl_->skeleton->obj); }

}  // namespace nodepulse
