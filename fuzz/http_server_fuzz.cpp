// HTTP requests to the agent's /health and /metrics (exporters/http/http_server): anything that
// can reach the listen address may send anything. One HttpServer is started in-process, as the
// agent starts it; each input is sent as raw bytes over loopback, the write side half-closed,
// and the reply read with a deadline. Oracles: no crash (ASan/UBSan see our handler and
// civetweb's calls into libc), the reply is HTTP or nothing, the server answers within the
// deadline, and it still serves a well-formed request afterwards.
// Found so far: civetweb echoed a malformed request's "version" (CR LF and following request
// lines included) into its error replies' status line (fixed in http_server.cpp).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "fuzz_support.h"
#include "http/http_server.h"

using namespace nodepulse;
using namespace std::chrono_literals;

namespace {

// civetweb's request_timeout_ms is 2 s; a reply later than this is a hang. The slack is for a
// busy machine (libFuzzer's own -timeout, 10 s in CTest, is the backstop).
constexpr auto kReplyDeadline = 8s;
constexpr int kProbeEvery = 64;  // inputs between two checks that the server still serves

HttpServer& server() {
  static HttpServer* instance = [] {
    std::map<std::string, HttpServer::Handler> routes;
    routes["/health"] = [] { return HttpResponse{200, "application/json", R"({"state":"healthy"})"}; };
    routes["/metrics"] = [] {
      return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", "nodepulse_up 1\n"};
    };
    Result<std::unique_ptr<HttpServer>> started = HttpServer::start("127.0.0.1:0", std::move(routes));
    if (!started.ok()) fuzz::fail("HttpServer::start: " + started.error().message);
    HttpServer* server = started->release();
    // Stopped at exit, so LeakSanitizer sees civetweb's threads and memory released.
    std::atexit([] { delete instance; });
    return server;
  }();
  return *instance;
}

// "HTTP/1.x NNN " at the start: nothing of the request may come back in the status line.
bool is_status_line(std::string_view reply) {
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  return reply.size() >= 13 && reply.starts_with("HTTP/1.") && (reply[7] == '0' || reply[7] == '1') &&
         reply[8] == ' ' && digit(reply[9]) && digit(reply[10]) && digit(reply[11]) && reply[12] == ' ';
}

void expect_still_serving(uint16_t port) {
  UniqueFd fd = fuzz::connect_loopback(port);
  const fuzz::Exchange health =
      fuzz::exchange(fd.get(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", true, kReplyDeadline);
  if (health.reply.rfind("HTTP/1.1 200", 0) != 0 || health.reply.find(R"({"state":"healthy"})") == std::string::npos) {
    fuzz::fail("the server stopped serving /health after the inputs so far; it said: " + health.reply);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static int inputs = 0;
  const uint16_t port = server().port();
  {
    UniqueFd fd = fuzz::connect_loopback(port);
    const fuzz::Exchange exchange = fuzz::exchange(fd.get(), fuzz::as_text(data, size), true, kReplyDeadline);
    if (!exchange.closed_by_server) fuzz::fail("no reply and no close within the deadline (a hang)");
    if (!exchange.reply.empty() && !is_status_line(exchange.reply)) {
      fuzz::fail("a reply that does not start with a well-formed status line: " + exchange.reply.substr(0, 200));
    }
  }
  if (++inputs % kProbeEvery == 0) expect_still_serving(port);
  return 0;
}
