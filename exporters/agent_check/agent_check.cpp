#include "agent_check/agent_check.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "http/http_client.h"

namespace nodepulse {
namespace {

// Connections taken per wake-up before the wake fd is looked at again, so a flood of
// connections cannot hold off shutdown.
constexpr int kMaxAcceptsPerWake = 64;
// The line is far smaller than a fresh socket's send buffer, so a send only ever has to wait
// if the peer is pathological; it gets this long, then the connection is dropped.
constexpr int kWriteTimeoutMs = 100;

// One line of printable text: control characters (newlines end the agent's answer early) become
// spaces; cut to `limit` bytes without splitting a UTF-8 sequence.
std::string one_short_line(std::string text, std::size_t limit) {
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  if (text.size() <= limit) return text;
  std::size_t cut = limit - 3;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text + "...";
}

std::string description(const Heartbeat& heartbeat) {
  std::string text(to_string(heartbeat.verdict.state));
  const std::string reasons = join_reasons(heartbeat.verdict.reasons);
  if (!reasons.empty()) text += ": " + reasons;
  return one_short_line(std::move(text), kAgentCheckMaxDescription);
}

Result<UniqueFd> bind_listener(const std::string& listen, uint16_t& port) {
  Result<HostPort> endpoint = split_host_port(listen);
  if (!endpoint.ok()) return Error{"agent_check.listen " + listen + ": " + endpoint.error().message};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const int status = ::getaddrinfo(endpoint->host.c_str(), std::to_string(endpoint->port).c_str(), &hints, &found);
  if (status != 0) return Error{"agent_check.listen " + listen + ": " + ::gai_strerror(status)};
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  Error last{"agent_check.listen " + listen + ": no address"};
  for (const addrinfo* address = found; address != nullptr; address = address->ai_next) {
    UniqueFd fd(::socket(address->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) {
      last = errno_error("agent_check.listen " + listen + ": socket", errno);
      continue;
    }
    // A restarted agent must rebind at once even while old connections sit in TIME_WAIT.
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), address->ai_addr, address->ai_addrlen) != 0 || ::listen(fd.get(), 128) != 0) {
      last = errno_error("agent_check.listen " + listen + ": cannot listen", errno);
      continue;
    }
    sockaddr_storage bound{};
    socklen_t length = sizeof bound;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &length);
    port = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                       : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    return fd;
  }
  return last;
}

}  // namespace

std::string agent_check_line(const Heartbeat* heartbeat, const AgentCheckOptions& options) {
  if (heartbeat == nullptr) return "drain #starting\n";
  const Verdict& verdict = heartbeat->verdict;
  const std::string weight = std::to_string(std::min<unsigned>(verdict.weight, 100)) + "%";
  std::string words;
  switch (verdict.state) {
    case HealthState::kHealthy:
      words = "up " + weight + " ready";
      break;
    case HealthState::kDegraded:
      words = verdict.weight < options.drain_below_weight ? "drain" : "up " + weight + " ready";
      break;
    case HealthState::kFailing:
      words = "down";
      break;
    case HealthState::kUnknown:
      words = "drain";
      break;
  }
  return words + " #" + description(*heartbeat) + "\n";
}

Result<std::unique_ptr<AgentCheckSink>> AgentCheckSink::start(const std::string& listen,
                                                              AgentCheckOptions options) {
  uint16_t port = 0;
  Result<UniqueFd> listener = bind_listener(listen, port);
  if (!listener.ok()) return listener.error();
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return errno_error("agent_check: eventfd", errno);
  return std::unique_ptr<AgentCheckSink>(
      new AgentCheckSink(std::move(listener).value(), std::move(wake), port, options));
}

AgentCheckSink::AgentCheckSink(UniqueFd listener, UniqueFd wake, uint16_t port, AgentCheckOptions options)
    : listener_(std::move(listener)),
      wake_(std::move(wake)),
      port_(port),
      options_(options),
      line_(agent_check_line(nullptr, options)),
      thread_([this] { serve(); }) {}

AgentCheckSink::~AgentCheckSink() {
  const uint64_t one = 1;
  // An eventfd write fails only on counter overflow, which one write cannot cause.
  [[maybe_unused]] const ssize_t woken = ::write(wake_.get(), &one, sizeof one);
  thread_.join();
}

Result<void> AgentCheckSink::publish(const Heartbeat& heartbeat) {
  std::string line = agent_check_line(&heartbeat, options_);
  std::lock_guard lock(mutex_);
  line_ = std::move(line);
  return ok();
}

std::string AgentCheckSink::current_line() {
  std::lock_guard lock(mutex_);
  return line_;
}

void AgentCheckSink::serve() noexcept {
  try {
    for (;;) {
      pollfd fds[2] = {{wake_.get(), POLLIN, 0}, {listener_.get(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        spdlog::error("agent_check: poll: {}; the agent-check port stops answering", std::strerror(errno));
        return;
      }
      if (fds[0].revents != 0) return;
      for (int i = 0; i < kMaxAcceptsPerWake; ++i) {
        UniqueFd connection(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!connection.valid()) {
          // EAGAIN: nothing left. Anything else (EMFILE, ECONNABORTED...) is per-connection or
          // transient: go back to poll rather than spin or stop serving.
          if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
            spdlog::warn("agent_check: accept: {}", std::strerror(errno));
            ::poll(nullptr, 0, 10);  // e.g. EMFILE: back off instead of spinning on a full fd table
          }
          break;
        }
        answer(connection.get());
      }
    }
  } catch (const std::exception& e) {
    spdlog::error("agent_check: server thread stopped: {}", e.what());
  } catch (...) {
    spdlog::error("agent_check: server thread stopped");
  }
}

void AgentCheckSink::answer(int connection) {
  const std::string line = current_line();
  std::string_view rest = line;
  while (!rest.empty()) {
    const ssize_t sent = ::send(connection, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (sent > 0) {
      rest.remove_prefix(static_cast<std::size_t>(sent));
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd entry{connection, POLLOUT, 0};
      if (::poll(&entry, 1, kWriteTimeoutMs) > 0) continue;
    }
    return;  // peer gone or too slow: HAProxy treats a failed agent check as "no news"
  }
  answered_.fetch_add(1, std::memory_order_relaxed);
  // Close with a FIN, not a RST: a RST (which closing with unread input, e.g. an agent-send
  // string, would cause) may make the peer drop our line before reading it.
  ::shutdown(connection, SHUT_WR);
  // Non-blocking, and bounded: a peer that keeps sending must not hold the one answering thread.
  char discard[4096];
  for (int reads = 0; reads < 16 && ::recv(connection, discard, sizeof discard, 0) > 0; ++reads) {
  }
}

}  // namespace nodepulse
