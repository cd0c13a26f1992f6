// Heartbeat payloads as `nodepulse balancer` reads them from ZooKeeper: written by other hosts
// (any version, any bug, anyone with write access to the znodes). parse_node_payload must refuse
// bad ones with a known reason label and accept only reports within the documented ranges.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "heartbeat/payload.h"

using namespace nodepulse;

namespace {
constexpr std::size_t kMaxPayloadBytes = 4096;  // small, so the oversize path is reached too
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view json = fuzz::as_text(data, size);
  const Result<NodeReport> report = parse_node_payload(json, kMaxPayloadBytes);
  if (!report.ok()) {
    const std::string_view reason = payload_error_reason(report.error());
    if (reason != kPayloadOversize && reason != kPayloadBadJson && reason != kPayloadWrongType &&
        reason != kPayloadMissingField && reason != kPayloadUnknownState && reason != kPayloadOutOfRange) {
      fuzz::fail("an unknown reason label: " + std::string(reason));
    }
    if (size > kMaxPayloadBytes && reason != kPayloadOversize) fuzz::fail("an oversize payload not refused as such");
  } else {
    if (size > kMaxPayloadBytes) fuzz::fail("a payload over max_bytes accepted");
    if (report->node_id.empty()) fuzz::fail("a report without a node_id accepted");
    if (report->weight > 100) fuzz::fail("a weight over 100 accepted");
    if (report->drain && report->drain->state.empty()) fuzz::fail("a trino_drain without a state accepted");
  }
  (void)printable_excerpt(json);
  (void)printable_excerpt(json, 3);
  return 0;
}
