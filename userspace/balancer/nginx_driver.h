// Drives nginx through an upstream include file (balancer.nginx): renders it, and when the text
// changed writes it atomically (temporary file + fsync + rename), validates the whole
// configuration with `nginx -t`, and reloads by sending SIGHUP to the master process named by
// the pid file. A file nginx refuses is replaced by the previous one at once, so a later reload
// never picks up a broken include.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "balancer/driver.h"

namespace nodepulse {

struct NginxOptions {
  std::string upstream_file;
  std::string upstream = "trino";
  std::string conf;  // "" = nginx's default
  std::string pid_file;
  std::string binary = "nginx";
  std::chrono::milliseconds test_timeout{10000};
};

class NginxDriver final : public Driver {
 public:
  explicit NginxDriver(NginxOptions options);
  const char* name() const override { return "nginx"; }
  Result<void> apply(const Decision& decision) override;

 private:
  Result<void> validate();
  Result<void> reload();

  NginxOptions options_;
  std::optional<std::string> applied_;  // the text nginx was last reloaded with
  bool warned_empty_ = false;
};

// Writes `text` to `path` atomically: readers see the old or the new file, never a part.
Result<void> write_file_atomically(const std::string& path, const std::string& text);

}  // namespace nodepulse
