#include "config/schema.h"

#include <string>

#include "config/value_checks.h"

namespace nodepulse::config_detail {
namespace {

// Trino's own API: http:// or https:// (TLS through libcurl), no path.
Result<void> trino_url(const Value& at, const std::string& url) {
  const std::string scheme = url_scheme(url);
  const bool has_host = url.size() > scheme.size() && url[scheme.size()] != '/';
  if ((scheme != "http://" && scheme != "https://") || !has_host) {
    return at.error("expected a base URL like http://127.0.0.1:8080 or https://trino.example:8443, got " +
                    in_quotes(url));
  }
  const std::size_t path = url.find('/', scheme.size());
  if (path != std::string::npos && path + 1 != url.size()) {
    return at.error("expected a base URL without a path (the /v1/... paths are added), got " + in_quotes(url));
  }
  return ok();
}

Result<void> no_line_breaks(const Value& at, const std::string& text) {
  if (text.find_first_of("\r\n") == std::string::npos) return ok();
  return at.error("must be one line (it is sent as an HTTP header)");
}

}  // namespace

void read_trino(Section& top, Config& config) {
  top.section("trino", [&](Section& trino) {
    Config::Trino& t = config.trino;
    trino.read("etc_dir", t.etc_dir);
    trino.read("drain", t.drain, one_of({"off", "auto", "shutdown"}));
    trino.read("url", t.url, empty_or(trino_url));
    trino.read("user", t.user, not_empty, no_line_breaks);
    trino.read("password_file", t.password_file, empty_or(absolute_path));
    trino.read("password_env", t.password_env, empty_or(environment_variable_name));
    trino.read("ca_file", t.ca_file, empty_or(absolute_path));
    trino.read("timeout_ms", t.timeout_ms, between(10, 60000));
    trino.read("max_unhealthy_fraction", t.max_unhealthy_fraction, fraction);
    trino.read("zk_loss_hold_ms", t.zk_loss_hold_ms, between(0, 3'600'000));
    trino.read("coordinator_url", t.coordinator_url, empty_or(trino_url));
    trino.check("password_env", t.password_file.empty() || t.password_env.empty(),
                "give at most one of password_file and password_env");
  });
}

void emit_trino(YAML::Emitter& out, const Config& config) {
  emit_section(out, "trino", [&] {
    const Config::Trino& t = config.trino;
    emit(out, "etc_dir", t.etc_dir);
    emit(out, "drain", t.drain);
    emit(out, "url", t.url);
    emit(out, "user", t.user);
    emit(out, "password_file", t.password_file);
    emit(out, "password_env", t.password_env);
    emit(out, "ca_file", t.ca_file);
    emit(out, "timeout_ms", t.timeout_ms);
    emit(out, "max_unhealthy_fraction", t.max_unhealthy_fraction);
    emit(out, "zk_loss_hold_ms", t.zk_loss_hold_ms);
    emit(out, "coordinator_url", t.coordinator_url);
  });
}

}  // namespace nodepulse::config_detail
