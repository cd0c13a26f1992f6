// A single-threaded epoll loop: fds (ring buffers, timers, signals, PSI triggers) with a
// callback each. The agent's fast path: an event is handled as soon as its fd is readable.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>

#include "common/result.h"
#include "common/unique_fd.h"

namespace nodepulse {

class EventLoop {
 public:
  using Callback = std::function<void()>;

  // Heap-allocated because callbacks may capture the loop.
  static Result<std::unique_ptr<EventLoop>> create();
  // A daemon's main loop: create(), and run() ends on SIGINT or SIGTERM, which are blocked for
  // the whole process and received by a signalfd. Call it before any thread exists, so that
  // every thread inherits the blocked signals.
  static Result<std::unique_ptr<EventLoop>> create_stopped_by_termination_signals();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Calls `callback` whenever `fd` is readable (level-triggered; the callback must drain it).
  // `events` defaults to EPOLLIN; PSI triggers need EPOLLPRI.
  Result<void> watch(int fd, Callback callback, uint32_t events = 0);
  // A periodic timer owned by the loop.
  Result<void> every(std::chrono::milliseconds period, Callback callback);
  // Runs until stop() or a termination signal.
  Result<void> run();
  void stop() { running_ = false; }

 private:
  EventLoop() = default;
  Result<void> stop_on_termination_signals();
  UniqueFd epoll_;
  std::map<int, Callback> callbacks_;
  std::map<int, UniqueFd> owned_;
  bool running_ = false;
};

}  // namespace nodepulse
