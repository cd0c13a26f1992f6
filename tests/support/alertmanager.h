// A real Prometheus Alertmanager for tests (Debian's prometheus-alertmanager): one instance on a
// free loopback port, clustering off, its config and storage in a temporary directory, killed by
// its own PID when the owner goes.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

#include "http_client.h"
#include "process.h"
#include "services.h"

namespace nodepulse::testing {

inline constexpr const char* kAlertmanagerBinary = "/usr/bin/prometheus-alertmanager";

class Alertmanager {
 public:
  // `port` 0: a free one.
  explicit Alertmanager(uint16_t port = 0) : dir_("alertmanager"), port_(port != 0 ? port : free_loopback_port()) {
    // Every alert goes to a receiver that notifies no one: the tests read alerts back from the API.
    write_text(dir_ / "alertmanager.yml", "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n");
    child_.emplace(ChildProcess::spawn(
        {kAlertmanagerBinary, "--config.file=" + (dir_ / "alertmanager.yml").string(),
         "--storage.path=" + (dir_ / "data").string(), "--web.listen-address=127.0.0.1:" + std::to_string(port_),
         "--cluster.listen-address="},
        (dir_ / "alertmanager.log").string()));
    if (!wait_until(
            [&] {
              auto reply = http_get(port_, "/-/ready");
              return reply && reply->status == 200;
            },
            std::chrono::seconds(20))) {
      throw std::runtime_error("Alertmanager did not become ready: " + log());
    }
  }
  Alertmanager(const Alertmanager&) = delete;
  Alertmanager& operator=(const Alertmanager&) = delete;
  ~Alertmanager() {
    if (child_) stop_child(*child_, std::chrono::seconds(2));
  }

  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return file_text(dir_ / "alertmanager.log"); }

  // GET /api/v2/alerts: the alerts that are active (resolved ones are not listed), as JSON text.
  std::string alerts() const {
    auto reply = http_get(port_, "/api/v2/alerts");
    return reply && reply->status == 200 ? reply->body : "";
  }

 private:
  TempDir dir_;
  uint16_t port_;
  std::optional<ChildProcess> child_;
};

}  // namespace nodepulse::testing
