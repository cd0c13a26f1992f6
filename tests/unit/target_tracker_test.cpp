// TargetTracker keeps the live target set in step with /proc and with exec/exit events.
#include "collect/target_tracker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_proc.h"

namespace nodepulse {
namespace {

using ::testing::ElementsAre;

const std::vector<std::string> kTrino = {"java", "-cp", "lib/*", "io.trino.server.TrinoServer"};
const std::vector<std::string> kZookeeper = {"java", "org.apache.zookeeper.server.quorum.QuorumPeerMain"};

class RecordingListener : public TargetListener {
 public:
  void target_started(const TargetProcess& p) override { log.push_back("+" + std::to_string(p.tgid)); }
  void target_exited(const TargetProcess& p) override { log.push_back("-" + std::to_string(p.tgid)); }
  std::vector<std::string> log;
};

class TargetTrackerTest : public ::testing::Test {
 protected:
  TargetTracker make_tracker() {
    std::vector<TargetSpec> specs = {{"trino", "io.trino.server.TrinoServer", "", "", ""},
                                     {"zk", "QuorumPeerMain", "", "", ""}};
    return TargetTracker(TargetMatcher(specs, proc_.proc(), -1), listener_);
  }
  testing::FakeProc proc_;
  RecordingListener listener_;
};

TEST_F(TargetTrackerTest, RescanAddsAndRemoves) {
  proc_.add_process(100, kTrino, "java");
  proc_.add_process(200, {"bash"}, "bash");
  TargetTracker tracker = make_tracker();
  tracker.rescan();
  EXPECT_THAT(listener_.log, ElementsAre("+100"));
  EXPECT_EQ(tracker.live_count(0), 1u);

  tracker.rescan();
  EXPECT_THAT(listener_.log, ElementsAre("+100")) << "a second scan reports nothing new";

  proc_.remove_process(100);
  proc_.add_process(101, kTrino, "java");
  tracker.rescan();
  EXPECT_THAT(listener_.log, ElementsAre("+100", "+101", "-100"));
  EXPECT_EQ(tracker.live_count(0), 1u);
}

TEST_F(TargetTrackerTest, ExecOfATargetIsPickedUpWithoutAScan) {
  TargetTracker tracker = make_tracker();
  tracker.rescan();
  EXPECT_TRUE(listener_.log.empty());
  proc_.add_process(300, kTrino, "java");
  tracker.on_exec(300);
  EXPECT_THAT(listener_.log, ElementsAre("+300"));
  tracker.on_exec(300);
  EXPECT_THAT(listener_.log, ElementsAre("+300")) << "an exec of a known target is not a new start";
}

TEST_F(TargetTrackerTest, ExecIntoSomethingElseDropsTheTarget) {
  proc_.add_process(400, kTrino, "java");
  TargetTracker tracker = make_tracker();
  tracker.rescan();
  proc_.add_process(400, {"sleep", "1"}, "sleep");
  tracker.on_exec(400);
  EXPECT_THAT(listener_.log, ElementsAre("+400", "-400"));
  EXPECT_TRUE(tracker.live().empty());
}

TEST_F(TargetTrackerTest, ExecIntoAnotherTargetMovesIt) {
  proc_.add_process(500, kTrino, "java");
  TargetTracker tracker = make_tracker();
  tracker.rescan();
  proc_.add_process(500, kZookeeper, "java");
  tracker.on_exec(500);
  EXPECT_THAT(listener_.log, ElementsAre("+500", "-500", "+500"));
  EXPECT_EQ(tracker.live().at(500).target_index, 1u);
}

TEST_F(TargetTrackerTest, ExitRemovesOnceAndIgnoresStrangers) {
  proc_.add_process(600, kTrino, "java");
  TargetTracker tracker = make_tracker();
  tracker.rescan();
  tracker.on_exit(999);
  tracker.on_exit(600);
  tracker.on_exit(600);
  EXPECT_THAT(listener_.log, ElementsAre("+600", "-600"));
}

}  // namespace
}  // namespace nodepulse
