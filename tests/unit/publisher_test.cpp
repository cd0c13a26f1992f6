// HeartbeatPublisher: when heartbeats go out, what they say, and that sinks see them.
#include "heartbeat/publisher.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>

namespace nodepulse {
namespace {

using namespace std::chrono_literals;

class RecordingSink : public Sink {
 public:
  explicit RecordingSink(std::vector<Heartbeat>& seen, std::mutex& mutex) : seen_(seen), mutex_(mutex) {}
  const char* name() const override { return "recording"; }
  Result<void> publish(const Heartbeat& heartbeat) override {
    std::lock_guard lock(mutex_);
    seen_.push_back(heartbeat);
    return ok();
  }

 private:
  std::vector<Heartbeat>& seen_;
  std::mutex& mutex_;
};

Verdict verdict_of(HealthState state) {
  Verdict verdict;
  verdict.state = state;
  verdict.weight = state == HealthState::kHealthy ? 100 : 0;
  return verdict;
}

class PublisherTest : public ::testing::Test {
 protected:
  HeartbeatPublisher make(uint64_t interval_ms) {
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(std::make_unique<RecordingSink>(seen_, mutex_));
    return HeartbeatPublisher({"n1", "c1", "worker", "host1", "0.1.0"}, interval_ms, std::move(sinks), {});
  }
  size_t seen_count() {
    std::lock_guard lock(mutex_);
    return seen_.size();
  }
  void wait_for(size_t count) {
    for (int i = 0; i < 200 && seen_count() < count; ++i) std::this_thread::sleep_for(5ms);
  }
  std::vector<Heartbeat> seen_;
  std::mutex mutex_;
};

TEST_F(PublisherTest, IntervalAndStateChanges) {
  HeartbeatPublisher publisher = make(1000);
  EXPECT_TRUE(publisher.consider(verdict_of(HealthState::kHealthy), 0, 5000)) << "the first goes out at once";
  EXPECT_FALSE(publisher.latest()->state_changed) << "an agent start is not a state change";
  EXPECT_FALSE(publisher.consider(verdict_of(HealthState::kHealthy), 500, 5500)) << "within the interval";
  EXPECT_TRUE(publisher.consider(verdict_of(HealthState::kFailing), 600, 5600)) << "a change goes out at once";
  const Heartbeat changed = *publisher.latest();
  EXPECT_TRUE(changed.state_changed);
  EXPECT_EQ(changed.previous_state, HealthState::kHealthy);
  EXPECT_EQ(changed.seq, 2u);
  EXPECT_EQ(changed.ts_ms, 5600u);
  EXPECT_FALSE(publisher.consider(verdict_of(HealthState::kFailing), 1599, 6599));
  EXPECT_TRUE(publisher.consider(verdict_of(HealthState::kFailing), 1600, 6600)) << "the interval elapsed";
  EXPECT_FALSE(publisher.latest()->state_changed);
  EXPECT_EQ(publisher.latest()->seq, 3u);

  wait_for(1);
  EXPECT_GE(seen_count(), 1u) << "the sink received heartbeats on its own thread";
  std::lock_guard lock(mutex_);
  EXPECT_EQ(seen_.back().node.node_id, "n1");
}

TEST(HeartbeatJson, CarriesTheContractFields) {
  Heartbeat heartbeat;
  heartbeat.node = {"node-7", "prod", "coordinator", "h7", "0.1.0"};
  heartbeat.verdict = verdict_of(HealthState::kFailing);
  heartbeat.verdict.reasons = {"target: trino process 42 exited"};
  heartbeat.verdict.signals = {{"target", HealthState::kFailing, "target: trino process 42 exited", 1}};
  heartbeat.seq = 9;
  heartbeat.ts_ms = 1234;
  const std::string json = to_json(heartbeat);
  for (const char* field : {R"("node_id":"node-7")", R"("cluster":"prod")", R"("role":"coordinator")",
                            R"("host":"h7")", R"("state":"failing")", R"("weight":0)",
                            R"("reasons":["target: trino process 42 exited"])", R"("seq":9)", R"("ts_ms":1234)",
                            R"("version":"0.1.0")", R"("signals":{"target":{)", R"("http_port":0)"}) {
    EXPECT_NE(json.find(field), std::string::npos) << field << " in " << json;
  }
}

TEST(HeartbeatJson, CarriesTrinoHttpPortForBalancers) {
  Heartbeat heartbeat;
  heartbeat.node = {"node-7", "prod", "worker", "h7", "0.1.0", 8081};
  EXPECT_NE(to_json(heartbeat).find(R"("http_port":8081)"), std::string::npos) << to_json(heartbeat);
}

}  // namespace
}  // namespace nodepulse
