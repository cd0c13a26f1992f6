#include "probes/task_state_probe.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "bpf/task_state.h"
#include "probes/bpf_util.h"
#include "task_state.skel.h"

namespace nodepulse {

using TaskStateSkeleton = SkeletonPtr<task_state_bpf, task_state_bpf__destroy>;

struct TaskStateProbe::Impl {
  TaskStateSkeleton skeleton;
  bool walk_every_task = false;
};

TaskStateProbe::TaskStateProbe(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TaskStateProbe::~TaskStateProbe() = default;

Result<std::unique_ptr<TaskStateProbe>> TaskStateProbe::start(Options options) {
  TaskStateSkeleton skeleton(task_state_bpf__open());
  if (!skeleton) return errno_error("opening the task_state BPF object", errno);
  if (skeleton->rodata->abi_version != NP_TASK_STATE_ABI_VERSION) {
    return Error{"task_state BPF object has ABI version " + std::to_string(skeleton->rodata->abi_version) +
                 ", this agent expects " + std::to_string(NP_TASK_STATE_ABI_VERSION) + " (stale build?)"};
  }
  if (int err = task_state_bpf__load(skeleton.get())) {
    return errno_error("loading the task_state BPF program (task iterators need Linux 5.8+)", err);
  }
  auto impl = std::make_unique<Impl>();
  impl->skeleton = std::move(skeleton);
  impl->walk_every_task = options.walk_every_task;
  return std::unique_ptr<TaskStateProbe>(new TaskStateProbe(std::move(impl)));
}

ProbePlan TaskStateProbe::plan() {
  return {.attach = "iter/task",
          .attach_reason = "each target's threads walked once per collection",
          .events = "none",
          .events_reason = "",
          .degraded = {}};
}

Result<void> TaskStateProbe::verify_load() {
  auto probe = start({});
  if (!probe) return probe.error();
  return ok();
}

Result<ThreadStates> TaskStateProbe::read(pid_t tgid) {
  task_state_bpf* skel = impl_->skeleton.get();
  skel->bss->target_tgid = static_cast<__u32>(tgid);
  skel->bss->summary = {};
  union bpf_iter_link_info filter = {};
  filter.task.pid = static_cast<__u32>(tgid);
  LIBBPF_OPTS(bpf_iter_attach_opts, options, .link_info = &filter, .link_info_len = sizeof(filter));
  LinkPtr link(
      bpf_program__attach_iter(skel->progs.summarise_threads, impl_->walk_every_task ? nullptr : &options));
  if (!link && !impl_->walk_every_task && (errno == E2BIG || errno == EINVAL)) {
    // Before 6.1 the link takes no process filter (E2BIG: our link info is longer than the
    // kernel's); from now on walk every task and let the program filter.
    spdlog::info("task_state probe: this kernel walks every task for each target (no task filter before 6.1)");
    impl_->walk_every_task = true;
    link.reset(bpf_program__attach_iter(skel->progs.summarise_threads, nullptr));
  }
  if (!link) return errno_error("attaching the task iterator", -errno);
  UniqueFd walk(bpf_iter_create(bpf_link__fd(link.get())));
  if (!walk.valid()) return errno_error("starting the task walk", walk.get());

  np_task_state summary{};
  size_t got = 0;
  while (got < sizeof(summary)) {
    const ssize_t n = ::read(walk.get(), reinterpret_cast<char*>(&summary) + got, sizeof(summary) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("reading the task walk", -errno);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got != sizeof(summary)) {
    return Error{"task walk of process " + std::to_string(tgid) + " returned " + std::to_string(got) +
                 " bytes, expected " + std::to_string(sizeof(summary))};
  }
  return ThreadStates{.threads = summary.threads,
                      .stopped = summary.stopped,
                      .queued = summary.queued,
                      .longest_queued_ns = summary.longest_queued_ns};
}

std::vector<ProgramStats> TaskStateProbe::program_stats() const {
  return nodepulse::program_stats(impl_->skeleton->obj);
}

}  // namespace nodepulse
