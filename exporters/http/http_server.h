// A small HTTP server (civetweb) for the agent's /metrics and /health endpoints.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/result.h"

struct mg_context;
struct mg_connection;

namespace nodepulse {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HttpServer {
 public:
  // Called on a server thread; must be thread-safe. An exception becomes a 500.
  using Handler = std::function<HttpResponse()>;

  // listen: "HOST:PORT" or "[V6]:PORT"; port 0 picks a free port (see port()).
  static Result<std::unique_ptr<HttpServer>> start(const std::string& listen,
                                                   std::map<std::string, Handler> routes);
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();  // stops serving and joins the server threads

  uint16_t port() const { return port_; }

 private:
  HttpServer() = default;
  static int handle(mg_connection* connection, void* route) noexcept;

  std::map<std::string, Handler> routes_;
  mg_context* context_ = nullptr;
  uint16_t port_ = 0;
  std::string wake_host_;
};

}  // namespace nodepulse
