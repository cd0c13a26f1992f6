#include "config/schema.h"

#include <optional>
#include <string>
#include <string_view>

#include "config/value_checks.h"

namespace nodepulse::config_detail {
namespace {

std::optional<std::string> znode_path_problem(std::string_view path) {
  if (path == "/") return std::nullopt;
  if (!path.starts_with('/')) return "it must start with '/'";
  if (path.ends_with('/')) return "it must not end with '/'";
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view component = path.substr(start, end - start);
    if (component.empty()) return "it has an empty component ('//')";
    if (component == "." || component == "..") return "'.' and '..' are not znode names";
    start = end + 1;
  }
  return std::nullopt;
}

Result<void> znode_path(const Value& at, const std::string& path) {
  if (auto problem = znode_path_problem(path)) {
    return at.error("expected a ZooKeeper path like /nodepulse, got " + in_quotes(path) + ": " + *problem);
  }
  return ok();
}

// An HTTP token: letters, digits and !#$%&'*+-.^_`|~ (RFC 9110), so no header can be forged.
Result<void> http_header_name(const Value& at, const std::string& name) {
  const bool valid = !name.empty() && std::ranges::all_of(name, [](unsigned char c) {
    return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
  });
  if (valid) return ok();
  return at.error("expected an HTTP header name, got " + in_quotes(name));
}

}  // namespace

// Found by argument-dependent lookup from decode(std::vector<...>&): not in the anonymous namespace.
Result<void> decode(const Value& value, ExecHookSpec& hook) {
  Section section(value);
  section.require("command", hook.command, not_empty);
  section.read("timeout_ms", hook.timeout_ms, between(1, 600000));
  return section.finish();
}

Result<void> decode(const Value& value, WebhookSpec& webhook) {
  Section section(value);
  section.require("url", webhook.url, http_url);
  section.read("timeout_ms", webhook.timeout_ms, between(1, 600000));
  section.read("retries", webhook.retries, between(0, 10));
  section.read("token_file", webhook.token_file, empty_or(absolute_path));
  section.read("token_env", webhook.token_env, empty_or(environment_variable_name));
  section.read("token_header", webhook.token_header, http_header_name);
  section.check("token_env", webhook.token_file.empty() || webhook.token_env.empty(),
                "give at most one of token_file and token_env");
  return section.finish();
}

// Outside the anonymous namespace, whose own emit() would hide the generic ones in the lambdas.
void emit(YAML::Emitter& out, std::string_view key, const std::vector<ExecHookSpec>& hooks) {
  emit_list(out, key, hooks, [](YAML::Emitter& o, const ExecHookSpec& hook) {
    emit(o, "command", hook.command);
    emit(o, "timeout_ms", hook.timeout_ms);
  });
}

void emit(YAML::Emitter& out, std::string_view key, const std::vector<WebhookSpec>& webhooks) {
  emit_list(out, key, webhooks, [](YAML::Emitter& o, const WebhookSpec& webhook) {
    emit(o, "url", webhook.url);
    emit(o, "timeout_ms", webhook.timeout_ms);
    emit(o, "retries", webhook.retries);
    emit(o, "token_file", webhook.token_file);
    emit(o, "token_env", webhook.token_env);
    emit(o, "token_header", webhook.token_header);
  });
}

void read_sinks(Section& top, Config& config) {
  top.section("http", [&](Section& http) { http.read("listen", config.http.listen, listen_address); });
  top.section("agent_check", [&](Section& agent_check) {
    agent_check.read("listen", config.agent_check.listen, empty_or(listen_address));
    agent_check.read("drain_below_weight", config.agent_check.drain_below_weight, between(0, 100));
  });
  top.section("zookeeper", [&](Section& zookeeper) {
    zookeeper.read("connect", config.zookeeper.connect);
    zookeeper.read("root", config.zookeeper.root, znode_path);
    zookeeper.read("session_timeout_ms", config.zookeeper.session_timeout_ms, between(1000, 600000));
    zookeeper.read("auth_file", config.zookeeper.auth_file, empty_or(absolute_path));
  });
  top.check("zookeeper", config.trino.drain == "off" || !config.zookeeper.connect.empty(),
            "zookeeper.connect must be set when trino.drain is on: the cluster-wide drain budget lives in ZooKeeper");
  top.section("heartbeat", [&](Section& heartbeat) {
    heartbeat.read("interval_ms", config.heartbeat.interval_ms, between(50, 60000));
  });
  top.section("keepalived", [&](Section& keepalived) {
    keepalived.read("track_file", config.keepalived.track_file);
    // keepalived reads the file into an int; keep the values themselves within its range.
    const auto track_value = between_signed(-2147483647, 2147483647);
    keepalived.read("healthy_value", config.keepalived.healthy_value, track_value);
    keepalived.read("degraded_value", config.keepalived.degraded_value, track_value);
    keepalived.read("failing_value", config.keepalived.failing_value, track_value);
    keepalived.read("unknown_value", config.keepalived.unknown_value, track_value);
  });
  top.section("alerts", [&](Section& alerts) {
    alerts.read("exec", config.alerts.exec);
    alerts.read("webhooks", config.alerts.webhooks);
    alerts.read("alertmanager_url", config.alerts.alertmanager_url, empty_or(http_url));
    alerts.read("alertmanager_timeout_ms", config.alerts.alertmanager_timeout_ms, between(1, 600000));
  });
}

void emit_sinks(YAML::Emitter& out, const Config& config) {
  emit_section(out, "http", [&] { emit(out, "listen", config.http.listen); });
  emit_section(out, "agent_check", [&] {
    emit(out, "listen", config.agent_check.listen);
    emit(out, "drain_below_weight", config.agent_check.drain_below_weight);
  });
  emit_section(out, "zookeeper", [&] {
    emit(out, "connect", config.zookeeper.connect);
    emit(out, "root", config.zookeeper.root);
    emit(out, "session_timeout_ms", config.zookeeper.session_timeout_ms);
    emit(out, "auth_file", config.zookeeper.auth_file);
  });
  emit_section(out, "heartbeat", [&] { emit(out, "interval_ms", config.heartbeat.interval_ms); });
  emit_section(out, "keepalived", [&] {
    emit(out, "track_file", config.keepalived.track_file);
    emit(out, "healthy_value", config.keepalived.healthy_value);
    emit(out, "degraded_value", config.keepalived.degraded_value);
    emit(out, "failing_value", config.keepalived.failing_value);
    emit(out, "unknown_value", config.keepalived.unknown_value);
  });
  emit_section(out, "alerts", [&] {
    emit(out, "exec", config.alerts.exec);
    emit(out, "webhooks", config.alerts.webhooks);
    emit(out, "alertmanager_url", config.alerts.alertmanager_url);
    emit(out, "alertmanager_timeout_ms", config.alerts.alertmanager_timeout_ms);
  });
}

}  // namespace nodepulse::config_detail
