// The configuration's schema: one read and one emit function per group of top-level keys, each
// defined in its section's file (*_config.cpp). config.cpp walks kSchema in order, so keys are read,
// listed in "unknown key" errors and rendered by to_yaml in this one order.
// Adding a key: one read() line and one emit() line in its section's file.
#pragma once

#include <yaml-cpp/yaml.h>

#include <array>

#include "config/config.h"
#include "config/yaml_walk.h"

namespace nodepulse::config_detail {

struct SchemaPart {
  void (*read)(Section& top, Config& config);
  void (*emit)(YAML::Emitter& out, const Config& config);
};

// agent_config.cpp
void read_identity(Section& top, Config& config);  // cluster, node
void emit_identity(YAML::Emitter& out, const Config& config);
void read_targets(Section& top, Config& config);
void emit_targets(YAML::Emitter& out, const Config& config);
void read_log(Section& top, Config& config);
void emit_log(YAML::Emitter& out, const Config& config);
void read_probes(Section& top, Config& config);
void emit_probes(YAML::Emitter& out, const Config& config);
void read_collection(Section& top, Config& config);  // collect, metrics
void emit_collection(YAML::Emitter& out, const Config& config);
// trino_config.cpp
void read_trino(Section& top, Config& config);
void emit_trino(YAML::Emitter& out, const Config& config);
// network_config.cpp
void read_network(Section& top, Config& config);
void emit_network(YAML::Emitter& out, const Config& config);
// sinks_config.cpp: http, agent_check, zookeeper, heartbeat, keepalived, alerts
void read_sinks(Section& top, Config& config);
void emit_sinks(YAML::Emitter& out, const Config& config);
// sched_config.cpp
void read_sched(Section& top, Config& config);
void emit_sched(YAML::Emitter& out, const Config& config);
// memory_config.cpp
void read_memory(Section& top, Config& config);
void emit_memory(YAML::Emitter& out, const Config& config);
// health_config.cpp
void read_health(Section& top, Config& config);
void emit_health(YAML::Emitter& out, const Config& config);
// balancer_config.cpp
void read_balancer(Section& top, Config& config);
void emit_balancer(YAML::Emitter& out, const Config& config);

inline constexpr std::array kSchema = {
    SchemaPart{read_identity, emit_identity},      // cluster, node
    SchemaPart{read_trino, emit_trino},            // trino
    SchemaPart{read_targets, emit_targets},        // targets
    SchemaPart{read_network, emit_network},        // network
    SchemaPart{read_sinks, emit_sinks},            // http, agent_check, zookeeper, heartbeat, keepalived, alerts
    SchemaPart{read_log, emit_log},                // log
    SchemaPart{read_sched, emit_sched},            // sched
    SchemaPart{read_probes, emit_probes},          // probes
    SchemaPart{read_memory, emit_memory},          // memory
    SchemaPart{read_health, emit_health},          // health
    SchemaPart{read_collection, emit_collection},  // collect, metrics
    SchemaPart{read_balancer, emit_balancer},      // balancer
};

}  // namespace nodepulse::config_detail
