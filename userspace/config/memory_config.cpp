#include "config/schema.h"

#include <string>

namespace nodepulse::config_detail {

void read_memory(Section& top, Config& config) {
  top.section("memory", [&](Section& memory) {
    memory.read("psi_trigger_window_us", config.memory.psi_trigger_window_us, between(500000, 10000000));
    memory.read("psi_trigger_stall_us", config.memory.psi_trigger_stall_us,  // read after the window it must fit in
                [&](const Value& at, uint64_t stall) -> Result<void> {
                  if (stall < config.memory.psi_trigger_window_us) return ok();
                  return at.error("expected 0 (off) or less than memory.psi_trigger_window_us (" +
                                  std::to_string(config.memory.psi_trigger_window_us) + "), got " +
                                  std::to_string(stall));
                });
  });
}

void emit_memory(YAML::Emitter& out, const Config& config) {
  emit_section(out, "memory", [&] {
    emit(out, "psi_trigger_stall_us", config.memory.psi_trigger_stall_us);
    emit(out, "psi_trigger_window_us", config.memory.psi_trigger_window_us);
  });
}

}  // namespace nodepulse::config_detail
