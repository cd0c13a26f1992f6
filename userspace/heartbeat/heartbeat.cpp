#include "heartbeat/heartbeat.h"

#include <nlohmann/json.hpp>

namespace nodepulse {

std::string join_reasons(const std::vector<std::string>& reasons) {
  std::string joined;
  for (const std::string& reason : reasons) {
    if (reason.empty()) continue;
    if (!joined.empty()) joined += "; ";
    joined += reason;
  }
  return joined;
}

std::string to_json(const Heartbeat& heartbeat) {
  nlohmann::json signals = nlohmann::json::object();
  for (const SignalVerdict& signal : heartbeat.verdict.signals) {
    signals[signal.signal] = {{"state", to_string(signal.state)}, {"reason", signal.reason}};
  }
  nlohmann::json json = {
      {"node_id", heartbeat.node.node_id},
      {"cluster", heartbeat.node.cluster},
      {"role", heartbeat.node.role},
      {"host", heartbeat.node.host},
      {"state", to_string(heartbeat.verdict.state)},
      {"weight", heartbeat.verdict.weight},
      {"reasons", heartbeat.verdict.reasons},
      {"signals", signals},
      {"seq", heartbeat.seq},
      {"ts_ms", heartbeat.ts_ms},
      {"version", heartbeat.node.version},
      {"http_port", heartbeat.node.http_port},
  };
  if (heartbeat.drain) {
    const DrainStatus& drain = *heartbeat.drain;
    json["trino_drain"] = {{"state", drain.state},   {"trino_state", drain.trino_state}, {"slot", drain.slot},
                           {"reason", drain.reason}, {"error", drain.error}};
  }
  return json.dump();
}

}  // namespace nodepulse
