#include "heartbeat/payload.h"

#include <nlohmann/json.hpp>

#include <array>

namespace nodepulse {
namespace {

// A heartbeat nests three levels (signals.NAME.state); anything much deeper is not one, and a
// bound keeps hostile input ("[[[[...") from costing recursion in the JSON library.
constexpr int kMaxDepth = 16;

using Json = nlohmann::json;

Error problem(std::string_view reason, const std::string& detail) {
  return Error{std::string(reason) + ": " + detail};
}

// Nesting depth outside strings, counted before parsing.
bool nesting_within(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

std::string_view type_name(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::object: return "an object";
    case Json::value_t::array: return "an array";
    case Json::value_t::string: return "a string";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "an integer";
    case Json::value_t::number_float: return "a fractional number";
    default: return "something else";
  }
}

// `parent` names the enclosing object in messages ("trino_drain.state"); "" at the top.
std::string field_name(std::string_view parent, const char* key) {
  return parent.empty() ? std::string(key) : std::string(parent) + "." + key;
}

Result<void> read_string(const Json& object, const char* key, bool required, std::string& out,
                         std::string_view parent = "") {
  const auto it = object.find(key);
  const std::string name = field_name(parent, key);
  if (it == object.end()) {
    if (required) return problem(kPayloadMissingField, name + " is missing");
    return ok();
  }
  if (!it->is_string()) {
    return problem(kPayloadWrongType, name + ": expected a string, got " + std::string(type_name(*it)));
  }
  out = it->get<std::string>();
  if (required && out.empty()) return problem(kPayloadMissingField, name + " is empty");
  return ok();
}

Result<void> read_bool(const Json& object, const char* key, bool& out, std::string_view parent) {
  const auto it = object.find(key);
  if (it == object.end()) return ok();
  if (!it->is_boolean()) {
    return problem(kPayloadWrongType,
                   field_name(parent, key) + ": expected a boolean, got " + std::string(type_name(*it)));
  }
  out = it->get<bool>();
  return ok();
}

// "trino_drain": absent is fine (the sink is off); present, it must be what the agent writes.
Result<std::optional<DrainReport>> parse_drain(const Json& root) {
  constexpr std::string_view kDrain = "trino_drain";
  const auto it = root.find(kDrain);
  if (it == root.end()) return std::optional<DrainReport>{};
  if (!it->is_object()) {
    return problem(kPayloadWrongType, std::string(kDrain) + ": expected an object, got " + std::string(type_name(*it)));
  }
  DrainReport drain;
  for (Result<void> step : {read_string(*it, "state", true, drain.state, kDrain),
                            read_string(*it, "trino_state", false, drain.trino_state, kDrain),
                            read_bool(*it, "slot", drain.slot, kDrain),
                            read_string(*it, "reason", false, drain.reason, kDrain),
                            read_string(*it, "error", false, drain.error, kDrain)}) {
    if (!step.ok()) return step.error();
  }
  return std::optional<DrainReport>{std::move(drain)};
}

// An integer in [0, max]; fractional numbers and negatives are refused.
Result<void> read_unsigned(const Json& object, const char* key, bool required, uint64_t max, uint64_t& out) {
  const auto it = object.find(key);
  if (it == object.end()) {
    if (required) return problem(kPayloadMissingField, std::string(key) + " is missing");
    return ok();
  }
  if (it->is_number_integer() && !it->is_number_unsigned()) {
    return problem(kPayloadOutOfRange, std::string(key) + ": expected 0-" + std::to_string(max) + ", got " +
                                           std::to_string(it->get<int64_t>()));
  }
  if (!it->is_number_unsigned()) {
    return problem(kPayloadWrongType, std::string(key) + ": expected an integer, got " + std::string(type_name(*it)));
  }
  const uint64_t value = it->get<uint64_t>();
  if (value > max) {
    return problem(kPayloadOutOfRange,
                   std::string(key) + ": expected 0-" + std::to_string(max) + ", got " + std::to_string(value));
  }
  out = value;
  return ok();
}

Result<HealthState> parse_state(const std::string& text) {
  for (const HealthState state :
       {HealthState::kHealthy, HealthState::kDegraded, HealthState::kFailing, HealthState::kUnknown}) {
    if (text == to_string(state)) return state;
  }
  return problem(kPayloadUnknownState, "state: " + printable_excerpt(text, 40) +
                                           " is none of healthy, degraded, failing, unknown");
}

Result<NodeReport> parse_object(const Json& root) {
  if (!root.is_object()) {
    return problem(kPayloadWrongType, "expected a JSON object, got " + std::string(type_name(root)));
  }
  NodeReport report;
  std::string state_text;
  uint64_t weight = 0;
  uint64_t http_port = 0;
  for (Result<void> step : {read_string(root, "node_id", true, report.node_id),
                            read_string(root, "state", true, state_text),
                            read_unsigned(root, "weight", true, 100, weight),
                            read_string(root, "cluster", false, report.cluster),
                            read_string(root, "role", false, report.role),
                            read_string(root, "host", false, report.host),
                            read_unsigned(root, "seq", false, UINT64_MAX, report.seq),
                            read_unsigned(root, "ts_ms", false, UINT64_MAX, report.ts_ms),
                            read_unsigned(root, "http_port", false, 65535, http_port)}) {
    if (!step.ok()) return step.error();
  }
  Result<HealthState> state = parse_state(state_text);
  if (!state.ok()) return state.error();
  report.state = *state;
  report.weight = static_cast<uint8_t>(weight);
  report.http_port = static_cast<uint16_t>(http_port);
  Result<std::optional<DrainReport>> drain = parse_drain(root);
  if (!drain.ok()) return drain.error();
  report.drain = std::move(drain).value();
  if (const auto reasons = root.find("reasons"); reasons != root.end()) {
    if (!reasons->is_array()) {
      return problem(kPayloadWrongType, "reasons: expected an array of strings, got " + std::string(type_name(*reasons)));
    }
    for (const Json& reason : *reasons) {
      if (!reason.is_string()) {
        return problem(kPayloadWrongType, "reasons: expected strings, got " + std::string(type_name(reason)));
      }
      report.reasons.push_back(reason.get<std::string>());
    }
  }
  return report;
}

}  // namespace

Result<NodeReport> parse_node_payload(std::string_view json, std::size_t max_bytes) {
  if (json.size() > max_bytes) {
    return problem(kPayloadOversize, std::to_string(json.size()) + " bytes, more than the limit of " +
                                         std::to_string(max_bytes) + " (balancer.max_payload_bytes)");
  }
  if (json.empty()) return problem(kPayloadBadJson, "empty payload");
  if (!nesting_within(json, kMaxDepth)) {
    return problem(kPayloadBadJson, "nested deeper than " + std::to_string(kMaxDepth) + " levels");
  }
  try {
    const Json root = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
    if (root.is_discarded()) return problem(kPayloadBadJson, "not valid JSON: " + printable_excerpt(json, 40));
    return parse_object(root);
  } catch (const std::exception& e) {  // e.g. allocation failure; never out of here
    return problem(kPayloadBadJson, e.what());
  }
}

std::string_view payload_error_reason(const Error& error) {
  static constexpr std::array kReasons = {kPayloadOversize,     kPayloadBadJson,      kPayloadWrongType,
                                          kPayloadMissingField, kPayloadUnknownState, kPayloadOutOfRange};
  for (const std::string_view reason : kReasons) {
    if (error.message.starts_with(reason) && error.message.size() > reason.size() &&
        error.message[reason.size()] == ':') {
      return reason;
    }
  }
  return kPayloadBadJson;
}

std::string printable_excerpt(std::string_view text, std::size_t limit) {
  std::string excerpt;
  for (const char c : text.substr(0, limit)) {
    const auto byte = static_cast<unsigned char>(c);
    excerpt += (byte >= 0x20 && byte < 0x7f) ? c : '?';
  }
  if (text.size() > limit) excerpt += "...";
  return "'" + excerpt + "'";
}

}  // namespace nodepulse
