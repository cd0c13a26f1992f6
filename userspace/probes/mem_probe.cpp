#include "probes/mem_probe.h"

#include <bpf/btf.h>
#include <spdlog/spdlog.h>

#include <optional>
#include <string_view>

#include "mem.skel.h"
#include "probes/bpf_util.h"
#include "probes/mem_decode.h"

namespace nodepulse {

using MemSkeleton = SkeletonPtr<mem_bpf, mem_bpf__destroy>;

struct MemProbe::Impl {
  MemSkeleton skeleton;
  // Declared before the ring buffer that points to it, so it outlives the ring buffer.
  EventDispatcher<OomEvent> dispatcher{"mem", decode_mem_event};
  std::optional<RingBuffer> events;
  size_t target_count = 0;
  OomHook oom_hook = OomHook::kBtf;
  bool memcg_reclaim = true;
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

struct Loaded {
  MemSkeleton skeleton;
  MemProbe::OomHook oom_hook;
  bool memcg_reclaim;
};

Result<Loaded> open_and_load(const MemProbe::Options& options) {
  if (options.target_count > NP_MEM_MAX_TARGETS) {
    return Error{"the mem probe supports at most " + std::to_string(NP_MEM_MAX_TARGETS) + " targets"};
  }
  const KernelHooks hooks = probe_kernel_hooks();
  if (!hooks.has_btf) return Error{"the mem probe needs kernel BTF (/sys/kernel/btf/vmlinux)"};
  MemProbe::OomHook oom_hook = options.oom_hook;
  if (oom_hook == MemProbe::OomHook::kAuto) {
    oom_hook = hooks.mark_victim_passes_task ? MemProbe::OomHook::kBtf : MemProbe::OomHook::kTracepoint;
  } else if (oom_hook == MemProbe::OomHook::kBtf && !hooks.mark_victim_passes_task) {
    return Error{"this kernel's oom:mark_victim passes no task_struct; tp_btf/mark_victim cannot load"};
  }

  MemSkeleton skeleton(mem_bpf__open());
  if (!skeleton) return errno_error("opening the mem BPF object", errno);
  if (skeleton->rodata->abi_version != NP_MEM_ABI_VERSION) {
    return Error{"mem BPF object has ABI version " + std::to_string(skeleton->rodata->abi_version) +
                 ", this agent expects " + std::to_string(NP_MEM_ABI_VERSION) + " (stale build?)"};
  }
  bpf_program__set_autoload(skeleton->progs.mark_victim, oom_hook == MemProbe::OomHook::kBtf);
  bpf_program__set_autoload(skeleton->progs.mark_victim_legacy, oom_hook == MemProbe::OomHook::kTracepoint);
  bpf_program__set_autoload(skeleton->progs.mm_vmscan_memcg_reclaim_begin, hooks.memcg_reclaim);
  bpf_program__set_autoload(skeleton->progs.mm_vmscan_memcg_reclaim_end, hooks.memcg_reclaim);
  if (int err = mem_bpf__load(skeleton.get())) return errno_error("loading the mem BPF programs", err);
  return Loaded{std::move(skeleton), oom_hook, hooks.memcg_reclaim};
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

ProbeRequirements MemProbe::requirements() {
  const KernelHooks hooks = probe_kernel_hooks();
  ProbeRequirements requirements{.probe = "mem",
                                 .btf_tracepoints = {"mm_vmscan_direct_reclaim_begin", "mm_vmscan_direct_reclaim_end"},
                                 .tracepoints = {},
                                 .ring_buffer = true,
                                 .task_storage = true};
  // Without CONFIG_MEMCG the probe loads without them (see measures_memcg_reclaim()).
  if (!hooks.has_btf || hooks.memcg_reclaim) {
    requirements.btf_tracepoints.push_back("mm_vmscan_memcg_reclaim_begin");
    requirements.btf_tracepoints.push_back("mm_vmscan_memcg_reclaim_end");
  }
  // Where the BTF tracepoint has the old signature, the classic one (found through tracefs)
  // is what loads.
  if (hooks.has_btf && !hooks.mark_victim_passes_task) {
    requirements.tracepoints.push_back("oom/mark_victim");
  } else {
    requirements.btf_tracepoints.push_back("mark_victim");
  }
  return requirements;
}

Result<void> MemProbe::verify_load(const Options& options) {
  auto loaded = open_and_load(options);
  if (!loaded) return loaded.error();
  return ok();
}

Result<std::unique_ptr<MemProbe>> MemProbe::start(const Options& options, EventHandler handler) {
  auto loaded = open_and_load(options);
  if (!loaded) return loaded.error();
  auto impl = std::make_unique<Impl>();
  impl->dispatcher.set_handler(std::move(handler));
  impl->target_count = options.target_count;
  impl->oom_hook = loaded->oom_hook;
  impl->memcg_reclaim = loaded->memcg_reclaim;
  impl->skeleton = std::move(loaded->skeleton);
  mem_bpf* skel = impl->skeleton.get();
  if (int err = mem_bpf__attach(skel)) return errno_error("attaching the mem BPF programs", err);

  auto ring = RingBuffer::open(skel->maps.mem_events, &EventDispatcher<OomEvent>::on_record, &impl->dispatcher);
  if (!ring) return ring.error();
  impl->events.emplace(std::move(*ring));
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
  return reading;
}

MemProbe::OomHook MemProbe::oom_hook() const { return impl_->oom_hook; }

bool MemProbe::measures_memcg_reclaim() const { return impl_->memcg_reclaim; }

int MemProbe::event_fd() const { return impl_->events->epoll_fd(); }

int MemProbe::consume_events() { return impl_->events->consume(); }

std::vector<ProgramStats> MemProbe::program_stats() const { return nodepulse::program_stats(impl_->skeleton->obj); }

}  // namespace nodepulse
