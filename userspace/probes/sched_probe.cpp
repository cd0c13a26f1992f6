#include "probes/sched_probe.h"

#include <spdlog/spdlog.h>

#include <optional>

#include "probes/bpf_util.h"
#include "probes/sched_decode.h"
#include "sched.skel.h"

namespace nodepulse {

using SchedSkeleton = SkeletonPtr<sched_bpf, sched_bpf__destroy>;

struct SchedProbe::Impl {
  SchedSkeleton skeleton;
  QueueTimestamps queue_timestamps = QueueTimestamps::kWakeup;
  // Declared before the ring buffer that points to it, so it outlives the ring buffer.
  EventDispatcher<SchedEvent> dispatcher{"sched", decode_sched_event};
  std::optional<RingBuffer> events;
  size_t target_count = 0;
};

namespace {

Result<SchedProbe::QueueTimestamps> resolve_queue_timestamps(SchedProbe::QueueTimestamps wanted) {
  using QueueTimestamps = SchedProbe::QueueTimestamps;
  const bool available = SchedProbe::kernel_has_schedstat_timestamps();
  switch (wanted) {
    case QueueTimestamps::kAuto: return available ? QueueTimestamps::kSchedstat : QueueTimestamps::kWakeup;
    case QueueTimestamps::kSchedstat:
      if (!available) {
        return Error{"sched.queue_timestamps=schedstat, but this kernel has no task_struct.sched_info "
                     "(CONFIG_SCHED_INFO) or cfs_rq.rq; use auto or wakeup"};
      }
      return wanted;
    case QueueTimestamps::kWakeup: return wanted;
  }
  return wanted;
}

Result<SchedSkeleton> open_and_load(const SchedProbe::Options& options, SchedProbe::QueueTimestamps path) {
  if (options.target_count > NP_SCHED_MAX_TARGETS) {
    return Error{"the sched probe supports at most " + std::to_string(NP_SCHED_MAX_TARGETS) + " targets"};
  }
  SchedSkeleton skeleton(sched_bpf__open());
  if (!skeleton) return errno_error("opening the sched BPF object", errno);
  if (skeleton->rodata->abi_version != NP_SCHED_ABI_VERSION) {
    return Error{"sched BPF object has ABI version " + std::to_string(skeleton->rodata->abi_version) +
                 ", this agent expects " + std::to_string(NP_SCHED_ABI_VERSION) + " (stale build?)"};
  }
  skeleton->rodata->stall_threshold_ns = options.stall_threshold_ns;
  const bool schedstat = path == SchedProbe::QueueTimestamps::kSchedstat;
  skeleton->rodata->use_sched_info = schedstat ? 1 : 0;
  // With schedstat timestamps the wakeup hooks would only cost time.
  bpf_program__set_autoload(skeleton->progs.sched_wakeup, !schedstat);
  bpf_program__set_autoload(skeleton->progs.sched_wakeup_new, !schedstat);
  if (int err = sched_bpf__load(skeleton.get())) return errno_error("loading the sched BPF programs", err);
  return skeleton;
}

}  // namespace

bool SchedProbe::kernel_has_schedstat_timestamps() {
  // Each lookup parses the whole vmlinux BTF (milliseconds); the kernel does not change under us.
  static const bool available =
      kernel_struct_has_member("task_struct", "sched_info") && kernel_struct_has_member("cfs_rq", "rq");
  return available;
}

ProbeRequirements SchedProbe::requirements() {
  if (kernel_has_schedstat_timestamps()) {
    return {.probe = "sched",
            .btf_tracepoints = {"sched_switch", "sched_process_exec", "sched_process_exit"},
            .tracepoints = {},
            .ring_buffer = true,
            .task_storage = false};
  }
  return {.probe = "sched",
          .btf_tracepoints = {"sched_wakeup", "sched_wakeup_new", "sched_switch", "sched_process_exec",
                              "sched_process_exit"},
          .tracepoints = {},
          .ring_buffer = true,
          .task_storage = true};
}

Result<void> SchedProbe::verify_load(const Options& options) {
  auto path = resolve_queue_timestamps(options.queue_timestamps);
  if (!path) return path.error();
  auto skeleton = open_and_load(options, *path);
  if (!skeleton) return skeleton.error();
  return ok();
}

Result<std::unique_ptr<SchedProbe>> SchedProbe::start(const Options& options, EventHandler handler) {
  auto path = resolve_queue_timestamps(options.queue_timestamps);
  if (!path) return path.error();
  auto skeleton = open_and_load(options, *path);
  if (!skeleton) return skeleton.error();
  auto impl = std::make_unique<Impl>();
  impl->queue_timestamps = *path;
  impl->dispatcher.set_handler(std::move(handler));
  impl->target_count = options.target_count;
  impl->skeleton = std::move(*skeleton);
  sched_bpf* skel = impl->skeleton.get();
  if (int err = sched_bpf__attach(skel)) return errno_error("attaching the sched BPF programs", err);

  auto ring = RingBuffer::open(skel->maps.sched_events, &EventDispatcher<SchedEvent>::on_record, &impl->dispatcher);
  if (!ring) return ring.error();
  impl->events.emplace(std::move(*ring));
  return std::unique_ptr<SchedProbe>(new SchedProbe(std::move(impl)));
}

SchedProbe::SchedProbe(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SchedProbe::~SchedProbe() = default;

Result<void> SchedProbe::add_target(pid_t tgid, size_t target_index) {
  if (target_index >= impl_->target_count) return Error{"target index out of range"};
  const auto key = static_cast<uint32_t>(tgid);
  const uint32_t slot = target_slot(target_index);
  if (int err = bpf_map__update_elem(impl_->skeleton->maps.targets, &key, sizeof(key), &slot, sizeof(slot), BPF_ANY)) {
    return errno_error("adding pid " + std::to_string(tgid) + " to the sched targets map", err);
  }
  invalidate_target_cache();
  return ok();
}

Result<void> SchedProbe::remove_target(pid_t tgid) {
  const auto key = static_cast<uint32_t>(tgid);
  const int err = bpf_map__delete_elem(impl_->skeleton->maps.targets, &key, sizeof(key), 0);
  // The kernel side already prunes exited targets, so "not there" is fine.
  if (err && err != -ENOENT) return errno_error("removing pid " + std::to_string(tgid) + " from the sched targets", err);
  invalidate_target_cache();
  return ok();
}

Result<SchedReading> SchedProbe::read() {
  sched_bpf* skel = impl_->skeleton.get();
  // Close the current window first so every wait recorded under it is in what we read.
  const uint64_t window = skel->bss->window_epoch;
  skel->bss->window_epoch = window + 1;

  SchedReading reading;
  auto node = read_percpu<np_runq_stats>(skel->maps.runq_stats, NP_SCHED_NODE_SLOT);
  if (!node) return node.error();
  reading.node = sum_runq(*node, window);
  for (size_t i = 0; i < impl_->target_count; ++i) {
    auto target = read_percpu<np_runq_stats>(skel->maps.runq_stats, target_slot(i));
    if (!target) return target.error();
    reading.targets.push_back(sum_runq(*target, window));
  }
  auto drops = read_percpu<np_sched_drops>(skel->maps.sched_drops, 0);
  if (!drops) return drops.error();
  for (const np_sched_drops& cpu : *drops) {
    reading.dropped_events += cpu.ringbuf_full;
    reading.unmeasured_waits += cpu.task_storage;
  }
  return reading;
}

void SchedProbe::invalidate_target_cache() {
  __atomic_fetch_add(&impl_->skeleton->data->targets_generation, 1, __ATOMIC_SEQ_CST);
}

SchedProbe::QueueTimestamps SchedProbe::queue_timestamps() const { return impl_->queue_timestamps; }

int SchedProbe::event_fd() const { return impl_->events->epoll_fd(); }

int SchedProbe::consume_events() { return impl_->events->consume(); }

std::vector<ProgramStats> SchedProbe::program_stats() const {
  return nodepulse::program_stats(impl_->skeleton->obj);
}

}  // namespace nodepulse
