// Pressure stall information: parsing and reading the PSI files, finding a process's cgroup
// memory.pressure on cgroup v1/hybrid/v2 layouts, and PSI triggers.
// Pure over the filesystem: every function takes its root (proc_root, cgroup_root), so tests
// run on fixture trees without privileges.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collect/mem_sample.h"
#include "common/result.h"
#include "common/unique_fd.h"

namespace nodepulse {

enum class PsiResource { kCpu, kMemory, kIo };

// "cpu", "memory", "io": the file name under /proc/pressure and the metric label.
const char* psi_resource_name(PsiResource resource);

// Parses the text of a pressure file. Lines other than `some` and `full` are ignored (room for
// future kernels); a `some` or `full` line without a valid avg10/avg60/avg300/total is an
// error, and so is text without a `some` line.
Result<PsiStats> parse_psi(std::string_view text);

// Reads and parses one pressure file. nullopt when PSI is not available there: the file is
// missing (CONFIG_PSI=n, psi=0 on the kernel command line, no such cgroup) or reading it
// fails with EOPNOTSUPP (PSI disabled at run time). Any other failure is an error.
Result<std::optional<PsiStats>> read_psi_file(const std::filesystem::path& file);

// proc_root/pressure/<resource>
std::filesystem::path node_pressure_file(const std::filesystem::path& proc_root, PsiResource resource);

// What /proc/PID/cgroup says. Lines are "hierarchy-id:controllers:path".
struct ProcCgroup {
  std::optional<std::string> unified;  // the "0::/path" line: the cgroup v2 (default hierarchy) path
  std::optional<std::string> memory;   // the path in a v1 hierarchy that has the memory controller
  bool operator==(const ProcCgroup&) const = default;
};
ProcCgroup parse_proc_cgroup(std::string_view text);

// Where the cgroup hierarchies are mounted under cgroup_root (normally /sys/fs/cgroup).
struct CgroupMounts {
  // cgroup v2: cgroup_root itself on pure v2, cgroup_root/unified on the hybrid layout
  // (systemd's, and this project's test machine); nullopt on pure v1.
  std::optional<std::filesystem::path> unified;
  // The v1 memory hierarchy (cgroup_root/memory), nullopt on pure v2.
  std::optional<std::filesystem::path> memory_v1;
  bool operator==(const CgroupMounts&) const = default;
};
// A directory is a v2 hierarchy root when it has cgroup.controllers (v1 roots never do).
CgroupMounts detect_cgroup_mounts(const std::filesystem::path& cgroup_root);

// The memory.pressure file of a process's v2 cgroup. PSI is accounted on the v2 hierarchy
// only, so on the hybrid layout this is the unified cgroup's file even when the memory
// controller (and its limit) lives in v1. nullopt without a v2 hierarchy or "0::" line.
std::optional<std::filesystem::path> memory_pressure_file(const CgroupMounts& mounts, const ProcCgroup& cgroup);

// The path (as /proc/PID/cgroup writes it, "/a/b") of the cgroup whose id is `id` in the
// hierarchy mounted at `hierarchy`: cgroup ids are the kernfs inode numbers of the cgroup
// directories on 64-bit kernels. nullopt when no directory has that id. The walk is bounded
// (depth and entries), so a huge tree cannot stall the caller for long.
std::optional<std::string> find_cgroup_by_id(const std::filesystem::path& hierarchy, uint64_t id);

// Reads proc_root/PID/cgroup; an error when the process is gone or the file unreadable.
Result<ProcCgroup> read_proc_cgroup(const std::filesystem::path& proc_root, pid_t pid);

// Turns successive cumulative readings of one pressure file into deltas. The first reading
// after construction or reset() is the baseline: its deltas are 0 (the totals count since
// boot or since the cgroup was made, not since the agent started).
class PsiDeltaTracker {
 public:
  PsiResourceDelta next(const PsiStats& cumulative);
  void reset() { previous_.reset(); }

 private:
  std::optional<PsiStats> previous_;
};

// A PSI trigger: the kernel marks the fd with POLLPRI when the `some` stall of the file's
// resource reaches stall_us within any window_us. Watch fd() for EPOLLPRI on the event loop;
// epoll's own poll consumes the event, so there is nothing to read.
class PsiTrigger {
 public:
  // Opens `pressure_file` and arms the trigger. Errors say why: PSI unavailable, the window
  // rejected (500 ms-10 s; a multiple of 2 s without CAP_SYS_RESOURCE on kernels >= 6.5), ...
  static Result<PsiTrigger> arm(const std::filesystem::path& pressure_file, uint32_t stall_us, uint32_t window_us);

  int fd() const { return fd_.get(); }
  const std::filesystem::path& file() const { return file_; }

  // Polls the trigger once more, after the event loop saw it ready. `fired` is a further event
  // (poll consumes it, so count it); `broken` means the file is gone for good (its cgroup was
  // removed) or PSI was switched off: the kernel then reports POLLERR on every poll, so the
  // owner must close the trigger or the loop spins.
  struct Status {
    bool fired = false;
    bool broken = false;
  };
  Status poll_status() const;

 private:
  PsiTrigger(UniqueFd fd, std::filesystem::path file) : fd_(std::move(fd)), file_(std::move(file)) {}
  UniqueFd fd_;
  std::filesystem::path file_;
};

// How this kernel evaluates the PSI triggers this process can create.
enum class PsiTriggerMode {
  // On the RT "psimon" poll thread, as the stall happens: kernels before 6.5, and any kernel
  // for a process with CAP_SYS_RESOURCE.
  kPolled,
  // Kernels >= 6.5 without CAP_SYS_RESOURCE: only in the 2 s averaging worker — and every read
  // of the same pressure file (psi_show() advances the averages' next-update time without
  // checking triggers) can make that worker skip them, so a process that reads the file
  // often starves its own triggers. Measured here: reading every 250 ms, no event at all in
  // 8 s of ~100 ms/s stall in about half the runs.
  kAveraged,
};

// Finds the mode by arming a throw-away trigger on `pressure_file` with a 1.5 s window, which
// only kAveraged kernels refuse (EINVAL: not a multiple of 2 s). An error when PSI is not
// available there.
Result<PsiTriggerMode> probe_psi_trigger_mode(const std::filesystem::path& pressure_file);

// The trigger's rule — `some` stall of at least stall_us within window_us, reported at most
// once per window — checked in userspace on successive readings of a pressure file. Used where
// the kernel's own triggers are kAveraged: a reading per collection then reports a stall
// within one collection interval, sooner than the kernel's 2 s worker would.
class PsiStallWindow {
 public:
  PsiStallWindow(uint64_t stall_us, uint64_t window_us) : stall_us_(stall_us), window_us_(window_us) {}

  // Feeds one reading (CLOCK_MONOTONIC µs, the `some` total). True when the stall over the
  // last window (from the newest reading at least a window old, or from the oldest reading
  // while less than a window has been seen) reached stall_us, unless it was already reported
  // less than a window ago.
  bool update(uint64_t now_us, uint64_t total_us);

 private:
  struct Reading {
    uint64_t at_us;
    uint64_t total_us;
  };
  uint64_t stall_us_;
  uint64_t window_us_;
  std::vector<Reading> readings_;  // oldest first; trimmed to one reading before the window
  std::optional<uint64_t> last_event_us_;
};

}  // namespace nodepulse
