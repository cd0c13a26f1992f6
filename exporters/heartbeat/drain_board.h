// Where the trino sink posts its DrainStatus for the heartbeats that follow: the sink runs on its
// own thread, the publisher reads on the agent's loop.
#pragma once

#include <mutex>
#include <optional>

#include "heartbeat/heartbeat.h"

namespace nodepulse {

class DrainStatusBoard {
 public:
  void post(DrainStatus status) {
    std::lock_guard lock(mutex_);
    status_ = std::move(status);
  }
  std::optional<DrainStatus> read() const {
    std::lock_guard lock(mutex_);
    return status_;
  }

 private:
  mutable std::mutex mutex_;
  std::optional<DrainStatus> status_;
};

}  // namespace nodepulse
