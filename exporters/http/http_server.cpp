#include "http/http_server.h"

#include <civetweb.h>
#include <spdlog/spdlog.h>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

namespace nodepulse {
namespace {

// The host to connect to in order to reach a server listening on `listen`.
std::string wake_host(const std::string& listen) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "0.0.0.0") return "127.0.0.1";
  if (host == "::") return "::1";
  return host;
}

void connect_once(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return;
  const int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    (void)connect(fd, found->ai_addr, found->ai_addrlen);
    close(fd);
  }
  freeaddrinfo(found);
}

void init_civetweb_once() {
  static std::once_flag once;
  std::call_once(once, [] { mg_init_library(0); });
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::start(const std::string& listen,
                                                      std::map<std::string, Handler> routes) {
  init_civetweb_once();
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->routes_ = std::move(routes);

  // A few threads are plenty for a scraper and a health checker; keep the agent small.
  std::array<const char*, 9> options = {"listening_ports", listen.c_str(), "num_threads", "4",
                                              "request_timeout_ms", "2000", "enable_keep_alive", "no",
                                              nullptr};
  mg_callbacks callbacks{};
  // civetweb reports bind errors through log_message, on this thread, while mg_start runs: keep
  // them for our error. Its worker threads log too (a malformed request): those messages go to
  // the debug log, and no thread is left owning a string (LeakSanitizer counts a thread_local
  // string of a thread civetweb never joins as a leak).
  static thread_local std::string* start_error_sink = nullptr;
  std::string start_error;
  callbacks.log_message = [](const mg_connection*, const char* message) -> int {
    if (start_error_sink != nullptr) {
      *start_error_sink = message;
    } else {
      spdlog::debug("http: {}", message);
    }
    return 1;
  };
  // civetweb's own error replies put the request's HTTP version text into the status line, so a
  // malformed request line came back with the client's bytes (CR LF included) as response
  // headers (found by fuzz/http_server_fuzz.cpp). Errors get a fixed status line instead.
  callbacks.http_error = [](mg_connection* connection, int status, const char*) -> int {
    const char* text = mg_get_response_code_text(connection, status);
    mg_printf(connection,
              "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
              "Connection: close\r\n\r\n%s\n",
              status, text, std::strlen(text) + 1, text);
    return 0;
  };
  start_error_sink = &start_error;
  server->context_ = mg_start(&callbacks, nullptr, options.data());
  start_error_sink = nullptr;
  if (!server->context_) {
    return Error{"cannot serve HTTP on " + listen + (start_error.empty() ? "" : ": " + start_error)};
  }
  for (auto& [path, handler] : server->routes_) {
    mg_set_request_handler(server->context_, path.c_str(), &HttpServer::handle, &handler);
  }
  std::array<mg_server_port, 4> bound{};
  const int n = mg_get_server_ports(server->context_, static_cast<int>(bound.size()), bound.data());
  if (n > 0) server->port_ = static_cast<uint16_t>(bound[0].port);
  server->wake_host_ = wake_host(listen);
  return server;
}

HttpServer::~HttpServer() {
  if (!context_) return;
  // civetweb's listener polls with a fixed 2 s timeout and sees the stop flag only after it;
  // connections of our own wake it at once, so the agent exits promptly on SIGTERM.
  std::atomic<bool> stopped = false;
  std::thread waker([&] {
    while (!stopped) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (!stopped) connect_once(wake_host_, port_);
    }
  });
  mg_stop(context_);
  stopped = true;
  waker.join();
}

int HttpServer::handle(mg_connection* connection, void* route) noexcept {
  HttpResponse response;
  try {
    const mg_request_info* request = mg_get_request_info(connection);
    const std::string method = request->request_method ? request->request_method : "";
    if (method != "GET" && method != "HEAD") {
      response = {405, "text/plain; charset=utf-8", "only GET and HEAD are served\n"};
    } else {
      response = (*static_cast<Handler*>(route))();
    }
  } catch (const std::exception& e) {
    spdlog::error("http: handler failed: {}", e.what());
    response = {500, "text/plain; charset=utf-8", "internal error\n"};
  } catch (...) {
    response = {500, "text/plain; charset=utf-8", "internal error\n"};
  }
  mg_printf(connection,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n\r\n",
            response.status, mg_get_response_code_text(connection, response.status), response.content_type.c_str(),
            response.body.size());
  const mg_request_info* request = mg_get_request_info(connection);
  if (std::string_view(request->request_method ? request->request_method : "") != "HEAD") {
    mg_write(connection, response.body.data(), response.body.size());
  }
  return response.status;
}

}  // namespace nodepulse
