#include "common/event_loop.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include <array>
#include <cerrno>

namespace nodepulse {

Result<std::unique_ptr<EventLoop>> EventLoop::create() {
  std::unique_ptr<EventLoop> loop(new EventLoop());
  loop->epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!loop->epoll_.valid()) return errno_error("epoll_create1", errno);
  return loop;
}

Result<std::unique_ptr<EventLoop>> EventLoop::create_stopped_by_termination_signals() {
  auto loop = create();
  if (!loop) return loop;
  if (auto stopped = (*loop)->stop_on_termination_signals(); !stopped) return stopped.error();
  return loop;
}

Result<void> EventLoop::watch(int fd, Callback callback, uint32_t events) {
  epoll_event event{};
  event.events = events ? events : EPOLLIN;
  event.data.fd = fd;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) return errno_error("epoll_ctl(ADD)", errno);
  callbacks_[fd] = std::move(callback);
  return ok();
}

Result<void> EventLoop::every(std::chrono::milliseconds period, Callback callback) {
  UniqueFd timer(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer.valid()) return errno_error("timerfd_create", errno);
  const auto ms = period.count();
  itimerspec spec{};
  spec.it_interval.tv_sec = ms / 1000;
  spec.it_interval.tv_nsec = (ms % 1000) * 1'000'000;
  spec.it_value = spec.it_interval;
  if (timerfd_settime(timer.get(), 0, &spec, nullptr) != 0) return errno_error("timerfd_settime", errno);
  const int fd = timer.get();
  auto watched = watch(fd, [fd, callback = std::move(callback)] {
    uint64_t expirations = 0;
    if (::read(fd, &expirations, sizeof(expirations)) == sizeof(expirations)) callback();
  });
  if (!watched) return watched;
  owned_.emplace(fd, std::move(timer));
  return ok();
}

Result<void> EventLoop::stop_on_termination_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  // Blocked in every thread created after this, so only the signalfd sees them.
  if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0) return Error{"cannot block SIGINT/SIGTERM"};
  UniqueFd fd(signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!fd.valid()) return errno_error("signalfd", errno);
  const int raw = fd.get();
  auto watched = watch(raw, [this, raw] {
    signalfd_siginfo info{};
    while (::read(raw, &info, sizeof(info)) == sizeof(info)) {
    }
    stop();
  });
  if (!watched) return watched;
  owned_.emplace(raw, std::move(fd));
  return ok();
}

Result<void> EventLoop::run() {
  running_ = true;
  std::array<epoll_event, 16> ready{};
  while (running_) {
    const int n = epoll_wait(epoll_.get(), ready.data(), static_cast<int>(ready.size()), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("epoll_wait", errno);
    }
    for (int i = 0; i < n && running_; ++i) {
      auto it = callbacks_.find(ready[static_cast<size_t>(i)].data.fd);
      if (it != callbacks_.end()) it->second();
    }
  }
  return ok();
}

}  // namespace nodepulse
