// A destination for heartbeats (ZooKeeper, keepalived's track file, alert hooks, ...).
// Each sink runs on its own thread behind a latest-wins slot (SinkRunner), so a slow, failing
// or hung sink never delays the verdict or another sink.
#pragma once

#include <memory>

#include "common/result.h"
#include "heartbeat/heartbeat.h"

namespace nodepulse {

class Sink {
 public:
  virtual ~Sink() = default;
  // The `sink` label of nodepulse_sink_publish_seconds and nodepulse_sink_errors_total.
  virtual const char* name() const = 0;
  // Publishes one heartbeat. Called only on the sink's own thread; may block, but must bound
  // its own waits (timeouts) so that stop() is prompt. An error is counted and logged
  // (rate-limited); the next heartbeat is tried as usual.
  virtual Result<void> publish(const Heartbeat& heartbeat) = 0;
};

}  // namespace nodepulse
