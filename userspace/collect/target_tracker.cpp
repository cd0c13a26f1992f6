#include "collect/target_tracker.h"

#include <algorithm>
#include <set>

namespace nodepulse {

TargetTracker::TargetTracker(TargetMatcher matcher, TargetListener& listener)
    : matcher_(std::move(matcher)), listener_(listener) {}

void TargetTracker::rescan() {
  std::set<pid_t> seen;
  for (const TargetProcess& process : matcher_.scan()) {
    seen.insert(process.tgid);
    auto it = live_.find(process.tgid);
    if (it != live_.end() && it->second.target_index != process.target_index) remove(process.tgid);
    if (!live_.contains(process.tgid)) add(process);
  }
  std::vector<pid_t> gone;
  for (const auto& [tgid, _] : live_) {
    if (!seen.contains(tgid)) gone.push_back(tgid);
  }
  for (pid_t tgid : gone) remove(tgid);
}

void TargetTracker::on_exec(pid_t tgid) {
  const auto process = matcher_.match(tgid);
  auto it = live_.find(tgid);
  if (it != live_.end() && (!process || it->second.target_index != process->target_index)) remove(tgid);
  if (process && !live_.contains(tgid)) add(*process);
}

void TargetTracker::on_exit(pid_t tgid) { remove(tgid); }

size_t TargetTracker::live_count(uint32_t target_index) const {
  return static_cast<size_t>(std::count_if(live_.begin(), live_.end(), [&](const auto& entry) {
    return entry.second.target_index == target_index;
  }));
}

void TargetTracker::add(const TargetProcess& process) {
  live_.emplace(process.tgid, process);
  listener_.target_started(process);
}

void TargetTracker::remove(pid_t tgid) {
  auto it = live_.find(tgid);
  if (it == live_.end()) return;
  const TargetProcess process = it->second;
  live_.erase(it);
  listener_.target_exited(process);
}

}  // namespace nodepulse
