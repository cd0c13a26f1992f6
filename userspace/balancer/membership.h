// The balancer's view of the cluster: which nodes exist, what each last reported, and what that
// means now. Fed from ZooKeeper by the watcher; time is an argument, so the grace period is
// tested without sleeping.
//
// A node's state, in order of precedence:
// - down: its znode has been gone for down_after or longer (its last state holds until then, so
//   an agent re-creating its znode after a session loss does not flap the balancer);
// - failing: it has a failing/<id> znode (the fast signal), or its payload says failing;
// - unknown: its payload could not be read (invalid, or not read yet), or says unknown;
// - healthy / degraded: its payload says so.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "heartbeat/payload.h"

namespace nodepulse {

enum class MemberState : uint8_t { kHealthy, kDegraded, kFailing, kUnknown, kDown };

std::string_view to_string(MemberState state);
inline constexpr MemberState kAllMemberStates[] = {MemberState::kHealthy, MemberState::kDegraded,
                                                   MemberState::kFailing, MemberState::kUnknown, MemberState::kDown};

struct Member {
  std::string node_id;
  MemberState state = MemberState::kUnknown;
  uint8_t weight = 0;                // the reported weight (0 unless healthy or degraded)
  std::vector<std::string> reasons;  // why it is in this state
  std::optional<NodeReport> report;  // the last valid payload, for its host and port
};

class Membership {
 public:
  explicit Membership(int64_t down_after_ms) : down_after_ms_(down_after_ms) {}

  // The children of nodes/ right now. A node missing from them starts its grace period.
  void set_present(const std::vector<std::string>& node_ids, int64_t now_ms);
  // The children of failing/ right now.
  void set_failing(const std::vector<std::string>& node_ids, int64_t now_ms);
  void set_report(const std::string& node_id, NodeReport report);
  // The payload of `node_id` was refused (`why`): the node is unknown until a valid one comes.
  void set_invalid(const std::string& node_id, std::string why);
  // A node that should exist (balancer.servers) but has not been seen: missing since `now_ms`,
  // so it gets the same grace as a vanished one. No effect on a known node.
  void expect(const std::string& node_id, int64_t now_ms);

  // Every node ever seen, sorted by node id.
  std::vector<Member> members(int64_t now_ms) const;
  // The next time a node's state changes by time alone (a grace period ending); nullopt if none.
  std::optional<int64_t> next_change_ms(int64_t now_ms) const;
  bool knows(const std::string& node_id) const { return nodes_.contains(node_id); }
  // Grows with every change that can alter members() other than time passing and the wording of
  // reasons: a heartbeat that only repeats the node's state leaves it alone, so a steady cluster
  // costs no decisions.
  uint64_t version() const { return version_; }

 private:
  struct Entry {
    bool present = false;
    int64_t vanished_ms = 0;  // when it was last seen missing from nodes/
    bool failing = false;
    std::optional<NodeReport> report;  // the last valid payload
    std::string invalid;               // non-empty: the latest payload was refused, why
  };

  Member describe(const std::string& node_id, const Entry& entry, int64_t now_ms) const;

  int64_t down_after_ms_;
  std::map<std::string, Entry> nodes_;
  uint64_t version_ = 0;
};

}  // namespace nodepulse
