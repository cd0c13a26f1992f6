// The mem collector's pure parts: reclaim deltas from cumulative readings, and OOM events
// completed from a fake /proc.
#include "collect/mem_collector.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "fake_proc.h"

namespace nodepulse {
namespace {

Log2Histogram histogram(size_t slot, uint64_t count, uint64_t sum_ns) {
  Log2Histogram h;
  h.slots[slot] = count;
  h.count = count;
  h.sum_ns = sum_ns;
  return h;
}

MemReading reading(uint64_t node_memcg, uint64_t target_memcg, uint64_t node_kills, uint64_t target_kills) {
  MemReading r;
  r.node.memcg = histogram(20, node_memcg, node_memcg * 1'000'000);
  r.node.direct = histogram(22, 1, 4'000'000);
  r.node.oom_kills = node_kills;
  ReclaimReading target;
  target.memcg = histogram(20, target_memcg, target_memcg * 1'000'000);
  target.oom_kills = target_kills;
  r.targets = {target, ReclaimReading{}};
  r.dropped_events = node_kills;  // any growing counter will do
  return r;
}

TEST(MemReclaimDelta, FirstReadingIsEverythingSinceLoadThenDeltas) {
  ReclaimDeltaTracker tracker;
  const ReclaimDelta first = tracker.next(reading(5, 3, 1, 1));
  EXPECT_EQ(first.node.memcg.count, 5u);
  EXPECT_EQ(first.node.direct.count, 1u);
  EXPECT_EQ(first.node.total().count, 6u);
  EXPECT_EQ(first.node.total().sum_ns, 5u * 1'000'000 + 4'000'000);
  ASSERT_EQ(first.targets.size(), 2u);
  EXPECT_EQ(first.targets[0].memcg.count, 3u);
  EXPECT_EQ(first.node_oom_kills, 1u);
  EXPECT_EQ(first.target_oom_kills, (std::vector<uint64_t>{1, 0}));

  const ReclaimDelta second = tracker.next(reading(9, 4, 3, 1));
  EXPECT_EQ(second.node.memcg.count, 4u);
  EXPECT_EQ(second.node.memcg.sum_ns, 4'000'000u);
  EXPECT_EQ(second.node.direct.count, 0u);
  EXPECT_EQ(second.targets[0].memcg.count, 1u);
  EXPECT_EQ(second.targets[1].memcg.count, 0u);
  EXPECT_EQ(second.node_oom_kills, 2u);
  EXPECT_EQ(second.target_oom_kills, (std::vector<uint64_t>{0, 0}));
  EXPECT_EQ(second.dropped_events, 2u);
}

TEST(MemReclaimDelta, CountersGoingBackwardsMeanAReload) {
  ReclaimDeltaTracker tracker;
  tracker.next(reading(50, 30, 4, 2));
  const ReclaimDelta delta = tracker.next(reading(2, 1, 1, 0));
  EXPECT_EQ(delta.node.memcg.count, 2u);
  EXPECT_EQ(delta.targets[0].memcg.count, 1u);
  EXPECT_EQ(delta.node_oom_kills, 1u);
}

OomEvent event(pid_t pid, pid_t tgid, std::string comm, bool pid_only) {
  OomEvent e;
  e.ts_ns = 99;
  e.pid = pid;
  e.tgid = tgid;
  e.target_index = 0;
  e.comm = std::move(comm);
  e.cgroup_id = 11;
  e.memcg_id = 22;
  e.pid_only = pid_only;
  return e;
}

// Without cgroup mounts (or ids), /proc is all there is.
TEST(MemOomKill, CompletedFromProc) {
  struct Case {
    const char* description;
    OomEvent event;
    const char* proc_cgroup;  // nullptr: the victim is already gone from /proc
    std::string comm;
    std::string memory_cgroup;
  };
  const Case cases[] = {
      {"hybrid: the v1 memory cgroup holds the limit", event(4243, 4242, "java", false),
       "4:memory:/trino\n0::/user.slice\n", "java", "/trino"},
      {"pure v2: the unified cgroup", event(4243, 4242, "java", false), "0::/system.slice/trino.service\n", "java",
       "/system.slice/trino.service"},
      {"pid-only event: comm from /proc", event(4242, 4242, "", true), "0::/a\n", "from_proc", "/a"},
      {"victim already gone", event(4243, 4242, "java", false), nullptr, "java", ""},
      {"pid-only and gone: comm unknown", event(4242, 4242, "", true), nullptr, "", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    testing::FakeProc proc;
    if (c.proc_cgroup) proc.add_process(4242, {"java", "-Xmx1g"}, "from_proc", c.proc_cgroup);
    const OomKill kill = complete_oom_kill(c.event, proc.proc(), CgroupMounts{});
    EXPECT_EQ(kill.pid, c.event.pid);
    EXPECT_EQ(kill.tgid, c.event.tgid);
    EXPECT_EQ(kill.target_index, 0);
    EXPECT_EQ(kill.ts_ns, 99u);
    EXPECT_EQ(kill.cgroup_id, 11u);
    EXPECT_EQ(kill.memcg_id, 22u);
    EXPECT_EQ(kill.comm, c.comm);
    EXPECT_EQ(kill.memory_cgroup, c.memory_cgroup);
  }
}

uint64_t inode_of(const std::filesystem::path& dir) {
  struct stat info{};
  EXPECT_EQ(::stat(dir.c_str(), &info), 0) << dir;
  return info.st_ino;
}

// The memcg id is the kernfs inode of the cgroup directory, so it names the cgroup even after
// the exiting victim's /proc/PID/cgroup has gone back to "/".
TEST(MemOomKill, MemoryCgroupFoundFromTheMemcgId) {
  testing::FakeProc proc;
  proc.add_process(4242, {"java"}, "java", "4:memory:/\n0::/\n");  // what an exiting task shows
  const std::filesystem::path memory = proc.root() / "cgroup" / "memory";
  std::filesystem::create_directories(memory / "trino.slice" / "worker");
  std::filesystem::create_directories(memory / "other");
  const CgroupMounts hybrid{proc.root() / "cgroup" / "unified", memory};

  OomEvent e = event(4243, 4242, "java", false);
  e.memcg_id = inode_of(memory / "trino.slice" / "worker");
  EXPECT_EQ(complete_oom_kill(e, proc.proc(), hybrid).memory_cgroup, "/trino.slice/worker");
  e.memcg_id = inode_of(memory);
  EXPECT_EQ(complete_oom_kill(e, proc.proc(), hybrid).memory_cgroup, "/") << "the root memory cgroup";
  e.memcg_id = inode_of(proc.proc());  // exists, but not under the hierarchy
  EXPECT_EQ(complete_oom_kill(e, proc.proc(), hybrid).memory_cgroup, "") << "unknown, not guessed";

  const CgroupMounts pure_v2{memory, std::nullopt};  // the v2 tree is searched when there is no v1 memory
  e.memcg_id = inode_of(memory / "other");
  EXPECT_EQ(complete_oom_kill(e, proc.proc(), pure_v2).memory_cgroup, "/other");
}

TEST(MemOomKill, FindCgroupByIdBounds) {
  testing::FakeProc proc;
  std::filesystem::create_directories(proc.root() / "h" / "a" / "b");
  EXPECT_EQ(find_cgroup_by_id(proc.root() / "h", inode_of(proc.root() / "h" / "a" / "b")), "/a/b");
  EXPECT_EQ(find_cgroup_by_id(proc.root() / "h", 0), std::nullopt) << "0 means unknown";
  EXPECT_EQ(find_cgroup_by_id(proc.root() / "missing", 12345), std::nullopt);
}

}  // namespace
}  // namespace nodepulse
