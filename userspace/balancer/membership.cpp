#include "balancer/membership.h"

#include <algorithm>

namespace nodepulse {

std::string_view to_string(MemberState state) {
  switch (state) {
    case MemberState::kHealthy: return "healthy";
    case MemberState::kDegraded: return "degraded";
    case MemberState::kFailing: return "failing";
    case MemberState::kUnknown: return "unknown";
    case MemberState::kDown: return "down";
  }
  return "unknown";
}

void Membership::set_present(const std::vector<std::string>& node_ids, int64_t now_ms) {
  const std::set<std::string> present(node_ids.begin(), node_ids.end());
  for (auto& [node_id, entry] : nodes_) {
    const bool now_present = present.contains(node_id);
    if (entry.present && !now_present) entry.vanished_ms = now_ms;
    if (entry.present != now_present) ++version_;
    entry.present = now_present;
  }
  for (const std::string& node_id : present) {
    if (nodes_.contains(node_id)) continue;
    nodes_[node_id].present = true;
    ++version_;
  }
}

void Membership::set_failing(const std::vector<std::string>& node_ids, int64_t now_ms) {
  const std::set<std::string> failing(node_ids.begin(), node_ids.end());
  for (auto& [node_id, entry] : nodes_) {
    const bool now_failing = failing.contains(node_id);
    if (entry.failing != now_failing) ++version_;
    entry.failing = now_failing;
  }
  for (const std::string& node_id : failing) {
    // A failing/ znode of a node not (yet) in nodes/: known, and failing; down after the grace.
    if (nodes_.contains(node_id)) continue;
    ++version_;
    Entry& entry = nodes_[node_id];
    entry.failing = true;
    entry.vanished_ms = now_ms;
  }
}

void Membership::set_report(const std::string& node_id, NodeReport report) {
  Entry& entry = nodes_[node_id];
  // What a decision and the Trino view read; seq, ts_ms and the reasons' wording change with
  // every heartbeat.
  const bool same = entry.report && entry.invalid.empty() && entry.report->state == report.state &&
                    entry.report->weight == report.weight && entry.report->host == report.host &&
                    entry.report->http_port == report.http_port && entry.report->role == report.role &&
                    entry.report->drain == report.drain;
  if (!same) ++version_;
  entry.report = std::move(report);
  entry.invalid.clear();
}

void Membership::set_invalid(const std::string& node_id, std::string why) {
  Entry& entry = nodes_[node_id];
  if (entry.invalid != why) ++version_;
  entry.invalid = std::move(why);
}

void Membership::expect(const std::string& node_id, int64_t now_ms) {
  if (nodes_.contains(node_id)) return;
  nodes_[node_id].vanished_ms = now_ms;
  ++version_;
}

Member Membership::describe(const std::string& node_id, const Entry& entry, int64_t now_ms) const {
  Member member;
  member.node_id = node_id;
  member.report = entry.report;
  if (!entry.present && now_ms - entry.vanished_ms >= down_after_ms_) {
    member.state = MemberState::kDown;
    member.reasons = {"no heartbeat znode for " + std::to_string(now_ms - entry.vanished_ms) + " ms"};
    return member;
  }
  if (entry.failing) {
    member.state = MemberState::kFailing;
    if (entry.report) member.reasons = entry.report->reasons;
    if (member.reasons.empty()) member.reasons = {"failing/" + node_id + " exists"};
    return member;
  }
  if (!entry.invalid.empty()) {
    member.state = MemberState::kUnknown;
    member.reasons = {"invalid heartbeat: " + entry.invalid};
    return member;
  }
  if (!entry.report) {
    member.state = MemberState::kUnknown;
    member.reasons = {"no heartbeat read yet"};
    return member;
  }
  member.reasons = entry.report->reasons;
  switch (entry.report->state) {
    case HealthState::kHealthy: member.state = MemberState::kHealthy; break;
    case HealthState::kDegraded: member.state = MemberState::kDegraded; break;
    case HealthState::kFailing: member.state = MemberState::kFailing; break;
    case HealthState::kUnknown: member.state = MemberState::kUnknown; break;
  }
  if (member.state == MemberState::kHealthy || member.state == MemberState::kDegraded) {
    member.weight = entry.report->weight;
  }
  return member;
}

std::vector<Member> Membership::members(int64_t now_ms) const {
  std::vector<Member> members;
  members.reserve(nodes_.size());
  for (const auto& [node_id, entry] : nodes_) members.push_back(describe(node_id, entry, now_ms));
  return members;
}

std::optional<int64_t> Membership::next_change_ms(int64_t now_ms) const {
  std::optional<int64_t> next;
  for (const auto& [node_id, entry] : nodes_) {
    if (entry.present) continue;
    const int64_t down_at = entry.vanished_ms + down_after_ms_;
    if (down_at > now_ms && (!next || down_at < *next)) next = down_at;
  }
  return next;
}

}  // namespace nodepulse
