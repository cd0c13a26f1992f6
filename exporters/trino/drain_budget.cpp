#include "trino/drain_budget.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/out_budget.h"

namespace nodepulse {
namespace {

using Clock = std::chrono::steady_clock;

// ZooKeeper appends a 10-digit counter to a sequential znode's name.
constexpr std::size_t kSequenceDigits = 10;

std::string sequence_of(const std::string& name) {
  return name.size() > kSequenceDigits ? name.substr(name.size() - kSequenceDigits) : name;
}

std::chrono::milliseconds left_until(Clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(1),
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
}

bool is_coordinator_payload(const std::string& data) {
  const nlohmann::json payload = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!payload.is_object()) return false;
  const auto role = payload.find("role");
  return role != payload.end() && role->is_string() && role->get<std::string>() == "coordinator";
}

}  // namespace

DrainBudget::DrainBudget(DrainBudgetOptions options) : options_(std::move(options)) {
  const std::string cluster = (options_.root == "/" ? "" : options_.root) + "/" + options_.cluster;
  drain_path_ = cluster + "/drain";
  nodes_path_ = cluster + "/nodes";
}

Result<std::unique_ptr<DrainBudget>> DrainBudget::open(DrainBudgetOptions options) {
  std::unique_ptr<DrainBudget> budget(new DrainBudget(std::move(options)));
  Result<std::unique_ptr<zk::SessionKeeper>> session = zk::SessionKeeper::open({.client = budget->options_.client});
  if (!session.ok()) return session.error();
  budget->session_ = std::move(session).value();
  return budget;
}

const ACL_vector& DrainBudget::acl(bool parent) const {
  if (options_.client.digest.empty()) return ZOO_OPEN_ACL_UNSAFE;
  return zk::creator_all_world_read_acl(parent);
}

Result<std::size_t> DrainBudget::count_workers(Clock::time_point deadline) {
  zk::ZkClient& client = session_->client();
  Result<std::optional<std::vector<std::string>>> nodes = client.children(nodes_path_, {}, left_until(deadline));
  if (!nodes.ok()) return nodes.error();
  if (!nodes->has_value()) return std::size_t{0};
  std::size_t workers = 0;
  for (const std::string& node : **nodes) {
    Result<std::optional<zk::Node>> payload = client.get(nodes_path_ + "/" + node, {}, left_until(deadline));
    if (!payload.ok()) return payload.error();
    // A node whose payload cannot be read counts: better one slot too few than one too many.
    if (payload->has_value() && is_coordinator_payload((*payload)->data)) continue;
    if (payload->has_value()) ++workers;
  }
  return workers;
}

Result<std::vector<std::string>> DrainBudget::take_place(Clock::time_point deadline) {
  if (Result<void> usable = session_->ensure(deadline); !usable.ok()) return usable.error();
  zk::ZkClient& client = session_->client();
  if (place_session_ != session_->session_id()) place_.clear();  // it went with the old session

  std::optional<std::vector<std::string>> slots;
  for (int attempt = 0; attempt < 2 && !slots; ++attempt) {
    if (place_.empty()) {
      if (parent_session_ != session_->session_id()) {
        Result<void> parent = zk::create_persistent_path(client, drain_path_, acl(/*parent=*/true), deadline);
        if (!parent.ok()) return parent.error();
        parent_session_ = session_->session_id();
      }
      // The C client's create() does not hand back the sequential name; it is found below by
      // our node id among the children, the one with the highest sequence being the newest.
      Result<int> rc = client.create(drain_path_ + "/" + options_.node_id + "-", options_.node_id,
                                     ZOO_EPHEMERAL | ZOO_SEQUENCE, acl(/*parent=*/false), left_until(deadline));
      if (!rc.ok()) return rc.error();
      if (*rc == ZNONODE) {
        parent_session_ = 0;  // drain/ deleted by hand: make it again on the next attempt
        continue;
      }
      if (*rc != ZOK) return Error{"create " + drain_path_ + "/" + options_.node_id + "-: " + zk::describe_rc(*rc)};
    }
    Result<std::optional<std::vector<std::string>>> children = client.children(drain_path_, {}, left_until(deadline));
    if (!children.ok()) return children.error();
    std::vector<std::string> names = children->value_or(std::vector<std::string>{});
    std::ranges::sort(names, {}, sequence_of);
    if (place_.empty()) {
      const std::string prefix = options_.node_id + "-";
      std::vector<std::string> ours;
      for (const std::string& name : names) {
        if (name.size() == prefix.size() + kSequenceDigits && name.starts_with(prefix)) ours.push_back(name);
      }
      if (ours.empty()) return Error{"zookeeper: the drain slot just created is not under " + drain_path_};
      place_ = ours.back();
      place_session_ = session_->session_id();
      // Older places of ours (a create whose answer was lost) would hold a second slot.
      for (std::size_t i = 0; i + 1 < ours.size(); ++i) {
        (void)client.remove(drain_path_ + "/" + ours[i], -1, left_until(deadline));
        std::erase(names, ours[i]);
      }
    }
    if (std::ranges::find(names, place_) != names.end()) {
      slots = std::move(names);
    } else {
      place_.clear();  // deleted by hand: take a new place
    }
  }
  if (!slots) return Error{"zookeeper: the drain slot keeps disappearing under " + drain_path_};
  return std::move(*slots);
}

Result<void> DrainBudget::keep_place() {
  Result<std::vector<std::string>> slots = take_place(Clock::now() + options_.timeout);
  if (!slots.ok()) return slots.error();
  return ok();
}

Result<DrainStanding> DrainBudget::claim() {
  const auto deadline = Clock::now() + options_.timeout;
  Result<std::vector<std::string>> slots = take_place(deadline);
  if (!slots.ok()) return slots.error();
  Result<std::size_t> workers = count_workers(deadline);
  if (!workers.ok()) return workers.error();
  DrainStanding standing;
  standing.workers = *workers;
  standing.allowed = max_out_of(*workers, options_.max_unhealthy_fraction);
  standing.position = static_cast<std::size_t>(std::ranges::find(*slots, place_) - slots->begin());
  standing.held = standing.position < standing.allowed;
  return standing;
}

Result<void> DrainBudget::release() {
  if (place_.empty()) return ok();
  const auto deadline = Clock::now() + options_.timeout;
  if (Result<void> usable = session_->ensure(deadline); !usable.ok()) return usable;
  if (place_session_ != session_->session_id()) {
    place_.clear();  // it went with the old session
    return ok();
  }
  Result<int> rc = session_->client().remove(drain_path_ + "/" + place_, -1, left_until(deadline));
  if (!rc.ok()) return rc.error();
  if (*rc != ZOK && *rc != ZNONODE) return Error{"delete " + drain_path_ + "/" + place_ + ": " + zk::describe_rc(*rc)};
  place_.clear();
  return ok();
}

}  // namespace nodepulse
