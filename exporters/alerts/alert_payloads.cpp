#include "alerts/alert_payloads.h"

#include <time.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace nodepulse {
namespace {

constexpr std::array kAlertNames = {kAlertNodeFailing, kAlertNodeDegraded};

// The alert a known state fires; unknown fires nothing new (see AlertmanagerTracker).
const char* alert_for(HealthState state) {
  switch (state) {
    case HealthState::kFailing: return kAlertNodeFailing;
    case HealthState::kDegraded: return kAlertNodeDegraded;
    default: return nullptr;
  }
}

}  // namespace

std::string webhook_json(const Heartbeat& heartbeat) {
  nlohmann::json json = nlohmann::json::parse(to_json(heartbeat));
  json["old_state"] = std::string(to_string(heartbeat.previous_state));
  return json.dump();
}

std::vector<std::string> hook_environment(const Heartbeat& heartbeat) {
  return {
      "NODEPULSE_NODE_ID=" + heartbeat.node.node_id,
      "NODEPULSE_CLUSTER=" + heartbeat.node.cluster,
      "NODEPULSE_ROLE=" + heartbeat.node.role,
      "NODEPULSE_HOST=" + heartbeat.node.host,
      "NODEPULSE_OLD_STATE=" + std::string(to_string(heartbeat.previous_state)),
      "NODEPULSE_NEW_STATE=" + std::string(to_string(heartbeat.verdict.state)),
      "NODEPULSE_REASONS=" + join_reasons(heartbeat.verdict.reasons),
      "NODEPULSE_WEIGHT=" + std::to_string(heartbeat.verdict.weight),
      "NODEPULSE_SEQ=" + std::to_string(heartbeat.seq),
      "NODEPULSE_TS_MS=" + std::to_string(heartbeat.ts_ms),
      "NODEPULSE_HEARTBEAT=" + webhook_json(heartbeat),
  };
}

std::string rfc3339_utc(uint64_t ms_since_epoch) {
  const time_t seconds = static_cast<time_t>(ms_since_epoch / 1000);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char text[96];  // room for any int the format could print, which the compiler checks
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<unsigned>(ms_since_epoch % 1000));
  return text;
}

std::string alertmanager_payload(const Heartbeat& heartbeat, const std::vector<AlertmanagerAlert>& alerts) {
  const std::string reasons = join_reasons(heartbeat.verdict.reasons);
  const std::string state(to_string(heartbeat.verdict.state));
  nlohmann::json body = nlohmann::json::array();
  for (const AlertmanagerAlert& alert : alerts) {
    const bool failing = alert.alertname == kAlertNodeFailing;
    std::string summary = "nodepulse: node " + heartbeat.node.node_id + " of cluster " + heartbeat.node.cluster +
                          " is " + state;
    if (!reasons.empty()) summary += ": " + reasons;
    body.push_back({
        {"labels",
         {{"alertname", alert.alertname},
          {"node", heartbeat.node.node_id},
          {"cluster", heartbeat.node.cluster},
          {"severity", failing ? "critical" : "warning"}}},
        {"annotations",
         {{"summary", summary},
          {"reasons", reasons},
          {"state", state},
          {"weight", std::to_string(heartbeat.verdict.weight)},
          {"role", heartbeat.node.role},
          {"host", heartbeat.node.host}}},
        {"startsAt", rfc3339_utc(alert.starts_ms)},
        {"endsAt", rfc3339_utc(alert.ends_ms)},
    });
  }
  return body.dump();
}

AlertmanagerTracker::Plan AlertmanagerTracker::plan(const Heartbeat& heartbeat, uint64_t now_ms) const {
  Plan plan;
  const HealthState state = heartbeat.verdict.state;
  if (state == HealthState::kUnknown) {
    plan.firing = firing_;
  } else if (const char* name = alert_for(state)) {
    const auto existing = firing_.find(name);
    const uint64_t since = heartbeat.verdict.since_ms != 0 ? heartbeat.verdict.since_ms : now_ms;
    plan.firing[name] = existing != firing_.end() ? existing->second : since;
  }

  const bool first_known = !saw_known_state_ && state != HealthState::kUnknown;
  const bool changed = plan.firing != firing_;
  const uint64_t resend_ms = static_cast<uint64_t>(resend_interval_.count());
  const bool resend_due = !plan.firing.empty() && now_ms >= last_post_ms_ + resend_ms;
  if (!first_known && !changed && !resend_due) return plan;

  for (const auto& [name, starts_ms] : plan.firing) {
    plan.alerts.push_back({name, starts_ms, now_ms + 4 * resend_ms, false});
  }
  for (const char* name : kAlertNames) {
    if (plan.firing.contains(name)) continue;
    const auto was = firing_.find(name);
    if (was != firing_.end()) {
      plan.alerts.push_back({name, was->second, now_ms, true});
    } else if (first_known) {
      plan.alerts.push_back({name, now_ms, now_ms, true});
    }
  }
  return plan;
}

void AlertmanagerTracker::commit(const Plan& plan, uint64_t now_ms) {
  firing_ = plan.firing;
  if (!plan.alerts.empty()) last_post_ms_ = now_ms;
  if (!saw_known_state_ && !plan.alerts.empty()) saw_known_state_ = true;
}

}  // namespace nodepulse
