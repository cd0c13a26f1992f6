// Shared bits for tests that start real services: a required-binary check (skip locally, fail
// in CI), a temporary directory removed with its owner, waiting for a condition with a
// deadline, a stopwatch, and a tiny loopback HTTP/TCP server that records what it receives.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "process.h"

namespace nodepulse::testing {

// Without `binary` a test skips, except in CI (CI=true), where it fails.
#define NODEPULSE_REQUIRE_BINARY(binary)                                                          \
  do {                                                                                            \
    if (!std::filesystem::exists(binary)) {                                                       \
      const char* ci = std::getenv("CI");                                                         \
      if (ci && std::string(ci) == "true") FAIL() << (binary) << " is needed (CI=true); run scripts/setup"; \
      GTEST_SKIP() << "needs " << (binary) << " (scripts/setup installs it)";                    \
    }                                                                                             \
  } while (0)

class TempDir {
 public:
  explicit TempDir(const std::string& tag = "tmp") {
    std::string pattern = "/tmp/nodepulse-" + tag + "-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline std::string file_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// Polls `condition` every 10 ms until it holds or `timeout` passes; true if it held.
inline bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

class Stopwatch {
 public:
  Stopwatch() : started_(std::chrono::steady_clock::now()) {}
  double ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
  }

 private:
  std::chrono::steady_clock::time_point started_;
};

// A loopback server that records each request and answers with whatever `respond` returns for
// it (status and body), one request per connection. A status of 0 means "never answer": the
// connection is held open until the server goes, for timeout tests. Also serves as a plain TCP
// backend: a connection that sends nothing is simply closed.
class RecordingHttpServer {
 public:
  struct Request {
    std::string method;
    std::string target;
    std::string headers;  // raw, lower-case names not enforced
    std::string body;
  };
  struct Answer {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
  };
  using Respond = std::function<Answer(const Request&, std::size_t index)>;

  explicit RecordingHttpServer(Respond respond = {}) : respond_(std::move(respond)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(listener_, 64) != 0) {
      ::close(listener_);
      throw std::runtime_error("RecordingHttpServer: cannot listen");
    }
    socklen_t length = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  RecordingHttpServer(const RecordingHttpServer&) = delete;
  RecordingHttpServer& operator=(const RecordingHttpServer&) = delete;
  ~RecordingHttpServer() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    thread_.join();
    ::close(listener_);
    for (int fd : held_) ::close(fd);
  }

  uint16_t port() const { return port_; }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

  std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::size_t request_count() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }

 private:
  void serve() {
    while (!stopping_) {
      pollfd entry{listener_, POLLIN, 0};
      if (::poll(&entry, 1, 50) <= 0) continue;
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      handle(fd);
    }
  }

  void handle(int fd) {
    timeval timeout{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    std::string raw;
    char buffer[8192];
    std::size_t head_end = std::string::npos;
    std::size_t content_length = 0;
    for (;;) {
      if (head_end == std::string::npos && (head_end = raw.find("\r\n\r\n")) != std::string::npos) {
        std::string head = raw.substr(0, head_end);
        for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const std::size_t at = head.find("content-length:");
        if (at != std::string::npos) content_length = std::stoul(head.substr(at + 15));
      }
      if (head_end != std::string::npos && raw.size() >= head_end + 4 + content_length) break;
      const ssize_t count = ::recv(fd, buffer, sizeof buffer, 0);
      if (count <= 0) {
        ::close(fd);  // a plain TCP check, or a client that gave up
        return;
      }
      raw.append(buffer, static_cast<std::size_t>(count));
    }
    Request request;
    const std::size_t line_end = raw.find("\r\n");
    std::istringstream line(raw.substr(0, line_end));
    line >> request.method >> request.target;
    request.headers = raw.substr(line_end + 2, head_end - line_end - 2);
    request.body = raw.substr(head_end + 4, content_length);
    std::size_t index;
    {
      std::lock_guard lock(mutex_);
      index = requests_.size();
      requests_.push_back(request);
    }
    const Answer answer = respond_ ? respond_(request, index) : Answer{};
    if (answer.status == 0) {
      held_.push_back(fd);
      return;
    }
    const std::string response = "HTTP/1.1 " + std::to_string(answer.status) + " X\r\nContent-Type: " +
                                 answer.content_type + "\r\nContent-Length: " + std::to_string(answer.body.size()) +
                                 "\r\nConnection: close\r\n\r\n" + answer.body;
    (void)::send(fd, response.data(), response.size(), MSG_NOSIGNAL);
    ::close(fd);
  }

  Respond respond_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<Request> requests_;
  std::vector<int> held_;
  std::thread thread_;
};

// Stops a service child politely: SIGTERM, then SIGKILL if it is still there after `grace`.
inline void stop_child(ChildProcess& child, std::chrono::milliseconds grace) {
  child.signal(SIGTERM);
  if (!child.wait_for_exit(grace)) child.kill_and_reap();
}

}  // namespace nodepulse::testing
