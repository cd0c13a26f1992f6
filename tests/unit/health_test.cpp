// The health engine with a fake clock: hysteresis, rules and the node verdict.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "health/engine.h"

namespace nodepulse {
namespace {

using ::testing::HasSubstr;
constexpr auto H = HealthState::kHealthy;
constexpr auto D = HealthState::kDegraded;
constexpr auto F = HealthState::kFailing;
constexpr auto U = HealthState::kUnknown;

TEST(Hysteresis, Sequences) {
  struct Step {
    uint64_t at_ms;
    HealthState reading;
    HealthState expected;
  };
  struct Case {
    const char* description;
    std::vector<Step> steps;
  };
  const std::vector<Case> cases = {
      {"starts unknown, takes the first known reading at once", {{0, H, H}}},
      {"worse applies at once", {{0, H, H}, {1, F, F}}},
      {"recovery waits recover_after from the last bad reading",
       {{0, F, F}, {1000, H, F}, {5000, H, F}, {9999, H, F}, {10000, H, H}}},
      {"a bad reading restarts the recovery clock",
       {{0, F, F}, {1000, H, F}, {9000, F, F}, {10000, H, F}, {18999, H, F}, {19000, H, H}}},
      {"flapping every second stays failing",
       {{0, F, F}, {1000, H, F}, {2000, F, F}, {3000, H, F}, {4000, F, F}, {5000, H, F}, {6000, F, F},
        {7000, H, F}, {8000, F, F}, {9000, H, F}, {10000, F, F}, {11000, H, F}, {12000, F, F}}},
      {"steps down through what the readings showed while recovering",
       {{0, F, F}, {1000, H, F}, {2000, D, F}, {3000, H, F}, {9999, H, F}, {10000, H, D}, {11999, H, D},
        {12000, H, H}}},
      {"degraded to failing to degraded", {{0, D, D}, {100, F, F}, {200, D, F}, {10200, D, D}}},
      {"unknown replaces a known state and a known reading replaces unknown",
       {{0, F, F}, {10, U, U}, {20, H, H}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    Hysteresis hysteresis(10'000);
    for (const Step& step : c.steps) {
      EXPECT_EQ(hysteresis.update(step.reading, step.at_ms), step.expected) << "at " << step.at_ms << " ms";
    }
  }
}

TEST(Hysteresis, SinceIsWhenTheStateBegan) {
  Hysteresis hysteresis(1000);
  hysteresis.update(H, 0);
  hysteresis.update(F, 500);
  hysteresis.update(H, 600);
  EXPECT_EQ(hysteresis.since_ms(), 500u);
  hysteresis.update(H, 1600);
  EXPECT_EQ(hysteresis.state(), H);
  EXPECT_EQ(hysteresis.since_ms(), 1600u);
}

// A sched sample in which target 0 (and the node) saw `waits` waits in log2 slot `slot`.
Sample runq_sample(uint64_t at_ms, uint64_t waits, size_t slot, uint64_t longest_ns = 0) {
  Sample sample;
  sample.mono_ns = at_ms * 1'000'000;
  SchedDelta sched;
  RunqDelta delta;
  delta.wait.slots[slot] = waits;
  delta.wait.count = waits;
  delta.wait.sum_ns = waits * (uint64_t{1} << slot);
  delta.longest_wait_ns = longest_ns;
  sched.node = delta;
  sched.targets.push_back(delta);
  sample.sched = sched;
  return sample;
}

TEST(RunqRule, JudgesP99AgainstThresholds) {
  struct Case {
    const char* description;
    size_t slot;  // every wait in [2^slot, 2^(slot+1)) ns
    uint64_t waits;
    uint64_t longest_ns;
    HealthState expected;
    const char* reason;
  };
  // Defaults: warn 20 ms, fail 200 ms, one wait over 1 s fails at once, 50 waits needed.
  const std::vector<Case> cases = {
      {"fast waits", 12, 1000, 8000, H, ""},
      {"p99 in the 33 ms bucket", 24, 1000, 30'000'000, D, "runq: trino p99 wait 34 ms"},
      {"p99 in the 268 ms bucket", 27, 1000, 200'000'000, F, "runq: trino p99 wait 268 ms"},
      {"too few waits to judge p99", 27, 10, 200'000'000, H, ""},
      {"one stall over a second fails at once", 12, 10, 1'500'000'000, F, "runq: trino thread waited 1500 ms"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    RunqRule rule({});
    const Assessment a = rule.assess(runq_sample(0, c.waits, c.slot, c.longest_ns), {true}, {"trino"});
    EXPECT_EQ(a.state, c.expected);
    EXPECT_THAT(a.reason, HasSubstr(c.reason));
  }
}

TEST(RunqRule, WindowForgetsOldWaits) {
  RunqRule rule({});
  EXPECT_EQ(rule.assess(runq_sample(0, 1000, 27), {true}, {"trino"}).state, F);
  EXPECT_EQ(rule.assess(runq_sample(5000, 1000, 12), {true}, {"trino"}).state, F) << "still in the 10 s window";
  EXPECT_EQ(rule.assess(runq_sample(10'001, 1000, 12), {true}, {"trino"}).state, H)
      << "the slow sample at 0 left the 10 s window";
}

TEST(RunqRule, NoTargetLiveJudgesTheNodeAndNoSampleIsUnknown) {
  RunqRule rule({});
  const Assessment node = rule.assess(runq_sample(0, 1000, 27), {false}, {"trino"});
  EXPECT_EQ(node.state, F);
  EXPECT_THAT(node.reason, HasSubstr("runq: node p99"));
  Sample empty;
  EXPECT_EQ(rule.assess(empty, {true}, {"trino"}).state, U);
}

// The task_state probe's view at the end of an interval: a wait still in progress, a stop.
Sample thread_states_sample(uint64_t at_ms, uint64_t queued_now_ns, bool stopped) {
  Sample sample = runq_sample(at_ms, 1000, 12);
  sample.sched->targets[0].queued_now_ns = queued_now_ns;
  sample.sched->targets[0].stopped = stopped;
  return sample;
}

TEST(RunqRule, AWaitStillInProgressFailsOnceItPassesTheStallThreshold) {
  RunqThresholds thresholds;
  thresholds.stall_fail_ns = 250'000'000;
  RunqRule rule(thresholds);
  EXPECT_EQ(rule.assess(thread_states_sample(0, 240'000'000, false), {true}, {"trino"}).state, H);
  const Assessment waiting = rule.assess(thread_states_sample(100, 260'000'000, false), {true}, {"trino"});
  EXPECT_EQ(waiting.state, F);
  EXPECT_TRUE(waiting.hard);
  EXPECT_THAT(waiting.reason, HasSubstr("runq: trino thread has been waiting 260 ms for a CPU"));
  EXPECT_EQ(rule.assess(thread_states_sample(200, 0, false), {true}, {"trino"}).state, H) << "it ran";
}

TEST(RunqRule, AStoppedTargetFailsOnceStoppedForTheThreshold) {
  RunqThresholds thresholds;
  thresholds.stopped_fail_ns = 200'000'000;
  RunqRule rule(thresholds);
  EXPECT_EQ(rule.assess(thread_states_sample(1000, 0, true), {true}, {"trino"}).state, H) << "first seen stopped";
  EXPECT_EQ(rule.assess(thread_states_sample(1150, 0, true), {true}, {"trino"}).state, H) << "150 ms";
  const Assessment stopped = rule.assess(thread_states_sample(1200, 0, true), {true}, {"trino"});
  EXPECT_EQ(stopped.state, F);
  EXPECT_TRUE(stopped.hard);
  EXPECT_THAT(stopped.reason, HasSubstr("runq: trino has been stopped (SIGSTOP or a debugger) for at least 200 ms"));

  EXPECT_EQ(rule.assess(thread_states_sample(1300, 0, false), {true}, {"trino"}).state, H) << "continued";
  EXPECT_EQ(rule.assess(thread_states_sample(1400, 0, true), {true}, {"trino"}).state, H)
      << "a new stop is timed from its own first sighting";
  EXPECT_EQ(rule.assess(thread_states_sample(1600, 0, true), {true}, {"trino"}).state, F);
}

TEST(TargetRule, GoneAndOomKilledAreHardFailures) {
  TargetRule rule({"trino", "zk"});
  EXPECT_EQ(rule.assess({0, 0}, {}).state, U) << "nothing ever seen";
  EXPECT_EQ(rule.assess({1, 0}, {}).state, H) << "zk never seen is not judged";

  const Assessment gone = rule.assess({0, 0}, {{0, 4242, false}});
  EXPECT_EQ(gone.state, F);
  EXPECT_TRUE(gone.hard);
  EXPECT_THAT(gone.reason, HasSubstr("trino process 4242 exited"));

  EXPECT_EQ(rule.assess({1, 0}, {}).state, H) << "restarted";
  const Assessment oom = rule.assess({1, 0}, {{0, 4300, true}});
  EXPECT_EQ(oom.state, F) << "an OOM kill fails even when a new process is already up";
  EXPECT_THAT(oom.reason, HasSubstr("trino process 4300 was OOM-killed"));
}

// One collection interval as the agent runs it: targets first, then the sample, then the verdict.
Verdict step(HealthEngine& engine, const Sample& sample, std::vector<size_t> live, std::vector<TargetExit> exits,
             uint64_t now_ms) {
  engine.observe_targets(live, exits, now_ms);
  engine.observe_sample(sample, live, now_ms);
  return engine.verdict(now_ms);
}

TEST(HealthEngine, VerdictIsTheWorstSignalWithWeight) {
  HealthEngine engine({}, {"trino"});
  Sample fast = runq_sample(0, 1000, 12);
  Verdict v = step(engine, fast, {1}, {}, 0);
  EXPECT_EQ(v.state, H);
  EXPECT_EQ(v.weight, 100);
  EXPECT_TRUE(v.reasons.empty());

  Sample slow = runq_sample(1000, 100'000, 24);  // p99 ~34 ms: degraded
  v = step(engine, slow, {1}, {}, 1000);
  EXPECT_EQ(v.state, D);
  EXPECT_GT(v.weight, 10);
  EXPECT_LT(v.weight, 90);
  ASSERT_EQ(v.reasons.size(), 1u);
  EXPECT_THAT(v.reasons[0], HasSubstr("runq: trino p99"));

  v = step(engine, slow, {0}, {{0, 77, true}}, 1100);
  EXPECT_EQ(v.state, F);
  EXPECT_EQ(v.weight, 0);
  EXPECT_EQ(v.since_ms, 1100u);
  EXPECT_THAT(v.reasons, ::testing::Contains(HasSubstr("OOM-killed")));
}

TEST(HealthEngine, RecoversOnlyAfterCleanReadings) {
  HealthThresholds thresholds;
  thresholds.recover_after_ms = 10'000;
  HealthEngine engine(thresholds, {"trino"});
  step(engine, runq_sample(0, 1000, 12), {1}, {}, 0);
  EXPECT_EQ(step(engine, runq_sample(100, 1000, 12), {0}, {{0, 1, false}}, 100).state, F);
  for (uint64_t t = 1000; t < 10'100; t += 1000) {
    EXPECT_EQ(step(engine, runq_sample(t, 1000, 12), {1}, {}, t).state, F) << "at " << t;
  }
  EXPECT_EQ(step(engine, runq_sample(10'200, 1000, 12), {1}, {}, 10'200).state, H);
}

TEST(HealthEngine, ATargetExitFailsAtOnceWithoutASample) {
  HealthEngine engine({}, {"trino"});
  EXPECT_EQ(step(engine, runq_sample(0, 1000, 12), {1}, {}, 0).state, H);
  engine.observe_targets({0}, {{0, 4242, false}}, 5);
  const Verdict v = engine.verdict(5);
  EXPECT_EQ(v.state, F) << "the fast path needs no new sample";
  EXPECT_EQ(v.since_ms, 5u);
}

TEST(HealthEngine, AllUnknownIsUnknownWithReasons) {
  HealthEngine engine({}, {"trino"});
  Sample no_probe;
  const Verdict v = step(engine, no_probe, {0}, {}, 0);
  EXPECT_EQ(v.state, U);
  EXPECT_EQ(v.weight, 0);
  EXPECT_THAT(v.reasons, ::testing::Contains(HasSubstr("no target process found")));
  EXPECT_THAT(v.reasons, ::testing::Contains(HasSubstr("sched probe not reporting")));
}

TEST(JvmRule, PauseInProgressAndPausedShare) {
  JvmRule rule({});
  auto jvm_sample = [](uint64_t at_ms, uint64_t in_progress_ns, uint64_t paused_ns) {
    Sample sample;
    sample.mono_ns = at_ms * 1'000'000;
    JvmTargetDelta target;
    target.processes_attached = 1;
    target.pause_in_progress_ns = in_progress_ns;
    target.safepoint_pauses.count = paused_ns ? 1 : 0;
    target.safepoint_pauses.sum_ns = paused_ns;
    sample.jvm = JvmDelta{{target}, 0};
    return sample;
  };
  struct Case {
    const char* description;
    uint64_t in_progress_ns;
    uint64_t paused_ns;  // in a 1 s window
    HealthState expected;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"no pause", 0, 0, H, ""},
      {"short pause under way", 50'000'000, 0, H, ""},
      {"pause under way past warn", 300'000'000, 0, D, "jvm: trino paused for 300 ms and counting"},
      {"stuck in a safepoint past a second", 1'500'000'000, 0, F, "jvm: trino paused for 1500 ms"},
      {"paused 20% of the time", 0, 200'000'000, D, "jvm: trino paused 20% of the last 1 s"},
      {"paused 60% of the time", 0, 600'000'000, F, "jvm: trino paused 60%"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    JvmRule fresh({});
    const Assessment a = fresh.assess(jvm_sample(1000, c.in_progress_ns, c.paused_ns), {"trino"});
    EXPECT_EQ(a.state, c.expected);
    EXPECT_THAT(a.reason, HasSubstr(c.reason));
  }
  Sample no_jvm;
  EXPECT_EQ(rule.assess(no_jvm, {"trino"}).state, U);
  Sample unattached = jvm_sample(0, 0, 0);
  unattached.jvm->targets[0].processes_attached = 0;
  EXPECT_EQ(rule.assess(unattached, {"trino"}).state, U) << "no JVM probed says nothing";
  EXPECT_EQ(rule.assess_in_progress({2'000'000'000}, {"trino"}).state, F);
  EXPECT_TRUE(rule.assess_in_progress({2'000'000'000}, {"trino"}).hard);
}

TEST(HealthEngine, PauseInProgressFailsAtOnceFromTheFastPath) {
  HealthEngine engine({}, {"trino"});
  step(engine, runq_sample(0, 1000, 12), {1}, {}, 0);
  engine.observe_pauses_in_progress({100'000'000}, 10);
  EXPECT_NE(engine.verdict(10).state, F) << "a short pause is nothing";
  engine.observe_pauses_in_progress({1'200'000'000}, 20);
  const Verdict v = engine.verdict(20);
  EXPECT_EQ(v.state, F);
  EXPECT_THAT(v.reasons, ::testing::Contains(HasSubstr("paused for 1200 ms")));
}

NetPeerDelta peer(const std::string& address, uint64_t ok, uint64_t refused, uint64_t timeout, uint64_t retransmits) {
  NetPeerDelta delta;
  delta.peer = address;
  delta.counters.connects_ok = ok;
  delta.counters.connects_refused = refused;
  delta.counters.connects_timeout = timeout;
  delta.counters.retransmits = retransmits;
  return delta;
}

TEST(NetRule, OnePeerIsDegradedMostPeersFail) {
  struct Case {
    const char* description;
    std::vector<NetPeerDelta> peers;
    HealthState expected;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"clean traffic", {peer("10.0.0.1", 5, 0, 0, 0), peer("10.0.0.2", 5, 0, 0, 3)}, H, ""},
      {"one of three refuses", {peer("10.0.0.1", 0, 4, 0, 0), peer("10.0.0.2", 5, 0, 0, 0), peer("10.0.0.3", 5, 0, 0, 0)},
       D, "toward 1 of 3 cluster peers (10.0.0.1)"},
      {"two of three time out or retransmit",
       {peer("10.0.0.1", 0, 0, 2, 0), peer("10.0.0.2", 5, 0, 0, 80), peer("10.0.0.3", 5, 0, 0, 0)}, F,
       "toward 2 of 3 cluster peers"},
      {"the only peer failing is degraded, not failing", {peer("10.0.0.1", 0, 3, 0, 0)}, D, "1 of 1"},
      {"idle peers do not count", {peer("10.0.0.1", 0, 3, 0, 0), peer("10.0.0.2", 0, 0, 0, 0)}, D, "1 of 1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    NetRule rule({});
    Sample sample;
    sample.mono_ns = 1;
    sample.net = NetDelta{c.peers, {}, 0, 0};
    const Assessment a = rule.assess(sample);
    EXPECT_EQ(a.state, c.expected);
    EXPECT_THAT(a.reason, HasSubstr(c.reason));
  }
  Sample none;
  EXPECT_EQ(NetRule({}).assess(none).state, U);
}

TEST(MemoryRule, PsiAndTheOomKiller) {
  auto psi_sample = [](double some, double full, std::vector<OomKill> kills = {}) {
    Sample sample;
    PsiDelta psi;
    psi.memory = PsiResourceDelta{PsiKindDelta{0, some}, PsiKindDelta{0, full}};
    sample.mem = MemDelta{std::nullopt, psi, std::move(kills)};
    return sample;
  };
  struct Case {
    const char* description;
    Sample sample;
    HealthState expected;
    const char* reason;
  };
  OomKill other;
  other.tgid = 99;
  other.comm = "hog";
  OomKill target_kill = other;
  target_kill.target_index = 0;
  const std::vector<Case> cases = {
      {"no pressure", psi_sample(1, 0), H, ""},
      {"some tasks stall a lot", psi_sample(30, 1), D, "memory: node tasks stalled 30.0%"},
      {"everything stalls a bit", psi_sample(10, 6), D, "(PSI full)"},
      {"everything stalls a lot", psi_sample(40, 25), F, "memory: node fully stalled 25.0%"},
      {"the OOM killer at work elsewhere", psi_sample(0, 0, {other}), D, "killed process 99 (hog)"},
      {"a target's OOM kill is the target rule's", psi_sample(0, 0, {target_kill}), H, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    const Assessment a = MemoryRule({}).assess(c.sample, {"trino"});
    EXPECT_EQ(a.state, c.expected);
    EXPECT_THAT(a.reason, HasSubstr(c.reason));
  }
  Sample none;
  EXPECT_EQ(MemoryRule({}).assess(none, {"trino"}).state, U);
}

TEST(Weight, FollowsTheDegreeOfTrouble) {
  EXPECT_EQ(weight_for(H, 0), 100);
  EXPECT_EQ(weight_for(D, 0), 90);
  EXPECT_EQ(weight_for(D, 0.5), 50);
  EXPECT_EQ(weight_for(D, 1), 10);
  EXPECT_EQ(weight_for(F, 0), 0);
  EXPECT_EQ(weight_for(U, 0), 0);
}

}  // namespace
}  // namespace nodepulse
