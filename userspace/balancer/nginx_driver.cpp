#include "balancer/nginx_driver.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>

#include "balancer/nginx_upstream.h"
#include "balancer/run_command.h"
#include "common/file_text.h"
#include "common/unique_fd.h"

namespace nodepulse {

Result<void> write_file_atomically(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".nodepulse-tmp";
  {
    UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd.valid()) return errno_error("cannot write " + temporary, errno);
    std::size_t written = 0;
    while (written < text.size()) {
      const ssize_t count = ::write(fd.get(), text.data() + written, text.size() - written);
      if (count < 0 && errno == EINTR) continue;
      if (count < 0) return errno_error("cannot write " + temporary, errno);
      written += static_cast<std::size_t>(count);
    }
    if (::fsync(fd.get()) != 0) return errno_error("cannot fsync " + temporary, errno);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    return errno_error("cannot rename " + temporary + " to " + path, error);
  }
  return ok();
}

NginxDriver::NginxDriver(NginxOptions options) : options_(std::move(options)) {}

Result<void> NginxDriver::validate() {
  std::vector<std::string> argv = {options_.binary, "-t", "-q", "-e", "stderr"};
  if (!options_.conf.empty()) {
    argv.push_back("-c");
    argv.push_back(options_.conf);
  }
  Result<CommandOutcome> outcome = run_command(argv, options_.test_timeout);
  if (!outcome.ok()) return outcome.error();
  if (outcome->timed_out) return Error{"nginx -t did not finish within " + std::to_string(options_.test_timeout.count()) + " ms"};
  if (outcome->exit_code != 0) {
    std::string output = outcome->output;
    while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
    return Error{"nginx -t refused the configuration: " + output};
  }
  return ok();
}

Result<void> NginxDriver::reload() {
  const FileText text = read_text_file(options_.pid_file, 64);
  if (text.error != 0) return errno_error("cannot read nginx pid file " + options_.pid_file, text.error);
  std::string_view digits = text.text;
  while (!digits.empty() && (digits.back() == '\n' || digits.back() == ' ')) digits.remove_suffix(1);
  pid_t pid = 0;
  const auto [end, status] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
  if (digits.empty() || status != std::errc{} || end != digits.data() + digits.size() || pid <= 1) {
    return Error{"nginx pid file " + options_.pid_file + " holds no process id"};
  }
  if (::kill(pid, SIGHUP) != 0) return errno_error("cannot signal nginx master " + std::to_string(pid), errno);
  return ok();
}

Result<void> NginxDriver::apply(const Decision& decision) {
  const NginxUpstream upstream = render_nginx_upstream(options_.upstream, decision);
  if (upstream.text.empty()) {
    // No node known yet (a new cluster): nginx refuses an empty upstream, so keep the file.
    if (!warned_empty_) spdlog::warn("nginx: no server with an address yet; {} left as it is", options_.upstream_file);
    warned_empty_ = true;
    return ok();
  }
  warned_empty_ = false;
  if (applied_ && *applied_ == upstream.text) return ok();

  // What the file held before: put back if nginx refuses the new text.
  const FileText previous = read_text_file(options_.upstream_file);
  if (Result<void> written = write_file_atomically(options_.upstream_file, upstream.text); !written.ok()) {
    return written;
  }
  if (Result<void> valid = validate(); !valid.ok()) {
    if (previous.error == 0) {
      (void)write_file_atomically(options_.upstream_file, previous.text);
    } else {
      ::unlink(options_.upstream_file.c_str());
    }
    applied_.reset();
    return valid;
  }
  if (Result<void> reloaded = reload(); !reloaded.ok()) {
    applied_.reset();
    return reloaded;
  }
  applied_ = upstream.text;
  for (const std::string& node_id : upstream.skipped) {
    spdlog::warn("nginx: {} left out of upstream {}: no address (set balancer.servers or the agent's host)",
                 node_id, options_.upstream);
  }
  return ok();
}

}  // namespace nodepulse
