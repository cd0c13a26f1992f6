#include "trino/trino_sink.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/secret.h"
#include "config/trino.h"
#include "zookeeper/zk_sink.h"

namespace nodepulse {
namespace {

constexpr auto kErrorLogInterval = std::chrono::seconds(60);

std::string drain_state_name(trino::NodeState state) {
  switch (state) {
    case trino::NodeState::kDraining: return "draining";
    case trino::NodeState::kDrained: return "drained";
    case trino::NodeState::kShuttingDown: return "shutting_down";
    case trino::NodeState::kActive: return "active";
    default: return "unknown";
  }
}

std::string_view action_name(DrainMode mode) { return mode == DrainMode::kShutdown ? "shutdown" : "drain"; }

std::string_view outcome_of(const Error& error) {
  return trino::error_kind(error) == trino::kErrorRejected ? "rejected" : "error";
}

}  // namespace

TrinoSink::TrinoSink(std::unique_ptr<trino::Client> client, TrinoSinkOptions options,
                     std::shared_ptr<DrainStatusBoard> board, std::shared_ptr<DrainMetrics> metrics)
    : client_(std::move(client)), options_(std::move(options)), board_(std::move(board)), metrics_(std::move(metrics)) {
  status_.reason = "not asked yet";
  board_->post(status_);
  // Open the budget's session now, so that it is up before the first failing verdict needs it.
  if (!options_.budget.node_id.empty()) {
    if (Result<DrainBudget*> opened = budget(options_.budget.node_id); !opened.ok()) {
      spdlog::warn("trino: drain budget: {}", opened.error().message);
    }
  }
}

TrinoSink::~TrinoSink() {
  // A queued place would hold up the queue until the session closes; a held slot of a drained
  // worker is left to the session, which closes with the agent.
  if (budget_ && budget_->has_place() && !drained_by_us_) (void)budget_->release();
}

void TrinoSink::post(const std::string& state, const std::string& reason) {
  status_.state = state;
  status_.reason = reason;
  status_.trino_state = trino_state_ ? std::string(trino::to_string(*trino_state_)) : "";
  status_.slot = budget_ && budget_->has_place() && drained_by_us_;
  board_->post(status_);
  metrics_->set_state(state);
  metrics_->set_slot_held(status_.slot);
}

void TrinoSink::note_error(const Error& error, std::string_view kind) {
  metrics_->count_error(kind);
  status_.error = error.message;
  const auto now = Clock::now();
  if (error.message != last_logged_error_ || now - last_error_log_ >= kErrorLogInterval) {
    const char* hint = kind == trino::kErrorAuth
                           ? " (check trino.user, the password and Trino's access-control rule for writing "
                             "system information: README \"Trino workers\")"
                           : "";
    spdlog::error("trino: {}{}; next try in {} ms", error.message, hint, backoff_.count());
    last_logged_error_ = error.message;
    last_error_log_ = now;
  }
}

Result<DrainBudget*> TrinoSink::budget(const std::string& node_id) {
  if (!budget_) {
    DrainBudgetOptions options = options_.budget;
    if (options.node_id.empty()) options.node_id = node_id;
    Result<std::unique_ptr<DrainBudget>> opened = DrainBudget::open(std::move(options));
    if (!opened.ok()) return opened.error();
    budget_ = std::move(opened).value();
  }
  return budget_.get();
}

Result<void> TrinoSink::publish(const Heartbeat& heartbeat) {
  if (Clock::now() < next_call_) return ok();  // backing off: the last error stands in the status
  Result<void> outcome = reconcile(heartbeat);
  if (outcome.ok()) {
    backoff_ = std::chrono::milliseconds(0);
    status_.error.clear();
    board_->post(status_);
    return outcome;
  }
  const std::string_view kind = outcome.error().message.starts_with("zookeeper") ? std::string_view("zookeeper")
                                                                                 : trino::error_kind(outcome.error());
  // Trino's errors back off; ZooKeeper's do not (its session keeper paces reconnects itself, and
  // a failing node must get its slot at the next heartbeat once ZooKeeper answers).
  if (kind != "zookeeper") {
    backoff_ = std::clamp(backoff_ * 2, options_.backoff_min, options_.backoff_max);
    next_call_ = Clock::now() + backoff_;
  }
  note_error(outcome.error(), kind);
  board_->post(status_);
  return outcome;
}

Result<void> TrinoSink::probe() {
  Result<trino::ServerInfo> info = client_->info();
  if (!info.ok()) return info.error();
  if (info->starting) {
    post("unknown", "Trino is starting");
    return ok();  // probed again at the next heartbeat
  }
  spdlog::info("trino: {} is Trino {} ({})", client_->origin(), info->version,
               info->coordinator ? "coordinator: never drained by nodepulse" : "worker");
  info_ = *info;
  reversible_.reset();
  return ok();
}

Result<void> TrinoSink::reconcile(const Heartbeat& heartbeat) {
  if (!info_) {
    if (Result<void> probed = probe(); !probed.ok()) {
      post("unknown", "Trino does not answer");
      return probed;
    }
    if (!info_) return ok();
  }
  if (info_->coordinator) {
    post("coordinator", "a coordinator is never drained through its node-state API");
    return ok();
  }
  Result<trino::NodeState> state = client_->state();
  if (!state.ok()) {
    info_.reset();  // Trino may be restarting: probe it again
    trino_state_.reset();
    post("unknown", "Trino does not answer");
    return state.error();
  }
  trino_state_ = *state;
  if (*state == trino::NodeState::kActive) drained_by_us_ = false;  // undone by someone, or a new JVM
  if (heartbeat.verdict.state == HealthState::kHealthy) awaiting_recovery_ = false;

  if (options_.mode == DrainMode::kReversible && !reversible_) {
    if (*state == trino::NodeState::kDraining || *state == trino::NodeState::kDrained) {
      reversible_ = true;
    } else if (*state == trino::NodeState::kActive) {
      // ACTIVE to ACTIVE is a no-op where Trino has the reversible drain (NodeStateManager) and
      // a 400 "Invalid state transition to ACTIVE" where it has only SHUTTING_DOWN: the one
      // harmless question that tells them apart. It also proves the credentials.
      Result<void> same = client_->set_state(trino::NodeState::kActive);
      if (same.ok()) {
        reversible_ = true;
      } else if (trino::error_kind(same.error()) == trino::kErrorRejected) {
        reversible_ = false;
        spdlog::warn("trino: Trino {} has no reversible drain (DRAINING); nothing will be drained. "
                     "trino.drain: shutdown uses the one-way SHUTTING_DOWN instead",
                     info_->version);
      } else {
        post("unknown", "cannot tell whether this Trino can drain");
        return same.error();
      }
    }
  }
  if (options_.mode == DrainMode::kReversible && reversible_ == false) {
    if (budget_ && budget_->has_place()) (void)budget_->release();
    post("unsupported", "Trino " + info_->version + " has no reversible drain (trino.drain: shutdown would use SHUTTING_DOWN)");
    return ok();
  }

  const std::chrono::milliseconds zk_lost_for = budget_ ? budget_->disconnected_for() : std::chrono::milliseconds(0);
  const DrainView view{.verdict = heartbeat.verdict.state,
                       .trino_state = *state,
                       .mode = options_.mode,
                       .drained_by_us = drained_by_us_,
                       .has_place = budget_ && budget_->has_place(),
                       .awaiting_recovery = awaiting_recovery_,
                       .zk_lost_for = zk_lost_for,
                       .zk_loss_hold = options_.zk_loss_hold};
  Result<void> outcome = ok();
  switch (next_drain_step(view)) {
    case DrainStep::kDrain:
      outcome = drain(heartbeat);
      break;
    case DrainStep::kKeepSlot:
      outcome = keep_slot();
      break;
    case DrainStep::kRestore:
      outcome = restore(view.zk_lost_for > options_.zk_loss_hold
                            ? "ZooKeeper lost for " + std::to_string(view.zk_lost_for.count()) +
                                  " ms (trino.zk_loss_hold_ms " + std::to_string(options_.zk_loss_hold.count()) + ")"
                            : "healthy again");
      break;
    case DrainStep::kRelease:
      outcome = budget_->release();
      [[fallthrough]];
    case DrainStep::kNothing:
      if (status_.state != "budget_exhausted" || heartbeat.verdict.state != HealthState::kFailing ||
          is_out_of_scheduling(*state)) {
        const bool held = drained_by_us_ && zk_lost_for.count() > 0 && is_out_of_scheduling(*state);
        post(held ? "held" : drain_state_name(*state),
             held ? "drained; ZooKeeper lost for " + std::to_string(zk_lost_for.count()) + " ms"
                  : (is_out_of_scheduling(*state) ? (drained_by_us_ ? "drained by nodepulse" : "not drained by nodepulse")
                                                  : "in scheduling"));
      }
      break;
  }
  return outcome;
}

Result<void> TrinoSink::drain(const Heartbeat& heartbeat) {
  Result<DrainBudget*> slots = budget(heartbeat.node.node_id);
  if (!slots.ok()) return slots.error();
  Result<DrainStanding> standing = (*slots)->claim();
  if (!standing.ok()) {
    post("budget_exhausted", "failing, but no drain slot can be taken (ZooKeeper does not answer): stays in scheduling");
    const std::string& message = standing.error().message;
    return Error{message.starts_with("zookeeper") ? message : "zookeeper: " + message};
  }
  if (!standing->held) {
    const std::string reason = "budget exhausted: failing, but " + std::to_string(standing->allowed) + " of " +
                               std::to_string(standing->workers) +
                               " workers may be drained at once and the slots are taken (place " +
                               std::to_string(standing->position + 1) + "): stays in scheduling";
    if (status_.state != "budget_exhausted") {
      metrics_->count_transition(action_name(options_.mode), "budget_exhausted");
      spdlog::warn("trino: {}", reason);
    }
    post("budget_exhausted", reason);
    return ok();
  }
  const trino::NodeState target =
      options_.mode == DrainMode::kShutdown ? trino::NodeState::kShuttingDown : trino::NodeState::kDraining;
  if (Result<void> asked = client_->set_state(target); !asked.ok()) {
    metrics_->count_transition(action_name(options_.mode), outcome_of(asked.error()));
    post(drain_state_name(*trino_state_), "failing; the drain request failed");
    return asked;
  }
  trino_state_ = target;
  drained_by_us_ = true;
  awaiting_recovery_ = options_.mode == DrainMode::kShutdown;
  metrics_->count_transition(action_name(options_.mode), "ok");
  spdlog::warn("trino: {} out of scheduling ({}; slot {} of {}): {}", heartbeat.node.node_id, trino::to_string(target),
               standing->position + 1, standing->allowed, join_reasons(heartbeat.verdict.reasons));
  post(drain_state_name(target), "failing: " + join_reasons(heartbeat.verdict.reasons));
  return ok();
}

Result<void> TrinoSink::keep_slot() {
  const std::chrono::milliseconds lost = budget_ ? budget_->disconnected_for() : std::chrono::milliseconds(0);
  if (budget_) {
    if (Result<void> kept = budget_->keep_place(); !kept.ok()) {
      post("held", "drained; ZooKeeper lost for " + std::to_string(lost.count()) + " ms, kept for at most " +
                       std::to_string(options_.zk_loss_hold.count()) + " ms");
      status_.error = kept.error().message;
      board_->post(status_);
      return ok();  // not an error of this sink: the hold rule decides
    }
  }
  post(drain_state_name(*trino_state_), "failing; drained by nodepulse");
  return ok();
}

Result<void> TrinoSink::restore(const std::string& why) {
  if (Result<void> asked = client_->set_state(trino::NodeState::kActive); !asked.ok()) {
    metrics_->count_transition("restore", outcome_of(asked.error()));
    return asked;
  }
  trino_state_ = trino::NodeState::kActive;
  drained_by_us_ = false;
  metrics_->count_transition("restore", "ok");
  spdlog::info("trino: back in scheduling (ACTIVE): {}", why);
  Result<void> released = budget_ ? budget_->release() : ok();
  post("active", "restored: " + why);
  if (!released.ok()) return Error{"zookeeper: " + released.error().message};
  return ok();
}

Result<std::unique_ptr<Sink>> make_trino_sink(const Config& config, std::shared_ptr<DrainStatusBoard> board,
                                              std::shared_ptr<DrainMetrics> metrics) {
  const Config::Trino& t = config.trino;
  Result<std::string> password =
      read_secret({t.password_file, t.password_env, "trino.password_file", "trino.password_env", "password"});
  if (!password.ok()) return password.error();
  Result<std::unique_ptr<trino::Client>> client =
      trino::Client::create({.base_url = local_trino_url(config),
                             .user = t.user,
                             .password = *password,
                             .ca_file = t.ca_file,
                             .timeout = std::chrono::milliseconds(t.timeout_ms)});
  if (!client.ok()) return client.error();
  std::string digest;
  if (!config.zookeeper.auth_file.empty()) {
    Result<std::string> credentials = read_digest_credentials(config.zookeeper.auth_file);
    if (!credentials.ok()) return credentials.error();
    digest = *credentials;
  }
  TrinoSinkOptions options;
  options.mode = t.drain == "shutdown" ? DrainMode::kShutdown : DrainMode::kReversible;
  options.zk_loss_hold = std::chrono::milliseconds(t.zk_loss_hold_ms);
  options.budget = {.client = {.connect = config.zookeeper.connect,
                               .session_timeout = std::chrono::milliseconds(config.zookeeper.session_timeout_ms),
                               .digest = digest},
                    .root = config.zookeeper.root,
                    .cluster = config.cluster,
                    .node_id = config.node.id,
                    .max_unhealthy_fraction = t.max_unhealthy_fraction,
                    .timeout = std::chrono::milliseconds(1000)};
  spdlog::info("trino: drain mode {} on {} (budget: {} of the workers at most)", t.drain, local_trino_url(config),
               t.max_unhealthy_fraction);
  return std::unique_ptr<Sink>(
      std::make_unique<TrinoSink>(std::move(client).value(), std::move(options), std::move(board), std::move(metrics)));
}

}  // namespace nodepulse
