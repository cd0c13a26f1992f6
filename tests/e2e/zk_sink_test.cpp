// The ZooKeeper sink against real ZooKeeper servers the test starts (standalone and a 3-node
// ensemble on loopback), driven through a SinkRunner with synthetic heartbeats, as the agent
// drives it. Each case prints what it measured.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "sink_runner.h"
#include "zk/zk_client.h"
#include "zookeeper.h"
#include "zookeeper/zk_sink.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::ZooKeeperEnsemble;

constexpr const char* kCluster = "e2e";
constexpr const char* kNodesPath = "/nodepulse/e2e/nodes";
constexpr const char* kFailingPath = "/nodepulse/e2e/failing";

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

uint64_t wall_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

std::string node_id() { return "worker-" + std::to_string(::getpid()); }
std::string node_path() { return std::string(kNodesPath) + "/" + node_id(); }
std::string failing_path() { return std::string(kFailingPath) + "/" + node_id(); }

Heartbeat make_heartbeat(uint64_t seq, HealthState state) {
  Heartbeat heartbeat;
  heartbeat.node = {.node_id = node_id(), .cluster = kCluster, .role = "worker", .host = "host-a", .version = "test"};
  heartbeat.verdict.state = state;
  switch (state) {
    case HealthState::kHealthy: heartbeat.verdict.weight = 100; break;
    case HealthState::kDegraded:
      heartbeat.verdict.weight = 60;
      heartbeat.verdict.reasons = {"runq: p99 wait 12 ms"};
      break;
    case HealthState::kFailing:
      heartbeat.verdict.weight = 0;
      heartbeat.verdict.reasons = {"target: trino exited", "jvm: pause in progress 1.4 s"};
      break;
    case HealthState::kUnknown: heartbeat.verdict.weight = 0; break;
  }
  heartbeat.seq = seq;
  heartbeat.ts_ms = wall_ms();
  return heartbeat;
}

ZkSinkOptions sink_options(const std::string& connect) {
  ZkSinkOptions options;
  options.connect = connect;
  options.root = "/nodepulse";
  options.session_timeout = 4000ms;
  options.publish_timeout = 1000ms;
  return options;
}

std::unique_ptr<Sink> make_sink(const ZkSinkOptions& options) {
  Result<std::unique_ptr<ZkSink>> sink = ZkSink::create(options);
  if (!sink.ok()) throw std::runtime_error(sink.error().message);
  return std::move(sink).value();
}

// Every publish the runner made: when it ended, how long it took, and how it went.
class PublishLog {
 public:
  struct Entry {
    Clock::time_point finished;
    double seconds = 0;
    bool ok = false;
    std::string error;
  };

  SinkObserver observer() {
    return {[this](const char*, double seconds, const Result<void>& result) {
      std::lock_guard lock(mutex_);
      entries_.push_back({Clock::now(), seconds, result.ok(), result.ok() ? "" : result.error().message});
    }};
  }

  std::vector<Entry> entries() const {
    std::lock_guard lock(mutex_);
    return entries_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

// Offers a heartbeat every `period`, with the next seq and the state it is told, as the agent's
// publisher does; stops when it goes out of scope.
class Pacer {
 public:
  Pacer(SinkRunner& runner, std::chrono::milliseconds period, HealthState state = HealthState::kHealthy)
      : state_(state), thread_([this, &runner, period](std::stop_token stop) {
          while (!stop.stop_requested()) {
            runner.offer(make_heartbeat(++seq_, state_.load()));
            std::this_thread::sleep_for(period);
          }
        }) {}

  void set_state(HealthState state) { state_ = state; }
  uint64_t seq() const { return seq_.load(); }

 private:
  std::atomic<HealthState> state_;
  std::atomic<uint64_t> seq_{0};
  std::jthread thread_;
};

template <class Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout, std::chrono::milliseconds poll = 20ms) {
  const auto until = Clock::now() + timeout;
  while (Clock::now() < until) {
    if (predicate()) return true;
    std::this_thread::sleep_for(poll);
  }
  return predicate();
}

std::unique_ptr<zk::ZkClient> reader(const std::string& connect, const std::string& digest = "") {
  Result<std::unique_ptr<zk::ZkClient>> client =
      zk::ZkClient::connect({.connect = connect, .session_timeout = 4000ms, .digest = digest}, 10s);
  if (!client.ok()) throw std::runtime_error(client.error().message);
  return std::move(client).value();
}

// The znode's payload and stat; nullopt when it is absent or cannot be read right now.
struct Published {
  nlohmann::json payload;
  Stat stat{};
};

std::optional<Published> read_node(zk::ZkClient& client, const std::string& path) {
  Result<std::optional<zk::Node>> node = client.get(path);
  if (!node.ok() || !node->has_value()) return std::nullopt;
  nlohmann::json payload = nlohmann::json::parse((*node)->data, nullptr, /*allow_exceptions=*/false);
  if (payload.is_discarded()) return std::nullopt;
  return Published{std::move(payload), (*node)->stat};
}

uint64_t seq_of(const std::optional<Published>& published) {
  return published ? published->payload.value("seq", uint64_t{0}) : 0;
}

bool exists(zk::ZkClient& client, const std::string& path) {
  Result<std::optional<Stat>> stat = client.exists(path);
  return stat.ok() && stat->has_value();
}

// One watch event, timed when the C client delivered it.
class WatchEvent {
 public:
  zk::Watcher watcher() {
    return [this](int type, const std::string&) {
      std::lock_guard lock(mutex_);
      type_ = type;
      at_ = Clock::now();
      fired_.notify_all();
    };
  }

  std::optional<std::pair<int, Clock::time_point>> wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!fired_.wait_for(lock, timeout, [this] { return type_ != 0; })) return std::nullopt;
    return std::make_pair(type_, at_);
  }

 private:
  std::mutex mutex_;
  std::condition_variable fired_;
  int type_ = 0;
  Clock::time_point at_;
};

// ---- Cases.

TEST(ZkSink, PublishesHeartbeatAsEphemeralZnodeAndRewritesIt) {
  NODEPULSE_REQUIRE_ZOOKEEPER();
  ZooKeeperEnsemble zookeeper(1);
  PublishLog log;
  SinkRunner runner(make_sink(sink_options(zookeeper.connect_string())), log.observer());
  auto client = reader(zookeeper.connect_string());

  const Heartbeat first = make_heartbeat(1, HealthState::kHealthy);
  const auto offered = Clock::now();
  runner.offer(first);
  ASSERT_TRUE(eventually([&] { return read_node(*client, node_path()).has_value(); }, 5s)) << zookeeper.logs();
  std::printf("[ measured ] first heartbeat (session set-up included) visible after %.1f ms\n",
              ms_between(offered, Clock::now()));

  const std::optional<Published> published = read_node(*client, node_path());
  ASSERT_TRUE(published);
  const nlohmann::json& payload = published->payload;
  EXPECT_EQ(payload["node_id"], node_id());
  EXPECT_EQ(payload["cluster"], kCluster);
  EXPECT_EQ(payload["role"], "worker");
  EXPECT_EQ(payload["state"], "healthy");
  EXPECT_EQ(payload["weight"], 100);
  EXPECT_EQ(payload["reasons"], nlohmann::json::array());
  EXPECT_EQ(payload["seq"], 1u);
  EXPECT_EQ(payload["ts_ms"], first.ts_ms);
  EXPECT_NE(published->stat.ephemeralOwner, 0) << "the node's znode must be ephemeral";
  EXPECT_EQ(client->exists(failing_path()).value(), std::nullopt) << "not failing: no failing/ znode";
  for (const char* parent : {"/nodepulse", "/nodepulse/e2e", kNodesPath, kFailingPath}) {
    Result<std::optional<Stat>> stat = client->exists(parent);
    ASSERT_TRUE(stat.ok() && stat->has_value()) << parent;
    EXPECT_EQ((*stat)->ephemeralOwner, 0) << parent << " must be persistent";
  }

  // Each heartbeat rewrites it: the seq a reader sees only grows, and the last one lands.
  uint64_t last_seen = 1;
  bool decreased = false;
  const auto rewrites_started = Clock::now();
  for (uint64_t seq = 2; seq <= 20; ++seq) {
    runner.offer(make_heartbeat(seq, HealthState::kDegraded));
    std::this_thread::sleep_for(20ms);
    const uint64_t seen = seq_of(read_node(*client, node_path()));
    decreased = decreased || seen < last_seen;
    last_seen = std::max(last_seen, seen);
  }
  ASSERT_TRUE(eventually([&] { return seq_of(read_node(*client, node_path())) == 20; }, 3s));
  std::printf("[ measured ] 19 rewrites landed within %.1f ms\n", ms_between(rewrites_started, Clock::now()));
  EXPECT_FALSE(decreased) << "the published seq went backwards";
  const std::optional<Published> last = read_node(*client, node_path());
  ASSERT_TRUE(last);
  EXPECT_EQ(last->payload["state"], "degraded");
  EXPECT_EQ(last->payload["weight"], 60);
  EXPECT_EQ(last->payload["reasons"], nlohmann::json::array({"runq: p99 wait 12 ms"}));
  EXPECT_EQ(last->stat.ephemeralOwner, published->stat.ephemeralOwner) << "rewritten, not re-created";
  EXPECT_EQ(last->stat.ctime, published->stat.ctime) << "rewritten, not re-created";
  for (const PublishLog::Entry& entry : log.entries()) EXPECT_TRUE(entry.ok) << entry.error;
}

TEST(ZkSink, FailingZnodeAppearsAtOnceAndGoesOnRecovery) {
  NODEPULSE_REQUIRE_ZOOKEEPER();
  ZooKeeperEnsemble zookeeper(1);
  PublishLog log;
  SinkRunner runner(make_sink(sink_options(zookeeper.connect_string())), log.observer());
  auto client = reader(zookeeper.connect_string());

  runner.offer(make_heartbeat(1, HealthState::kHealthy));
  ASSERT_TRUE(eventually([&] { return seq_of(read_node(*client, node_path())) == 1; }, 5s));

  // A balancer's view: one exists-watch on failing/<id>, one event when it appears.
  WatchEvent created;
  ASSERT_EQ(client->exists(failing_path(), created.watcher()).value(), std::nullopt);
  Heartbeat failing = make_heartbeat(2, HealthState::kFailing);
  failing.state_changed = true;
  failing.previous_state = HealthState::kHealthy;
  const auto failing_offered = Clock::now();
  runner.offer(failing);
  const auto created_event = created.wait(3s);
  ASSERT_TRUE(created_event) << "no watch event for " << failing_path();
  EXPECT_EQ(created_event->first, ZOO_CREATED_EVENT);
  const double to_created_ms = ms_between(failing_offered, created_event->second);
  std::printf("[ measured ] state change -> failing/ watch event: %.1f ms\n", to_created_ms);
  EXPECT_LT(to_created_ms, 500);

  ASSERT_TRUE(eventually([&] { return seq_of(read_node(*client, node_path())) == 2; }, 3s));
  const std::optional<Published> published = read_node(*client, node_path());
  ASSERT_TRUE(published);
  EXPECT_EQ(published->payload["state"], "failing");
  EXPECT_EQ(published->payload["weight"], 0);
  EXPECT_EQ(published->payload["reasons"],
            nlohmann::json::array({"target: trino exited", "jvm: pause in progress 1.4 s"}));
  Result<std::optional<Stat>> failing_stat = client->exists(failing_path());
  ASSERT_TRUE(failing_stat.ok() && failing_stat->has_value());
  EXPECT_NE((*failing_stat)->ephemeralOwner, 0) << "failing/<id> must be ephemeral";

  // Staying failing keeps it (no churn: the same znode).
  runner.offer(make_heartbeat(3, HealthState::kFailing));
  ASSERT_TRUE(eventually([&] { return seq_of(read_node(*client, node_path())) == 3; }, 3s));
  Result<std::optional<Stat>> still = client->exists(failing_path());
  ASSERT_TRUE(still.ok() && still->has_value());
  EXPECT_EQ((*still)->czxid, (*failing_stat)->czxid);

  WatchEvent deleted;
  ASSERT_TRUE(client->exists(failing_path(), deleted.watcher()).value().has_value());
  Heartbeat recovered = make_heartbeat(4, HealthState::kHealthy);
  recovered.state_changed = true;
  recovered.previous_state = HealthState::kFailing;
  const auto recovered_offered = Clock::now();
  runner.offer(recovered);
  const auto deleted_event = deleted.wait(3s);
  ASSERT_TRUE(deleted_event) << "failing/<id> was not deleted on recovery";
  EXPECT_EQ(deleted_event->first, ZOO_DELETED_EVENT);
  std::printf("[ measured ] recovery -> failing/ deleted event: %.1f ms\n",
              ms_between(recovered_offered, deleted_event->second));
  // The payload was rewritten before failing/<id> went away.
  EXPECT_EQ(read_node(*client, node_path())->payload["state"], "healthy");
  for (const PublishLog::Entry& entry : log.entries()) EXPECT_TRUE(entry.ok) << entry.error;
}

TEST(ZkSink, HeartbeatsContinueWhenTheLeaderIsKilled) {
  NODEPULSE_REQUIRE_ZOOKEEPER();
  ZooKeeperEnsemble zookeeper(3);
  PublishLog log;
  SinkRunner runner(make_sink(sink_options(zookeeper.connect_string())), log.observer());
  Pacer pacer(runner, 200ms);
  auto client = reader(zookeeper.connect_string());

  ASSERT_TRUE(eventually([&] { return seq_of(read_node(*client, node_path())) >= 3; }, 10s)) << zookeeper.logs();
  const std::optional<Published> before = read_node(*client, node_path());
  ASSERT_TRUE(before);
  const std::optional<int> leader = zookeeper.leader();
  ASSERT_TRUE(leader) << "no leader among " << zookeeper.connect_string();

  zookeeper.kill(*leader);
  const auto killed = Clock::now();
  const uint64_t seq_at_kill = pacer.seq();
  // The reader may have been on the dead leader too: read through whatever it reconnects to.
  std::optional<double> first_advance_ms;
  const bool continued = eventually(
      [&] {
        const uint64_t seen = seq_of(read_node(*client, node_path()));
        if (seen > seq_at_kill && !first_advance_ms) first_advance_ms = ms_between(killed, Clock::now());
        return seen >= seq_at_kill + 5;
      },
      8s);
  ASSERT_TRUE(continued) << "heartbeats stopped after the leader (server " << *leader + 1 << ") was killed\n"
                         << zookeeper.logs();
  std::printf("[ measured ] leader (server %d) killed: next heartbeat visible after %.1f ms, 5 more after %.1f ms\n",
              *leader + 1, first_advance_ms.value_or(-1), ms_between(killed, Clock::now()));
  EXPECT_LT(*first_advance_ms, 5000);

  const std::optional<Published> after = read_node(*client, node_path());
  ASSERT_TRUE(after);
  EXPECT_EQ(after->stat.ephemeralOwner, before->stat.ephemeralOwner) << "the session (and its ephemeral) stayed";
  EXPECT_EQ(after->stat.czxid, before->stat.czxid) << "the ephemeral znode stayed; it was not re-created";
  const std::optional<int> new_leader = zookeeper.leader();
  ASSERT_TRUE(new_leader);
  EXPECT_NE(*new_leader, *leader);
}

TEST(ZkSink, PublishFailsFastWhileEveryServerIsDownAndZnodesComeBack) {
  NODEPULSE_REQUIRE_ZOOKEEPER();
  ZooKeeperEnsemble zookeeper(3);
  PublishLog log;
  SinkRunner runner(make_sink(sink_options(zookeeper.connect_string())), log.observer());
  Pacer pacer(runner, 200ms);
  auto client = reader(zookeeper.connect_string());
  ASSERT_TRUE(eventually([&] { return seq_of(read_node(*client, node_path())) >= 3; }, 10s)) << zookeeper.logs();

  for (int i = 0; i < zookeeper.size(); ++i) zookeeper.kill(i);
  const auto down = Clock::now();
  const uint64_t seq_when_down = pacer.seq();
  std::this_thread::sleep_for(5s);
  pacer.set_state(HealthState::kFailing);  // a state change while ZooKeeper is away
  std::this_thread::sleep_for(5s);
  for (int i = 0; i < zookeeper.size(); ++i) zookeeper.start(i);
  const auto restarted = Clock::now();

  // Every publish while the ensemble was down came back promptly, with an error.
  std::size_t during = 0;
  std::size_t errors = 0;
  double longest_ms = 0;
  for (const PublishLog::Entry& entry : log.entries()) {
    if (entry.finished < down + 300ms || entry.finished > restarted) continue;
    ++during;
    if (!entry.ok) ++errors;
    longest_ms = std::max(longest_ms, entry.seconds * 1000);
    EXPECT_LT(entry.seconds, 1.5) << "a publish blocked while ZooKeeper was down: " << entry.error;
  }
  std::printf("[ measured ] 10 s outage: %zu publishes, %zu errors, longest %.1f ms\n", during, errors, longest_ms);
  EXPECT_GE(during, 20u) << "the sink thread stopped taking heartbeats";
  EXPECT_GE(errors, during - 1) << "publishes succeeded with every server down?";

  ASSERT_TRUE(zookeeper.wait_ready(30s)) << zookeeper.logs();
  std::printf("[ measured ] ensemble serving again %.1f ms after the restart\n", ms_between(restarted, Clock::now()));
  // The next heartbeats put everything back, including the failing/ znode of the new state.
  const bool back = eventually(
      [&] {
        const std::optional<Published> now = read_node(*client, node_path());
        return now && seq_of(now) > seq_when_down && now->payload["state"] == "failing" &&
               exists(*client, failing_path());
      },
      15s, 50ms);
  ASSERT_TRUE(back) << "the znodes did not come back\n" << zookeeper.logs();
  std::printf("[ measured ] node and failing/ znodes back %.1f ms after the restart\n",
              ms_between(restarted, Clock::now()));
  const Stat node_stat = read_node(*client, node_path())->stat;
  EXPECT_NE(node_stat.ephemeralOwner, 0);

  pacer.set_state(HealthState::kHealthy);
  ASSERT_TRUE(eventually([&] { return !exists(*client, failing_path()); }, 5s));
  EXPECT_EQ(read_node(*client, node_path())->payload["state"], "healthy");
}

// The node and failing/ znodes exist, and are owned by a session other than `old_session`.
bool recreated_in_new_session(zk::ZkClient& client, int64_t old_session) {
  const std::optional<Published> now = read_node(client, node_path());
  if (!now || now->stat.ephemeralOwner == old_session) return false;
  Result<std::optional<Stat>> failing = client.exists(failing_path());
  return failing.ok() && failing->has_value() && (*failing)->ephemeralOwner == now->stat.ephemeralOwner;
}

TEST(ZkSink, ExpiredSessionIsReplacedAndEverythingRecreated) {
  NODEPULSE_REQUIRE_ZOOKEEPER();
  ZooKeeperEnsemble zookeeper(1);
  PublishLog log;
  ZkSinkOptions options = sink_options(zookeeper.connect_string());
  options.session_timeout = 8000ms;  // longer than this test waits: only a real expiry can explain a new session
  SinkRunner runner(make_sink(options), log.observer());
  Pacer pacer(runner, 200ms, HealthState::kFailing);
  auto client = reader(zookeeper.connect_string());
  ASSERT_TRUE(eventually([&] { return read_node(*client, node_path()) && exists(*client, failing_path()); }, 5s));
  const int64_t old_session = read_node(*client, node_path())->stat.ephemeralOwner;

  // A server rebuilt empty knows no session, but refuses a client that has seen newer
  // transactions than it has. Once another client has written past that point, the sink's
  // reconnect is accepted and answered "session expired".
  const std::optional<uint64_t> zxid_before_kill = zookeeper.zxid(0);
  ASSERT_TRUE(zxid_before_kill);
  zookeeper.kill(0);
  zookeeper.wipe_data(0);
  zookeeper.start(0);
  ASSERT_TRUE(zookeeper.wait_ready(20s)) << zookeeper.logs();
  client = reader(zookeeper.connect_string());  // a new client has seen nothing: it is let in
  const auto ready = Clock::now();
  ASSERT_EQ(client->create("/filler", "", ZOO_PERSISTENT, ZOO_OPEN_ACL_UNSAFE).value(), ZOK);
  // A margin for the heartbeats the sink wrote between `srvr` and the kill.
  while (zookeeper.zxid(0).value_or(0) <= *zxid_before_kill + 10) {
    ASSERT_EQ(client->create("/filler/t", "", ZOO_PERSISTENT_SEQUENTIAL, ZOO_OPEN_ACL_UNSAFE).value(), ZOK);
  }
  const bool recreated = eventually([&] { return recreated_in_new_session(*client, old_session); }, 6s, 50ms);
  ASSERT_TRUE(recreated) << "the znodes were not re-created in a new session\n" << zookeeper.logs();
  std::printf("[ measured ] server rebuilt empty: znodes re-created in a new session %.1f ms after it served again\n",
              ms_between(ready, Clock::now()));
}

TEST(ZkSink, SessionRefusedByRebuiltServerIsAbandonedAfterTheSessionTimeout) {
  NODEPULSE_REQUIRE_ZOOKEEPER();
  ZooKeeperEnsemble zookeeper(1);
  PublishLog log;
  SinkRunner runner(make_sink(sink_options(zookeeper.connect_string())), log.observer());
  Pacer pacer(runner, 200ms, HealthState::kFailing);
  auto client = reader(zookeeper.connect_string());
  ASSERT_TRUE(eventually([&] { return read_node(*client, node_path()) && exists(*client, failing_path()); }, 5s));
  const int64_t old_session = read_node(*client, node_path())->stat.ephemeralOwner;

  // Rebuilt empty and nobody writes: the server refuses the sink's session ("client must try
  // another server") for ever, and the C client would retry it for ever.
  zookeeper.kill(0);
  const auto killed = Clock::now();
  zookeeper.wipe_data(0);
  zookeeper.start(0);
  ASSERT_TRUE(zookeeper.wait_ready(20s)) << zookeeper.logs();
  client = reader(zookeeper.connect_string());
  const bool recreated = eventually([&] { return recreated_in_new_session(*client, old_session); }, 10s, 50ms);
  ASSERT_TRUE(recreated) << "the znodes were not re-created in a new session\n" << zookeeper.logs();
  std::printf("[ measured ] refused session abandoned: znodes re-created %.1f ms after the server was killed "
              "(session timeout 4000 ms)\n",
              ms_between(killed, Clock::now()));
}

TEST(ZkSink, DigestAuthLetsOnlyThisIdentityWrite) {
  NODEPULSE_REQUIRE_ZOOKEEPER();
  ZooKeeperEnsemble zookeeper(1);
  testing::TempDir directory("nodepulse_zk_auth");
  const std::filesystem::path auth_file = directory / "digest";
  std::ofstream(auth_file) << "nodepulse-a:s3cret-a\n";

  // Everything the sink logs, to prove the password never shows.
  std::ostringstream logged;
  auto capture = std::make_shared<spdlog::sinks::ostream_sink_mt>(logged);
  spdlog::default_logger()->sinks().push_back(capture);
  const auto level = spdlog::get_level();
  spdlog::set_level(spdlog::level::trace);

  Config config;
  config.zookeeper.connect = zookeeper.connect_string();
  config.zookeeper.auth_file = auth_file.string();
  Result<std::unique_ptr<Sink>> sink = make_zookeeper_sink(config);
  ASSERT_TRUE(sink.ok()) << sink.error().message;
  {
    PublishLog log;
    SinkRunner runner(std::move(sink).value(), log.observer());
    runner.offer(make_heartbeat(1, HealthState::kFailing));
    auto anonymous = reader(zookeeper.connect_string());
    ASSERT_TRUE(eventually([&] { return read_node(*anonymous, node_path()) && exists(*anonymous, failing_path()); }, 5s));

    auto intruder = reader(zookeeper.connect_string(), "intruder:other");
    for (zk::ZkClient* other : {anonymous.get(), intruder.get()}) {
      const std::optional<Published> seen = read_node(*other, node_path());
      ASSERT_TRUE(seen) << "everyone may read";
      EXPECT_EQ(seen->payload["node_id"], node_id());
      EXPECT_EQ(other->set(node_path(), R"({"state":"healthy"})").value(), ZNOAUTH);
      EXPECT_EQ(other->set(failing_path(), "").value(), ZNOAUTH);
    }
    EXPECT_EQ(read_node(*anonymous, node_path())->payload["state"], "failing") << "nobody else wrote it";

    // The ACL names the identity, not the session: the same credentials elsewhere may write.
    auto same_identity = reader(zookeeper.connect_string(), "nodepulse-a:s3cret-a");
    EXPECT_EQ(same_identity->set(node_path(), read_node(*anonymous, node_path())->payload.dump()).value(), ZOK);
    for (const PublishLog::Entry& entry : log.entries()) EXPECT_TRUE(entry.ok) << entry.error;
  }
  spdlog::set_level(level);
  auto& sinks = spdlog::default_logger()->sinks();
  sinks.erase(std::remove(sinks.begin(), sinks.end(), capture), sinks.end());
  EXPECT_EQ(logged.str().find("s3cret"), std::string::npos) << "the password was logged:\n" << logged.str();
}

TEST(ZkSink, MalformedAuthFileIsAnErrorThatDoesNotQuoteIt) {
  testing::TempDir directory("nodepulse_zk_auth");
  const std::filesystem::path auth_file = directory / "digest";
  std::ofstream(auth_file) << "just-a-s3cret\n";
  Config config;
  config.zookeeper.connect = "127.0.0.1:1";
  config.zookeeper.auth_file = auth_file.string();
  Result<std::unique_ptr<Sink>> sink = make_zookeeper_sink(config);
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.error().message.find(auth_file.string()), std::string::npos) << sink.error().message;
  EXPECT_EQ(sink.error().message.find("s3cret"), std::string::npos) << sink.error().message;

  config.zookeeper.auth_file = (directory / "absent").string();
  sink = make_zookeeper_sink(config);
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.error().message.find("No such file"), std::string::npos) << sink.error().message;
}

TEST(ZkSink, PublishFailsPromptlyWithNoServer) {
  // Nothing listens on this port: no JVM needed.
  const std::string connect = "127.0.0.1:" + std::to_string(testing::free_loopback_port());
  std::unique_ptr<Sink> sink = make_sink(sink_options(connect));
  std::vector<double> took_ms;
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    const auto started = Clock::now();
    Result<void> result = sink->publish(make_heartbeat(seq, HealthState::kHealthy));
    took_ms.push_back(ms_between(started, Clock::now()));
    EXPECT_FALSE(result.ok());
  }
  std::printf("[ measured ] publish with no server: first %.1f ms (waits once for the new session), then %.1f, %.1f, "
              "%.1f, %.1f ms\n",
              took_ms[0], took_ms[1], took_ms[2], took_ms[3], took_ms[4]);
  EXPECT_LT(took_ms[0], 1500);
  for (std::size_t i = 1; i < took_ms.size(); ++i) EXPECT_LT(took_ms[i], 100) << "publish " << i + 1;
}

}  // namespace
}  // namespace nodepulse
