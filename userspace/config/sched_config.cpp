#include "config/schema.h"

namespace nodepulse::config_detail {

void read_sched(Section& top, Config& config) {
  top.section("sched", [&](Section& sched) {
    sched.read("stall_threshold_ms", config.sched.stall_threshold_ms, between(1, 60000));
    sched.read("queue_timestamps", config.sched.queue_timestamps, one_of({"auto", "schedstat", "wakeup"}));
  });
}

void emit_sched(YAML::Emitter& out, const Config& config) {
  emit_section(out, "sched", [&] {
    emit(out, "stall_threshold_ms", config.sched.stall_threshold_ms);
    emit(out, "queue_timestamps", config.sched.queue_timestamps);
  });
}

}  // namespace nodepulse::config_detail
