// A stand-in for Trino Gateway's backend admin API (Trino Gateway itself is not packaged here):
// a loopback HTTP server that implements `POST /gateway/backend/activate/{name}` and
// `POST /gateway/backend/deactivate/{name}` — 200 and the backend's new state remembered — and
// records every call in order. Anything else is a 404, so a wrong path or method shows up.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "services.h"

namespace nodepulse::testing {

class GatewayStandin {
 public:
  struct Call {
    std::string action;  // "activate" | "deactivate"
    std::string backend;
  };

  GatewayStandin()
      : server_([this](const RecordingHttpServer::Request& request, std::size_t) { return answer(request); }) {}

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }

  // The backend's state after the last call; nullopt if it was never called.
  std::optional<bool> active(const std::string& backend) const {
    std::lock_guard lock(mutex_);
    auto it = active_.find(backend);
    if (it == active_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<Call> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  std::size_t call_count() const {
    std::lock_guard lock(mutex_);
    return calls_.size();
  }
  // Requests that were not one of the two endpoints.
  std::size_t bad_requests() const {
    std::lock_guard lock(mutex_);
    return bad_requests_;
  }

 private:
  RecordingHttpServer::Answer answer(const RecordingHttpServer::Request& request) {
    std::lock_guard lock(mutex_);
    for (const char* action : {"activate", "deactivate"}) {
      const std::string prefix = std::string("/gateway/backend/") + action + "/";
      if (request.method == "POST" && request.target.rfind(prefix, 0) == 0 && request.target.size() > prefix.size()) {
        const std::string backend = request.target.substr(prefix.size());
        calls_.push_back({action, backend});
        active_[backend] = std::string(action) == "activate";
        return {200, "", "application/json"};
      }
    }
    ++bad_requests_;
    return {404, "{\"error\":\"not found\"}", "application/json"};
  }

  mutable std::mutex mutex_;
  std::map<std::string, bool> active_;
  std::vector<Call> calls_;
  std::size_t bad_requests_ = 0;
  RecordingHttpServer server_;  // last: it stops (joins its thread) before the state above goes
};

}  // namespace nodepulse::testing
