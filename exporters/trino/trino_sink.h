// The trino sink (README "Trino workers"): moves the local Trino worker out of Trino's own
// scheduling while nodepulse's verdict is failing, through its node-state API
// (PUT /v1/info/state), and back when it is healthy again — under the cluster-wide drain budget in
// ZooKeeper (drain_budget.h). Never acts on a coordinator.
//
// Runs on its own SinkRunner thread like every sink: a Trino that hangs or answers garbage costs
// at most trino.timeout_ms per call and delays no other sink. Failed calls to Trino back off (doubling
// from 1 s to 60 s), so wrong credentials never become a retry storm. What it did and why is
// posted to the DrainStatusBoard for the heartbeats, exported as nodepulse_trino_drain_*, and
// logged once per transition.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "config/config.h"
#include "heartbeat/drain_board.h"
#include "sink.h"
#include "trino/drain_budget.h"
#include "trino/drain_metrics.h"
#include "trino/drain_policy.h"
#include "trino/trino_client.h"

namespace nodepulse {

struct TrinoSinkOptions {
  DrainMode mode = DrainMode::kReversible;
  std::chrono::milliseconds zk_loss_hold{10000};
  std::chrono::milliseconds backoff_min{1000};
  std::chrono::milliseconds backoff_max{60000};
  DrainBudgetOptions budget;  // node_id "" = the first heartbeat's
};

class TrinoSink final : public Sink {
 public:
  TrinoSink(std::unique_ptr<trino::Client> client, TrinoSinkOptions options, std::shared_ptr<DrainStatusBoard> board,
            std::shared_ptr<DrainMetrics> metrics);
  ~TrinoSink() override;  // gives back a queued place; a held slot goes with the session

  const char* name() const override { return "trino"; }
  Result<void> publish(const Heartbeat& heartbeat) override;

 private:
  using Clock = std::chrono::steady_clock;

  Result<void> reconcile(const Heartbeat& heartbeat);
  Result<void> probe();
  Result<void> drain(const Heartbeat& heartbeat);
  Result<void> keep_slot();
  Result<void> restore(const std::string& why);
  Result<DrainBudget*> budget(const std::string& node_id);
  void post(const std::string& state, const std::string& reason);
  void note_error(const Error& error, std::string_view kind);

  std::unique_ptr<trino::Client> client_;
  TrinoSinkOptions options_;
  std::shared_ptr<DrainStatusBoard> board_;
  std::shared_ptr<DrainMetrics> metrics_;
  std::unique_ptr<DrainBudget> budget_;

  std::optional<trino::ServerInfo> info_;  // nullopt: (re)probe Trino first
  std::optional<bool> reversible_;         // this Trino has DRAINING and back (probed once per Trino)
  std::optional<trino::NodeState> trino_state_;
  bool drained_by_us_ = false;
  bool awaiting_recovery_ = false;
  DrainStatus status_;

  Clock::time_point next_call_{};
  std::chrono::milliseconds backoff_{0};
  std::string last_logged_error_;
  Clock::time_point last_error_log_{};
};

// The sink trino.drain asks for (nullptr when it is off): trino.url (or the etc/ port),
// credentials from trino.password_file / password_env, the budget on zookeeper.*.
Result<std::unique_ptr<Sink>> make_trino_sink(const Config& config, std::shared_ptr<DrainStatusBoard> board,
                                              std::shared_ptr<DrainMetrics> metrics);

}  // namespace nodepulse
