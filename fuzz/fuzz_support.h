// Small helpers shared by the libFuzzer targets: splitting one input into fields, and talking
// to an in-process server over loopback with a deadline (a reply that never comes is a hang,
// which must fail the run, not stall it).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.h"

namespace nodepulse::fuzz {

// The separator between the fields of one input in the seed corpora: a line that real inputs
// never hold, easy to write by hand ("...\n@@\n...").
inline constexpr std::string_view kFieldSeparator = "\n@@\n";

// At most `max_fields` fields; the last one takes the rest of the input, separators included.
inline std::vector<std::string_view> split_fields(std::string_view data, std::size_t max_fields) {
  std::vector<std::string_view> fields;
  while (fields.size() + 1 < max_fields) {
    const std::size_t at = data.find(kFieldSeparator);
    if (at == std::string_view::npos) break;
    fields.push_back(data.substr(0, at));
    data.remove_prefix(at + kFieldSeparator.size());
  }
  fields.push_back(data);
  return fields;
}

inline std::string_view as_text(const uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Stops the run with a message: libFuzzer reports the input that got here as a crash.
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz oracle failed: %s\n", what.c_str());
  std::abort();
}

// A blocking TCP connection to 127.0.0.1:port, from a source address that changes with every
// call (127.1.0.0/16): a fuzzer makes tens of thousands of connections to one port, and the
// server closing first leaves each in TIME_WAIT for a minute, which would use up the ephemeral
// ports of a single source address within one run.
inline UniqueFd connect_loopback(uint16_t port) {
  static uint32_t connections = 0;
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) fail("socket");
  sockaddr_in source{};
  source.sin_family = AF_INET;
  source.sin_addr.s_addr = htonl((127u << 24) | (1u << 16) | (connections++ & 0xFFFFu));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&source), sizeof source) != 0) fail("bind a loopback source address");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) return fd;
  // libFuzzer's own timers (SIGALRM) interrupt a blocking connect; the kernel finishes it
  // regardless, so wait for the outcome instead of calling the run a failure.
  if (errno == EINTR) {
    pollfd entry{fd.get(), POLLOUT, 0};
    int ready;
    do {
      ready = ::poll(&entry, 1, 5000);
    } while (ready < 0 && errno == EINTR);
    int error = 0;
    socklen_t length = sizeof error;
    if (ready == 1 && ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0) return fd;
    errno = ready == 1 ? error : ETIMEDOUT;
  }
  fail(std::string("connect to the server under test: ") + std::strerror(errno));
}

struct Exchange {
  std::string reply;
  bool closed_by_server = false;  // EOF or reset seen before the deadline
};

// Sends `request` (as far as the server takes it), optionally half-closes, then reads until the
// server closes or `timeout` passes.
inline Exchange exchange(int fd, std::string_view request, bool half_close, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const auto left_ms = [&] {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<int64_t>(0, left.count()));
  };
  // libFuzzer's SIGALRM (its -timeout watchdog, every second) interrupts poll(): wait on.
  const auto wait_for = [&](short events) {
    pollfd entry{fd, events, 0};
    int ready;
    do {
      ready = ::poll(&entry, 1, left_ms());
    } while (ready < 0 && errno == EINTR);
    return ready > 0;
  };
  Exchange result;
  while (!request.empty()) {
    if (!wait_for(POLLOUT)) break;
    const ssize_t sent = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent <= 0) break;  // the server closed early: fine, read what it said
    request.remove_prefix(static_cast<std::size_t>(sent));
  }
  if (half_close) ::shutdown(fd, SHUT_WR);
  char buffer[4096];
  for (;;) {
    if (!wait_for(POLLIN)) return result;
    const ssize_t got = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (got <= 0) {
      result.closed_by_server = true;
      return result;
    }
    result.reply.append(buffer, static_cast<std::size_t>(got));
  }
}

}  // namespace nodepulse::fuzz
