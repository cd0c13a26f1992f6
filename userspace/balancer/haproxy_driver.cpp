#include "balancer/haproxy_driver.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <optional>

#include "common/unique_fd.h"
#include "http/http_client.h"

namespace nodepulse {
namespace {

Result<UniqueFd> connect_to(const std::string& socket, std::chrono::milliseconds timeout) {
  UniqueFd fd;
  if (socket.starts_with('/')) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket.size() >= sizeof address.sun_path) return Error{"haproxy socket path too long: " + socket};
    socket.copy(address.sun_path, sizeof address.sun_path - 1);
    fd = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return errno_error("socket", errno);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      return errno_error("cannot connect to haproxy " + socket, errno);
    }
  } else {
    Result<HostPort> endpoint = split_host_port(socket);
    if (!endpoint.ok()) return endpoint.error();
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(endpoint->port);
    if (const int rc = ::getaddrinfo(endpoint->host.c_str(), port.c_str(), &hints, &found); rc != 0) {
      return Error{"cannot resolve haproxy " + socket + ": " + gai_strerror(rc)};
    }
    fd = UniqueFd(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int rc = fd.valid() ? ::connect(fd.get(), found->ai_addr, found->ai_addrlen) : -1;
    const int error = errno;
    ::freeaddrinfo(found);
    if (rc != 0) return errno_error("cannot connect to haproxy " + socket, error);
  }
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) text.pop_back();
  std::size_t start = 0;
  while (start < text.size() && (text[start] == '\n' || text[start] == ' ')) ++start;
  return text.substr(start);
}

}  // namespace

std::string haproxy_command(const std::string& backend, const ServerTarget& server) {
  const std::string target = backend + "/" + server.name;
  switch (server.action) {
    case ServerAction::kReady:
      return "set server " + target + " state ready; set server " + target + " weight " + std::to_string(server.weight);
    case ServerAction::kDrain: return "set server " + target + " state drain";
    case ServerAction::kDown: return "set server " + target + " state maint";
  }
  return "";
}

Result<std::string> HaproxyDriver::send(const std::string& line) {
  Result<UniqueFd> fd = connect_to(options_.socket, options_.timeout);
  if (!fd.ok()) return fd.error();
  const std::string request = line + "\n";
  if (::send(fd->get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    return errno_error("cannot send to haproxy " + options_.socket, errno);
  }
  // Non-interactive mode: HAProxy answers and closes the connection.
  std::string answer;
  char buffer[4096];
  for (;;) {
    const ssize_t count = ::recv(fd->get(), buffer, sizeof buffer, 0);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return errno_error("no answer from haproxy " + options_.socket, errno);
    if (count == 0) break;
    if (answer.size() < 65536) answer.append(buffer, static_cast<std::size_t>(count));
  }
  return answer;
}

Result<void> HaproxyDriver::apply(const Decision& decision) {
  std::optional<Error> first_error;
  for (const ServerTarget& server : decision.servers) {
    const std::pair<ServerAction, uint32_t> wanted{server.action, server.weight};
    if (auto it = applied_.find(server.name); it != applied_.end() && it->second == wanted) continue;
    applied_.erase(server.name);
    const std::string line = haproxy_command(options_.backend, server);
    Result<std::string> answer = send(line);
    // Success is an empty answer; anything else is HAProxy's complaint ("No such server.").
    if (answer.ok() && trimmed(*answer).empty()) {
      applied_[server.name] = wanted;
      continue;
    }
    if (!first_error) {
      first_error = answer.ok() ? Error{"haproxy refused '" + line + "': " + trimmed(*answer)} : answer.error();
    }
  }
  if (first_error) return *first_error;
  return ok();
}

}  // namespace nodepulse
