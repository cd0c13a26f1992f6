// Keeps the set of live target processes current: a full /proc scan at start and every few
// seconds, plus exec/exit events from the sched probe so a restarted target is picked up at once.
#pragma once

#include <sys/types.h>

#include <map>
#include <vector>

#include "collect/targets.h"

namespace nodepulse {

class TargetListener {
 public:
  virtual ~TargetListener() = default;
  virtual void target_started(const TargetProcess& process) = 0;
  virtual void target_exited(const TargetProcess& process) = 0;
};

class TargetTracker {
 public:
  TargetTracker(TargetMatcher matcher, TargetListener& listener);

  // Adds processes that now match and drops those gone or no longer matching.
  void rescan();
  // A process exec'd: it may have become a target, or stopped being one.
  void on_exec(pid_t tgid);
  // A target's thread group leader exited.
  void on_exit(pid_t tgid);

  const std::map<pid_t, TargetProcess>& live() const { return live_; }
  // How many live processes match Config::targets[index].
  size_t live_count(uint32_t target_index) const;
  const TargetMatcher& matcher() const { return matcher_; }

 private:
  void add(const TargetProcess& process);
  void remove(pid_t tgid);

  TargetMatcher matcher_;
  TargetListener& listener_;
  std::map<pid_t, TargetProcess> live_;
};

}  // namespace nodepulse
