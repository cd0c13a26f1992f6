#include "config/schema.h"

#include <string>

#include "config/value_checks.h"

namespace nodepulse::config_detail {
namespace {

// HAProxy's runtime API: a unix socket path or HOST:PORT.
Result<void> socket_address(const Value& at, const std::string& address) {
  if (address.starts_with('/')) return ok();
  if (listen_address_problem(address)) {
    return at.error("expected an absolute unix socket path or HOST:PORT, got " + in_quotes(address));
  }
  return ok();
}

}  // namespace

// Found by argument-dependent lookup from decode(std::vector<BalancerServerSpec>&).
Result<void> decode(const Value& value, BalancerServerSpec& server) {
  Section section(value);
  section.require("node_id", server.node_id, znode_name);
  section.read("name", server.name, empty_or(metric_label_name));
  section.read("address", server.address, empty_or(listen_address));
  return section.finish();
}

// Outside the anonymous namespace, whose own emit() would hide the generic ones in the lambda.
void emit(YAML::Emitter& out, std::string_view key, const std::vector<BalancerServerSpec>& servers) {
  emit_list(out, key, servers, [](YAML::Emitter& o, const BalancerServerSpec& server) {
    emit(o, "node_id", server.node_id);
    emit(o, "name", server.name);
    emit(o, "address", server.address);
  });
}

void read_balancer(Section& top, Config& config) {
  top.section("balancer", [&](Section& balancer) {
    Config::Balancer& b = config.balancer;
    balancer.read("listen", b.listen, listen_address);
    balancer.read("down_after_ms", b.down_after_ms, between(0, 600'000));
    balancer.read("max_unhealthy_fraction", b.max_unhealthy_fraction, fraction);
    balancer.read("max_payload_bytes", b.max_payload_bytes, between(256, 1'048'576));
    balancer.read("servers", b.servers, unique_member("node_id", &BalancerServerSpec::node_id, "node_id"));
    balancer.section("nginx", [&](Section& nginx) {
      nginx.read("upstream_file", b.nginx.upstream_file, empty_or(absolute_path));
      nginx.read("upstream", b.nginx.upstream, metric_label_name);
      nginx.read("conf", b.nginx.conf, empty_or(absolute_path));
      nginx.read("pid_file", b.nginx.pid_file, empty_or(absolute_path));
      nginx.read("binary", b.nginx.binary, not_empty);
      nginx.check("pid_file", b.nginx.upstream_file.empty() || !b.nginx.pid_file.empty(),
                  "must be set with upstream_file (the nginx master is signalled to reload)");
    });
    balancer.section("haproxy", [&](Section& haproxy) {
      haproxy.read("socket", b.haproxy.socket, empty_or(socket_address));
      haproxy.read("backend", b.haproxy.backend, metric_label_name);
    });
    balancer.section("gateway", [&](Section& gateway) {
      gateway.read("url", b.gateway.url, empty_or(http_url));
      gateway.read("timeout_ms", b.gateway.timeout_ms, between(1, 600000));
    });
  });
}

void emit_balancer(YAML::Emitter& out, const Config& config) {
  emit_section(out, "balancer", [&] {
    const Config::Balancer& b = config.balancer;
    emit(out, "listen", b.listen);
    emit(out, "down_after_ms", b.down_after_ms);
    emit(out, "max_unhealthy_fraction", b.max_unhealthy_fraction);
    emit(out, "max_payload_bytes", b.max_payload_bytes);
    emit(out, "servers", b.servers);
    emit_section(out, "nginx", [&] {
      emit(out, "upstream_file", b.nginx.upstream_file);
      emit(out, "upstream", b.nginx.upstream);
      emit(out, "conf", b.nginx.conf);
      emit(out, "pid_file", b.nginx.pid_file);
      emit(out, "binary", b.nginx.binary);
    });
    emit_section(out, "haproxy", [&] {
      emit(out, "socket", b.haproxy.socket);
      emit(out, "backend", b.haproxy.backend);
    });
    emit_section(out, "gateway", [&] {
      emit(out, "url", b.gateway.url);
      emit(out, "timeout_ms", b.gateway.timeout_ms);
    });
  });
}

}  // namespace nodepulse::config_detail
