// Replies to the agent's own HTTP client (userspace/http/http_client): alert webhooks and
// Alertmanager are receivers on other hosts, and whatever they answer (a proxy's error page, a
// truncated or chunked body, junk) is parsed by the agent. A loopback server thread answers each
// request with the input's bytes and closes. Oracles: no crash, the call returns within its
// deadline, and an accepted response has a real status and a bounded body.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "fuzz_support.h"
#include "http/http_client.h"

using namespace nodepulse;
using namespace std::chrono_literals;

namespace {

constexpr auto kRequestTimeout = 2s;

// Answers every connection with `reply` once the request head is in, then closes.
class ReplyServer {
 public:
  ReplyServer() {
    listener_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(listener_.get(), 16) != 0 ||
        ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      fuzz::fail("cannot listen on loopback");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ReplyServer() {
    stop_ = true;
    thread_.join();
  }

  uint16_t port() const { return port_; }
  void set_reply(std::string reply) {
    std::lock_guard lock(mutex_);
    reply_ = std::move(reply);
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd entry{listener_.get(), POLLIN, 0};
      if (::poll(&entry, 1, 50) <= 0) continue;
      UniqueFd connection(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!connection.valid()) continue;
      timeval timeout{1, 0};
      ::setsockopt(connection.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t got = ::recv(connection.get(), buffer, sizeof buffer, 0);
        if (got <= 0) break;
        request.append(buffer, static_cast<std::size_t>(got));
      }
      std::string reply;
      {
        std::lock_guard lock(mutex_);
        reply = reply_;
      }
      std::string_view rest = reply;
      while (!rest.empty()) {
        const ssize_t sent = ::send(connection.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
        if (sent <= 0) break;
        rest.remove_prefix(static_cast<std::size_t>(sent));
      }
    }
  }

  UniqueFd listener_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::string reply_;
  std::thread thread_;
};

ReplyServer& server() {
  static ReplyServer* instance = [] {
    auto* made = new ReplyServer();
    std::atexit([] { delete instance; });
    return made;
  }();
  return *instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  ReplyServer& receiver = server();
  receiver.set_reply(std::string(fuzz::as_text(data, size)));
  HttpRequest request;
  request.method = "POST";
  request.url = "http://127.0.0.1:" + std::to_string(receiver.port()) + "/hook";
  request.content_type = "application/json";
  request.body = R"({"state":"failing"})";
  request.timeout = kRequestTimeout;
  const auto started = std::chrono::steady_clock::now();
  const Result<HttpClientResponse> response = http_request(request);
  if (std::chrono::steady_clock::now() - started > kRequestTimeout + 1s) fuzz::fail("http_request overran its deadline");
  if (response.ok()) {
    if (response->status < 100 || response->status > 999) fuzz::fail("a status outside 100-999");
    if (response->body.size() > kMaxResponseBytes) fuzz::fail("a body over kMaxResponseBytes");
    if (response->body.size() > size) fuzz::fail("a body longer than everything the server sent");
  } else if (response.error().message.empty()) {
    fuzz::fail("an error without a message");
  }
  return 0;
}
