#include "balancer/coordinator_watch.h"

#include <spdlog/spdlog.h>

namespace nodepulse {

std::vector<WatchedNode> watched_nodes(const std::vector<Member>& members,
                                       const std::vector<BalancerServerSpec>& servers) {
  std::map<std::string, std::string> configured;
  for (const BalancerServerSpec& server : servers) configured[server.node_id] = server.address;
  std::vector<WatchedNode> nodes;
  for (const Member& member : members) {
    const auto address = configured.find(member.node_id);
    nodes.push_back({.node_id = member.node_id,
                     .role = member.report ? member.report->role : "",
                     .state = member.state,
                     .drain_state = member.report && member.report->drain ? member.report->drain->state : "",
                     .addresses = node_addresses(member.report, address == configured.end() ? "" : address->second)});
  }
  return nodes;
}

CoordinatorWatch::CoordinatorWatch(CoordinatorWatchOptions options, TrinoViewMetrics& metrics)
    : options_(std::move(options)), metrics_(metrics), thread_([this] { run(); }) {}

CoordinatorWatch::~CoordinatorWatch() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void CoordinatorWatch::update_members(const std::vector<Member>& members) {
  {
    std::lock_guard lock(mutex_);
    fresh_members_ = members;
  }
  wake_.notify_all();
}

void CoordinatorWatch::run() {
  auto next_poll = std::chrono::steady_clock::now();
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, next_poll, [this] { return stopping_ || fresh_members_.has_value(); });
      if (stopping_) return;
      if (fresh_members_) {
        members_ = std::move(*fresh_members_);
        fresh_members_.reset();
      }
    }
    if (std::chrono::steady_clock::now() >= next_poll) {
      poll();
      next_poll = std::chrono::steady_clock::now() + options_.interval;
    }
    publish();
  }
}

void CoordinatorWatch::poll() {
  Result<CoordinatorNodes> answer = options_.fetch();
  if (answer.ok()) {
    answer_ = std::move(answer).value();
    if (answered_logged_ != true) {
      spdlog::info("balancer: trino coordinator {} answers: {} nodes listed, {} failed", options_.url,
                   answer_->listed.size(), answer_->failed.size());
    }
    answered_logged_ = true;
    return;
  }
  answer_.reset();
  if (answered_logged_ != false) {
    spdlog::warn("balancer: trino coordinator {} does not answer ({}); its view is unknown until it does", options_.url,
                 answer.error().message);
  }
  answered_logged_ = false;
}

void CoordinatorWatch::publish() {
  const TrinoView view = join_trino_view(watched_nodes(members_, options_.servers), answer_, options_.resolve);
  metrics_.set(answer_.has_value(), view);
  if (!answer_) return;  // unknown is no agreement: the last disagreements stay logged as they were
  std::map<std::string, std::string> now;
  for (const TrinoNodeView& node : view.nodes) {
    if (!node.disagreement.empty()) now[node.node_id] = node.disagreement;
  }
  for (const UnmatchedEntry& entry : view.unmatched) {
    if (!entry.disagreement.empty()) now[entry.uri] = entry.disagreement;
  }
  for (const auto& [who, why] : now) {
    auto before = logged_disagreements_.find(who);
    if (before == logged_disagreements_.end() || before->second != why) {
      spdlog::warn("balancer: trino disagrees about {}: {}", who, why);
    }
  }
  for (const auto& [who, why] : logged_disagreements_) {
    if (!now.contains(who)) spdlog::info("balancer: trino and nodepulse agree about {} again", who);
  }
  logged_disagreements_ = std::move(now);
}

}  // namespace nodepulse
