#include "config/schema.h"

#include <cstdint>
#include <vector>

#include "config/value_checks.h"

namespace nodepulse::config_detail {
namespace {

Result<void> port_number(const Value& at, uint16_t port) {
  if (port != 0) return ok();
  return at.error("expected a port number 1-65535, got 0");
}

void emit(YAML::Emitter& out, std::string_view key, const std::vector<uint16_t>& numbers) {
  out << YAML::Key << std::string(key) << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (uint16_t number : numbers) out << number;
  out << YAML::EndSeq;
}

}  // namespace

void read_network(Section& top, Config& config) {
  top.section("network", [&](Section& network) {
    network.read("netns", config.network.netns, empty_or(absolute_path));
    network.read("ports", config.network.ports, each(port_number), no_duplicates);
    network.read("max_peers", config.network.max_peers, between(1, 4096));
  });
}

void emit_network(YAML::Emitter& out, const Config& config) {
  emit_section(out, "network", [&] {
    emit(out, "netns", config.network.netns);
    emit(out, "ports", config.network.ports);
    emit(out, "max_peers", config.network.max_peers);
  });
}

}  // namespace nodepulse::config_detail
