// A real keepalived pair in two network namespaces joined by a veth (VRRPv3, unicast peers,
// 100 ms adverts). Node A (priority 150) tracks the file that a KeepalivedTrackFileSink writes
// with its default values; node B (priority 100) tracks nothing. Failing on A must move the VIP
// to B within ~2 s; recovery must move it back.
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <string>
#include <thread>

#include "keepalived.h"
#include "keepalived/track_file.h"
#include "netns.h"
#include "services.h"
#include "sink_runner.h"

namespace nodepulse {
namespace {

using testing::has_address;
using testing::Keepalived;
using testing::Stopwatch;
using testing::TempDir;
using testing::VethPair;
using testing::VrrpInstanceSpec;
using testing::wait_until;

constexpr const char* kVip = "10.200.0.100";

Heartbeat heartbeat_of(HealthState state, uint64_t seq) {
  Heartbeat heartbeat;
  heartbeat.verdict.state = state;
  heartbeat.seq = seq;
  return heartbeat;
}

TEST(KeepalivedFailover, TrackFileMovesTheVipAndBack) {
  NODEPULSE_REQUIRE_ROOT();
  NODEPULSE_REQUIRE_BINARY(testing::kKeepalivedBinary);
  const VethPair pair;
  const TempDir dir("keepalived-track");
  const std::string track_file = (dir / "nodepulse.track").string();

  std::atomic<int> published{0};
  std::atomic<int> errors{0};
  auto sink = KeepalivedTrackFileSink::create(track_file, {});
  ASSERT_TRUE(sink.ok()) << sink.error().message;
  SinkRunner runner(std::move(sink).value(), SinkObserver{[&](const char*, double, const Result<void>& result) {
                      if (!result.ok()) ++errors;
                      ++published;
                    }});
  uint64_t seq = 0;
  const auto publish_and_wait = [&](HealthState state) {
    const int before = published.load();
    runner.offer(heartbeat_of(state, ++seq));
    ASSERT_TRUE(wait_until([&] { return published.load() > before; }, std::chrono::seconds(2)));
  };
  publish_and_wait(HealthState::kHealthy);
  ASSERT_EQ(testing::file_text(track_file), "0\n");

  Keepalived a(pair.a(), VrrpInstanceSpec{"a", VethPair::kDevice, VethPair::kAddressA, VethPair::kAddressB,
                                          std::string(kVip) + "/24", 150, track_file, 1});
  Keepalived b(pair.b(), VrrpInstanceSpec{"b", VethPair::kDevice, VethPair::kAddressB, VethPair::kAddressA,
                                          std::string(kVip) + "/24", 100, "", 1});
  const auto vip_on_a = [&] { return has_address(pair.a(), VethPair::kDevice, kVip) && !has_address(pair.b(), VethPair::kDevice, kVip); };
  const auto vip_on_b = [&] { return has_address(pair.b(), VethPair::kDevice, kVip) && !has_address(pair.a(), VethPair::kDevice, kVip); };

  Stopwatch start;
  ASSERT_TRUE(wait_until(vip_on_a, std::chrono::seconds(10))) << "A never took the VIP\nA:\n" << a.log() << "\nB:\n" << b.log();
  const double elected_ms = start.ms();

  Stopwatch failover;
  publish_and_wait(HealthState::kFailing);
  EXPECT_EQ(testing::file_text(track_file), "-254\n");
  ASSERT_TRUE(wait_until(vip_on_b, std::chrono::seconds(5))) << "the VIP did not move to B\nA:\n" << a.log();
  const double failover_ms = failover.ms();
  EXPECT_LT(failover_ms, 2000);

  Stopwatch failback;
  publish_and_wait(HealthState::kHealthy);
  ASSERT_TRUE(wait_until(vip_on_a, std::chrono::seconds(5))) << "the VIP did not come back to A\nA:\n" << a.log();
  const double failback_ms = failback.ms();
  EXPECT_LT(failback_ms, 2000);

  // Degraded writes the same 0 as healthy: the VIP stays where it is.
  publish_and_wait(HealthState::kDegraded);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(vip_on_a()) << "degraded must not move the VIP with the default values";
  EXPECT_EQ(errors.load(), 0);
  EXPECT_TRUE(a.running());
  EXPECT_TRUE(b.running());

  std::cout << "[timing] keepalived: A elected " << elected_ms << " ms after start; failing -> VIP on B in "
            << failover_ms << " ms; healthy -> VIP back on A in " << failback_ms << " ms\n";
}

}  // namespace
}  // namespace nodepulse
