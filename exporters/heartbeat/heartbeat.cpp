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
  const nlohmann::json json = {
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
  return json.dump();
}

}  // namespace nodepulse
