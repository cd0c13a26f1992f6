// Runs one Sink on its own thread. offer() never blocks: it replaces any heartbeat the sink
// has not taken yet (latest wins), so the sink always publishes the newest state and a hung
// sink only ever holds one heartbeat.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "sink.h"

namespace nodepulse {

struct SinkObserver {
  // Called on the sink's thread after each publish, with its duration and result.
  std::function<void(const char* sink, double seconds, const Result<void>& result)> published;
  // Called once when the runner starts, before any publish: the sink's series can start at 0.
  // Optional (`= {}`: observers made with only `published` stay valid aggregates).
  std::function<void(const char* sink)> started = {};
};

class SinkRunner {
 public:
  SinkRunner(std::unique_ptr<Sink> sink, SinkObserver observer);
  SinkRunner(const SinkRunner&) = delete;
  SinkRunner& operator=(const SinkRunner&) = delete;
  ~SinkRunner();  // stops after the publish in progress, if any

  void offer(const Heartbeat& heartbeat);
  const char* name() const { return sink_->name(); }

 private:
  void run();

  std::unique_ptr<Sink> sink_;
  SinkObserver observer_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<Heartbeat> pending_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace nodepulse
