// The heartbeat payload as a balancer reads it from ZooKeeper (`<root>/<cluster>/nodes/<id>`)
// or an agent's /health. The JSON comes from other hosts and may be anything: this parser is
// pure (no I/O, no logging, no exceptions out), bounded in size and nesting, and says why it
// refused a payload with a fixed reason label for the metric
// nodepulse_balancer_invalid_payloads_total{reason}. A libFuzzer target drives it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "health/verdict.h"

namespace nodepulse {

// The agent's trino sink on its own worker (heartbeat "trino_drain", present while that sink is
// on). `state` is kept as written, not checked against the list the agent knows today
// (active, draining, drained, shutting_down, budget_exhausted, held, coordinator, unsupported,
// unknown): it is shown, never acted on, and refusing a whole heartbeat for a word a newer agent
// added would drain that node from the load balancers.
struct DrainReport {
  std::string state;        // required, non-empty
  std::string trino_state;  // Trino's own ("ACTIVE", ...); "" = not known
  bool slot = false;        // holds a drain slot in ZooKeeper
  std::string reason;
  std::string error;

  bool operator==(const DrainReport&) const = default;
};

struct NodeReport {
  std::string node_id;  // required, non-empty
  std::string cluster;
  std::string role;
  std::string host;
  HealthState state = HealthState::kUnknown;  // required: healthy | degraded | failing | unknown
  uint8_t weight = 0;                         // required: 0-100
  std::vector<std::string> reasons;
  uint64_t seq = 0;
  uint64_t ts_ms = 0;       // the agent's wall clock when it made the heartbeat
  uint16_t http_port = 0;   // Trino's HTTP port; 0 = unknown
  std::optional<DrainReport> drain;  // nullopt: the agent's trino sink is off (or an older agent)
};

// The reason labels an error message starts with ("wrong_type: weight: expected ...").
inline constexpr std::string_view kPayloadOversize = "oversize";
inline constexpr std::string_view kPayloadBadJson = "bad_json";
inline constexpr std::string_view kPayloadWrongType = "wrong_type";
inline constexpr std::string_view kPayloadMissingField = "missing_field";
inline constexpr std::string_view kPayloadUnknownState = "unknown_state";
inline constexpr std::string_view kPayloadOutOfRange = "out_of_range";

// Parses one payload of at most `max_bytes`. Fields other than the docs/design.md ones are ignored
// (newer agents may add some); a known field of the wrong type is an error. The error's message
// is "REASON: detail", REASON one of the labels above.
Result<NodeReport> parse_node_payload(std::string_view json, std::size_t max_bytes);

// The REASON label of an error from parse_node_payload (kPayloadBadJson for any other text).
std::string_view payload_error_reason(const Error& error);

// Shortens text to at most `limit` bytes for a log line (a payload may be huge or binary).
std::string printable_excerpt(std::string_view text, std::size_t limit = 80);

}  // namespace nodepulse
