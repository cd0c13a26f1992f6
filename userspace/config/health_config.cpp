#include "config/schema.h"

#include <string>

namespace nodepulse::config_detail {

void read_health(Section& top, Config& config) {
  top.section("health", [&](Section& health) {
    health.read("recover_after_ms", config.health.recover_after_ms, between(0, 600'000));
    health.read("window_ms", config.health.window_ms, between(1000, 600'000));
    health.read("runq_p99_warn_ms", config.health.runq_p99_warn_ms, between(1, 60'000));
    health.read("runq_p99_fail_ms", config.health.runq_p99_fail_ms, between(1, 60'000));
    health.read("runq_stall_fail_ms", config.health.runq_stall_fail_ms, between(1, 600'000));
    health.read("stopped_fail_ms", config.health.stopped_fail_ms, between(0, 600'000));
    health.read("jvm_pause_warn_ms", config.health.jvm_pause_warn_ms, between(1, 600'000));
    health.read("jvm_pause_fail_ms", config.health.jvm_pause_fail_ms, between(1, 600'000));
    // A warn threshold must lie below its fail threshold; the error names the key that was set.
    auto warn_below_fail = [&health](const std::string& warn_key, uint32_t warn, const std::string& fail_key,
                                     uint32_t fail) {
      if (health.has(fail_key)) {
        health.check(fail_key, warn < fail, "must be above " + warn_key + " (" + std::to_string(warn) + ")");
      } else {
        health.check(warn_key, warn < fail, "must be below " + fail_key + " (" + std::to_string(fail) + ")");
      }
    };
    warn_below_fail("runq_p99_warn_ms", config.health.runq_p99_warn_ms, "runq_p99_fail_ms",
                    config.health.runq_p99_fail_ms);
    warn_below_fail("jvm_pause_warn_ms", config.health.jvm_pause_warn_ms, "jvm_pause_fail_ms",
                    config.health.jvm_pause_fail_ms);
  });
}

void emit_health(YAML::Emitter& out, const Config& config) {
  emit_section(out, "health", [&] {
    emit(out, "recover_after_ms", config.health.recover_after_ms);
    emit(out, "window_ms", config.health.window_ms);
    emit(out, "runq_p99_warn_ms", config.health.runq_p99_warn_ms);
    emit(out, "runq_p99_fail_ms", config.health.runq_p99_fail_ms);
    emit(out, "runq_stall_fail_ms", config.health.runq_stall_fail_ms);
    emit(out, "stopped_fail_ms", config.health.stopped_fail_ms);
    emit(out, "jvm_pause_warn_ms", config.health.jvm_pause_warn_ms);
    emit(out, "jvm_pause_fail_ms", config.health.jvm_pause_fail_ms);
  });
}

}  // namespace nodepulse::config_detail
