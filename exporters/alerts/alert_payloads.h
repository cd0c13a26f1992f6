// What the alert hooks send, as pure functions of a heartbeat (unit-tested without processes
// or sockets): the exec hook's environment, the webhook's JSON, Alertmanager's alerts and the
// bookkeeping that decides when to fire, re-send and resolve them.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "heartbeat/heartbeat.h"

namespace nodepulse {

// "NAME=VALUE" entries an exec hook gets on top of the agent's environment:
//   NODEPULSE_NODE_ID, NODEPULSE_CLUSTER, NODEPULSE_ROLE, NODEPULSE_HOST,
//   NODEPULSE_OLD_STATE, NODEPULSE_NEW_STATE   healthy | degraded | failing | unknown
//   NODEPULSE_REASONS   the reasons joined with "; "
//   NODEPULSE_WEIGHT    0-100
//   NODEPULSE_SEQ, NODEPULSE_TS_MS
//   NODEPULSE_HEARTBEAT the webhook JSON below
std::vector<std::string> hook_environment(const Heartbeat& heartbeat);

// The heartbeat JSON (docs/design.md payload) plus "old_state".
std::string webhook_json(const Heartbeat& heartbeat);

inline constexpr const char* kAlertNodeFailing = "NodepulseNodeFailing";
inline constexpr const char* kAlertNodeDegraded = "NodepulseNodeDegraded";

struct AlertmanagerAlert {
  std::string alertname;  // kAlertNodeFailing | kAlertNodeDegraded
  uint64_t starts_ms = 0;
  uint64_t ends_ms = 0;   // firing: when it lapses unless re-sent; resolved: the resolution time
  bool resolved = false;
};

// "2024-05-01T12:34:56.789Z"
std::string rfc3339_utc(uint64_t ms_since_epoch);

// The body of POST /api/v2/alerts: one object per alert with labels {alertname, node, cluster,
// severity}, annotations {summary, reasons, weight, state, role, host}, startsAt and endsAt.
std::string alertmanager_payload(const Heartbeat& heartbeat, const std::vector<AlertmanagerAlert>& alerts);

// Which alerts to post, like Prometheus does it: a firing alert is re-sent every
// `resend_interval` with endsAt = now + 4 × resend_interval (so the alert of an agent that died
// lapses by itself), and resolved by an explicit endsAt = now when the node recovers.
//   failing  → NodepulseNodeFailing fires (NodepulseNodeDegraded resolves)
//   degraded → NodepulseNodeDegraded fires (NodepulseNodeFailing resolves)
//   healthy  → both resolve
//   unknown  → no change: what fires keeps firing, as nothing says the node recovered
// The first known state also resolves what it does not fire, clearing alerts left firing by an
// agent that was restarted.
class AlertmanagerTracker {
 public:
  explicit AlertmanagerTracker(std::chrono::milliseconds resend_interval) : resend_interval_(resend_interval) {}

  struct Plan {
    std::vector<AlertmanagerAlert> alerts;      // empty: nothing to post
    std::map<std::string, uint64_t> firing;     // alertname → startsAt once the post succeeds
  };

  Plan plan(const Heartbeat& heartbeat, uint64_t now_ms) const;
  // Records a successful post. A failed one is not committed, so the next heartbeat plans it again.
  void commit(const Plan& plan, uint64_t now_ms);

  const std::map<std::string, uint64_t>& firing() const { return firing_; }

 private:
  std::chrono::milliseconds resend_interval_;
  std::map<std::string, uint64_t> firing_;
  bool saw_known_state_ = false;
  uint64_t last_post_ms_ = 0;
};

}  // namespace nodepulse
