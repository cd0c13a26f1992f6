#include "sink_runner.h"

#include <chrono>

namespace nodepulse {

SinkRunner::SinkRunner(std::unique_ptr<Sink> sink, SinkObserver observer)
    : sink_(std::move(sink)), observer_(std::move(observer)), thread_([this] { run(); }) {
  if (observer_.started) observer_.started(sink_->name());
}

SinkRunner::~SinkRunner() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void SinkRunner::offer(const Heartbeat& heartbeat) {
  {
    std::lock_guard lock(mutex_);
    // A state change must not be hidden by a newer heartbeat of the same state: keep the flag.
    const bool changed = heartbeat.state_changed || (pending_ && pending_->state_changed);
    const HealthState previous = pending_ && pending_->state_changed ? pending_->previous_state : heartbeat.previous_state;
    pending_ = heartbeat;
    pending_->state_changed = changed;
    pending_->previous_state = previous;
  }
  wake_.notify_one();
}

void SinkRunner::run() {
  for (;;) {
    Heartbeat heartbeat;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || pending_.has_value(); });
      if (stopping_) return;
      heartbeat = std::move(*pending_);
      pending_.reset();
    }
    const auto started = std::chrono::steady_clock::now();
    Result<void> result = Error{"sink threw"};
    try {
      result = sink_->publish(heartbeat);
    } catch (const std::exception& e) {
      result = Error{std::string("sink threw: ") + e.what()};
    } catch (...) {
    }
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    if (observer_.published) observer_.published(sink_->name(), took.count(), result);
  }
}

}  // namespace nodepulse
