// The trino sink's decision, pure over what it knows, so every rule is tested without Trino,
// ZooKeeper or a clock (tests/unit/trino_drain_test.cpp).
#pragma once

#include <chrono>
#include <string_view>

#include "health/verdict.h"
#include "trino/trino_client.h"

namespace nodepulse {

enum class DrainMode : uint8_t { kReversible, kShutdown };  // trino.drain: auto | shutdown

enum class DrainStep : uint8_t {
  kNothing,
  kDrain,     // take a slot, then ask Trino for DRAINING (or SHUTTING_DOWN)
  kKeepSlot,  // drained and still failing: keep this node's place in the budget
  kRestore,   // ask Trino for ACTIVE and give the slot back
  kRelease,   // give back a place this node no longer needs
};
std::string_view to_string(DrainStep step);

struct DrainView {
  HealthState verdict = HealthState::kUnknown;
  trino::NodeState trino_state = trino::NodeState::kActive;
  DrainMode mode = DrainMode::kReversible;
  bool drained_by_us = false;      // the drain Trino shows is one this agent asked for
  bool has_place = false;          // this node has a znode under drain/
  bool awaiting_recovery = false;  // a SHUTTING_DOWN of ours: no new one before a healthy verdict
  std::chrono::milliseconds zk_lost_for{0};   // zero while ZooKeeper is there
  std::chrono::milliseconds zk_loss_hold{10000};
};

// Out of scheduling: failing drains (a slot first); healthy restores a drain this agent made
// (degraded and unknown keep what is, so the verdict's own hysteresis is the only one); a drain
// of ours outlives a ZooKeeper loss by zk_loss_hold at most, then is undone (fail static: a
// fleet that lost ZooKeeper must not stay drained). A drain this agent did not make (an
// operator's) is never undone; SHUTTING_DOWN cannot be.
DrainStep next_drain_step(const DrainView& view);

bool is_out_of_scheduling(trino::NodeState state);

}  // namespace nodepulse
