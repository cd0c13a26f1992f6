#include "probes/sched_probe.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "probes/bpf_util.h"
#include "probes/sched_decode.h"
#include "sched.skel.h"

namespace nodepulse {

using SchedSkeleton = SkeletonPtr<sched_bpf, sched_bpf__destroy>;

struct SchedProbe::Impl {
  SchedSkeleton skeleton;
  QueueTimestamps queue_timestamps = QueueTimestamps::kWakeup;
  AttachPath attach = AttachPath::kTpBtf;
  EventTransport transport = EventTransport::kRingBuffer;
  ProbePlan plan;
  // Declared before the event stream that points to it, so it outlives the stream.
  EventDispatcher<SchedEvent> dispatcher{"sched", decode_sched_event};
  std::optional<EventStream> events;
  size_t target_count = 0;
};

namespace {

struct Choice {
  PathChoice<AttachPath> attach;
  PathChoice<EventTransport> events;
  SchedProbe::QueueTimestamps queue;
  std::string queue_reason;
};

Result<Choice> choose(const SchedProbe::Options& options) {
  using QueueTimestamps = SchedProbe::QueueTimestamps;
  const KernelSupport& kernel = options.kernel ? *options.kernel : KernelSupport::detect();
  auto attach = choose_attach_path(options.paths.attach, kernel);
  if (!attach) return attach.error();
  auto events = choose_event_transport(options.paths.events, kernel);
  if (!events) return events.error();
  Choice choice{*attach, *events, QueueTimestamps::kWakeup, ""};
  const bool available = SchedProbe::kernel_has_schedstat_timestamps();
  // The classic sched_switch record names next by pid only: its task_struct, and so its
  // schedstat timestamp, is out of reach.
  const bool reachable = attach->path != AttachPath::kTracepoint;
  switch (options.queue_timestamps) {
    case QueueTimestamps::kAuto:
      if (available && reachable) {
        choice.queue = QueueTimestamps::kSchedstat;
        choice.queue_reason = "schedstat: the kernel stamps queueing itself";
      } else {
        choice.queue_reason = !reachable ? "wakeup hooks: classic tracepoints pass no task to read schedstat from"
                                         : "wakeup hooks: no schedstat timestamps (CONFIG_SCHED_INFO) in this kernel";
      }
      break;
    case QueueTimestamps::kSchedstat:
      if (!available) {
        return Error{"sched.queue_timestamps=schedstat, but this kernel has no task_struct.sched_info "
                     "(CONFIG_SCHED_INFO) or cfs_rq.rq; use auto or wakeup"};
      }
      if (!reachable) {
        return Error{"sched.queue_timestamps=schedstat needs task pointers, which probes.attach=tracepoint "
                     "(classic tracepoints) does not have; use auto or wakeup"};
      }
      choice.queue = QueueTimestamps::kSchedstat;
      choice.queue_reason = "schedstat: forced by sched.queue_timestamps";
      break;
    case QueueTimestamps::kWakeup: choice.queue_reason = "wakeup hooks: forced by sched.queue_timestamps"; break;
  }
  return choice;
}

ProbePlan plan_of(const Choice& choice) {
  ProbePlan plan{.attach = attach_path_name(choice.attach.path),
                 .attach_reason = choice.attach.reason + "; queue timestamps from " + choice.queue_reason,
                 .events = event_transport_name(choice.events.path),
                 .events_reason = choice.events.reason,
                 .degraded = {}};
  if (choice.attach.path == AttachPath::kTracepoint) {
    plan.degraded.push_back(
        "classic tracepoints: a thread's waits count for its target only once it has been seen going to sleep "
        "(sched_switch names the next task by pid); until then they count for the node only");
  }
  return plan;
}

void choose_programs(sched_bpf* skel, const Choice& choice) {
  const bool wakeup_hooks = choice.queue == SchedProbe::QueueTimestamps::kWakeup;
  const auto load = [](bpf_program* program, bool on) { bpf_program__set_autoload(program, on); };
  const bool btf = choice.attach.path == AttachPath::kTpBtf;
  const bool raw = choice.attach.path == AttachPath::kRawTp;
  const bool classic = choice.attach.path == AttachPath::kTracepoint;
  load(skel->progs.sched_wakeup, btf && wakeup_hooks);
  load(skel->progs.sched_wakeup_new, btf && wakeup_hooks);
  load(skel->progs.sched_switch, btf);
  load(skel->progs.sched_process_exec, btf);
  load(skel->progs.sched_process_exit, btf);
  load(skel->progs.raw_sched_wakeup, raw && wakeup_hooks);
  load(skel->progs.raw_sched_wakeup_new, raw && wakeup_hooks);
  load(skel->progs.raw_sched_switch, raw);
  load(skel->progs.raw_sched_exec, raw);
  load(skel->progs.raw_sched_exit, raw);
  load(skel->progs.tp_sched_wakeup, classic);
  load(skel->progs.tp_sched_wakeup_new, classic);
  load(skel->progs.tp_sched_switch, classic);
  load(skel->progs.tp_sched_exec, classic);
  load(skel->progs.tp_sched_exit, classic);
}

Result<SchedSkeleton> open_and_load(const SchedProbe::Options& options, const Choice& choice) {
  if (options.target_count > NP_SCHED_MAX_TARGETS) {
    return Error{"the sched probe supports at most " + std::to_string(NP_SCHED_MAX_TARGETS) + " targets"};
  }
  SchedSkeleton skeleton(sched_bpf__open());
  if (!skeleton) return errno_error("opening the sched BPF object", errno);
  if (skeleton->rodata->abi_version != NP_SCHED_ABI_VERSION) {
    return Error{"sched BPF object has ABI version " + std::to_string(skeleton->rodata->abi_version) +
                 ", this agent expects " + std::to_string(NP_SCHED_ABI_VERSION) + " (stale build?)"};
  }
  sched_bpf* skel = skeleton.get();
  skel->rodata->stall_threshold_ns = options.stall_threshold_ns;
  const bool schedstat = choice.queue == SchedProbe::QueueTimestamps::kSchedstat;
  skel->rodata->use_sched_info = schedstat ? 1 : 0;
  skel->rodata->events_use_perf_buffer = choice.events.path == EventTransport::kPerfBuffer ? 1 : 0;
  const KernelSupport& kernel = options.kernel ? *options.kernel : KernelSupport::detect();
  skel->rodata->has_probe_read_kernel = kernel.probe_read_kernel ? 1 : 0;
  choose_programs(skel, choice);
  // Per-task state: task storage on the tp_btf path (kernels without it never get there), a
  // pid-keyed hash elsewhere; the one not used is not created, or shrunk to one entry.
  const bool btf = choice.attach.path == AttachPath::kTpBtf;
  if (int err = bpf_map__set_autocreate(skel->maps.runnable_since, btf)) {
    return errno_error("configuring the sched task storage", err);
  }
  if (btf || schedstat) {
    if (int err = bpf_map__set_max_entries(skel->maps.runnable_since_pid, 1)) {
      return errno_error("shrinking the unused sched pid map", err);
    }
  }
  if (auto prepared = EventStream::prepare(skel->maps.sched_events, skel->maps.sched_events_perf, choice.events.path);
      !prepared) {
    return prepared.error();
  }
  if (int err = sched_bpf__load(skel)) return errno_error("loading the sched BPF programs", err);
  return skeleton;
}

}  // namespace

bool SchedProbe::kernel_has_schedstat_timestamps() {
  // Each lookup parses the whole vmlinux BTF (milliseconds); the kernel does not change under us.
  static const bool available =
      kernel_struct_has_member("task_struct", "sched_info") && kernel_struct_has_member("cfs_rq", "rq");
  return available;
}

Result<ProbePlan> SchedProbe::plan(const Options& options) {
  auto choice = choose(options);
  if (!choice) return choice.error();
  return plan_of(*choice);
}

ProbeRequirements SchedProbe::requirements(const Options& options) {
  auto choice = choose(options);
  ProbeRequirements requirements;
  requirements.probe = "sched";
  if (!choice) return requirements;  // `check` reports the plan's error
  std::vector<std::string> hooks = {"sched_switch", "sched_process_exec", "sched_process_exit"};
  if (choice->queue == QueueTimestamps::kWakeup) {
    hooks.insert(hooks.begin(), {"sched_wakeup", "sched_wakeup_new"});
  }
  switch (choice->attach.path) {
    case AttachPath::kTpBtf:
      requirements.btf_tracepoints = hooks;
      requirements.task_storage = choice->queue == QueueTimestamps::kWakeup;
      break;
    case AttachPath::kRawTp: requirements.raw_tracepoints = hooks; break;
    case AttachPath::kTracepoint:
      for (const std::string& hook : hooks) requirements.tracepoints.push_back("sched/" + hook);
      break;
  }
  requirements.ring_buffer = choice->events.path == EventTransport::kRingBuffer;
  requirements.perf_buffer = choice->events.path == EventTransport::kPerfBuffer;
  return requirements;
}

Result<void> SchedProbe::verify_load(const Options& options) {
  auto choice = choose(options);
  if (!choice) return choice.error();
  auto skeleton = open_and_load(options, *choice);
  if (!skeleton) return skeleton.error();
  return ok();
}

Result<std::unique_ptr<SchedProbe>> SchedProbe::start(const Options& options, EventHandler handler) {
  auto choice = choose(options);
  if (!choice) return choice.error();
  auto skeleton = open_and_load(options, *choice);
  if (!skeleton) return skeleton.error();
  auto impl = std::make_unique<Impl>();
  impl->queue_timestamps = choice->queue;
  impl->attach = choice->attach.path;
  impl->transport = choice->events.path;
  impl->plan = plan_of(*choice);
  impl->dispatcher.set_handler(std::move(handler));
  impl->target_count = options.target_count;
  impl->skeleton = std::move(*skeleton);
  sched_bpf* skel = impl->skeleton.get();
  // The stream first: until a perf buffer is open on a CPU, output there fails (and would
  // count as a drop).
  auto events = EventStream::open(impl->transport, {skel->maps.sched_events, skel->maps.sched_events_perf},
                                  {sizeof(np_sched_event), options.perf_pages_per_cpu},
                                  &EventDispatcher<SchedEvent>::on_record, &impl->dispatcher);
  if (!events) return events.error();
  impl->events.emplace(std::move(*events));
  if (int err = sched_bpf__attach(skel)) return errno_error("attaching the sched BPF programs", err);
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
  // A full perf buffer shows twice: the program's failed output (counted above) and the
  // kernel's lost-record report. The larger is the truth so far; the sum would double count.
  reading.dropped_events = std::max<uint64_t>(reading.dropped_events, impl_->events->lost());
  return reading;
}

void SchedProbe::invalidate_target_cache() {
  __atomic_fetch_add(&impl_->skeleton->data->targets_generation, 1, __ATOMIC_SEQ_CST);
}

SchedProbe::QueueTimestamps SchedProbe::queue_timestamps() const { return impl_->queue_timestamps; }

AttachPath SchedProbe::attach_path() const { return impl_->attach; }

EventTransport SchedProbe::event_transport() const { return impl_->transport; }

const ProbePlan& SchedProbe::paths() const { return impl_->plan; }

int SchedProbe::event_fd() const { return impl_->events->epoll_fd(); }

int SchedProbe::consume_events() { return impl_->events->consume(); }

std::vector<ProgramStats> SchedProbe::program_stats() const {
  return nodepulse::program_stats(impl_->skeleton->obj);
}

}  // namespace nodepulse
