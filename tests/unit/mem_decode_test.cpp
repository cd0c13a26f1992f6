// Decoding of bpf/mem.h records, fed from byte buffers laid out exactly as the kernel writes them.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "probes/mem_decode.h"

namespace nodepulse {
namespace {

std::vector<std::byte> bytes_of(const np_mem_event& event) {
  std::vector<std::byte> out(sizeof(event));
  std::memcpy(out.data(), &event, sizeof(event));
  return out;
}

np_mem_event oom_event() {
  np_mem_event raw{};
  raw.ts_ns = 123456789;
  raw.cgroup_id = 4026;
  raw.memcg_id = 77;
  raw.kind = NP_MEM_EVENT_OOM_KILL;
  raw.pid = 4243;
  raw.tgid = 4242;
  raw.target_slot = mem_target_slot(2);
  std::memcpy(raw.comm, "java", 5);
  return raw;
}

TEST(MemDecode, SumsPerCpuStats) {
  std::vector<np_mem_stats> per_cpu(3);
  std::memset(per_cpu.data(), 0, per_cpu.size() * sizeof(np_mem_stats));
  per_cpu[0].memcg_reclaim.slots[20] = 2;
  per_cpu[0].memcg_reclaim.count = 2;
  per_cpu[0].memcg_reclaim.sum_ns = 2 * 1'500'000;
  per_cpu[1].direct_reclaim.slots[25] = 1;
  per_cpu[1].direct_reclaim.count = 1;
  per_cpu[1].direct_reclaim.sum_ns = 40'000'000;
  per_cpu[2].memcg_reclaim.slots[20] = 1;
  per_cpu[2].memcg_reclaim.count = 1;
  per_cpu[2].memcg_reclaim.sum_ns = 1'200'000;
  per_cpu[2].oom_kills = 1;

  // Through raw bytes, as bpf_map_lookup_elem returns them.
  std::vector<std::byte> raw(per_cpu.size() * sizeof(np_mem_stats));
  std::memcpy(raw.data(), per_cpu.data(), raw.size());
  const auto* decoded = reinterpret_cast<const np_mem_stats*>(raw.data());

  const ReclaimReading reading = sum_mem_stats({decoded, per_cpu.size()});
  EXPECT_EQ(reading.memcg.slots[20], 3u);
  EXPECT_EQ(reading.memcg.count, 3u);
  EXPECT_EQ(reading.memcg.sum_ns, 4'200'000u);
  EXPECT_EQ(reading.direct.slots[25], 1u);
  EXPECT_EQ(reading.direct.count, 1u);
  EXPECT_EQ(reading.direct.sum_ns, 40'000'000u);
  EXPECT_EQ(reading.oom_kills, 1u);
}

TEST(MemDecode, OomKillEventWithEveryField) {
  const auto event = decode_mem_event(bytes_of(oom_event()));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->ts_ns, 123456789u);
  EXPECT_EQ(event->pid, 4243);
  EXPECT_EQ(event->tgid, 4242);
  EXPECT_EQ(event->target_index, 2);
  EXPECT_EQ(event->comm, "java");
  EXPECT_EQ(event->cgroup_id, 4026u);
  EXPECT_EQ(event->memcg_id, 77u);
  EXPECT_FALSE(event->pid_only);
}

TEST(MemDecode, EventVariants) {
  struct Case {
    const char* description;
    void (*change)(np_mem_event&);
    int target_index;
    const char* comm;
    bool pid_only;
  };
  const Case cases[] = {
      {"not a target", [](np_mem_event& e) { e.target_slot = NP_MEM_NODE_SLOT; }, -1, "java", false},
      {"slot past the last target", [](np_mem_event& e) { e.target_slot = NP_MEM_MAX_TARGETS + 1; }, -1, "java", false},
      {"the last target", [](np_mem_event& e) { e.target_slot = NP_MEM_MAX_TARGETS; }, NP_MEM_MAX_TARGETS - 1, "java",
       false},
      {"comm of 16 bytes without a NUL", [](np_mem_event& e) { std::memset(e.comm, 'x', sizeof(e.comm)); }, 2,
       "xxxxxxxxxxxxxxxx", false},
      {"classic tracepoint: pid only",
       [](np_mem_event& e) {
         e.flags = NP_MEM_EVENT_PID_ONLY;
         e.tgid = e.pid;
         e.cgroup_id = e.memcg_id = 0;
         std::memset(e.comm, 0, sizeof(e.comm));
       },
       2, "", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    np_mem_event raw = oom_event();
    c.change(raw);
    const auto event = decode_mem_event(bytes_of(raw));
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ(event->target_index, c.target_index);
    EXPECT_EQ(event->comm, c.comm);
    EXPECT_EQ(event->pid_only, c.pid_only);
  }
}

TEST(MemDecode, RejectsMalformedRecords) {
  auto bytes = bytes_of(oom_event());
  bytes.pop_back();
  EXPECT_FALSE(decode_mem_event(bytes).has_value()) << "short record";
  bytes = bytes_of(oom_event());
  bytes.push_back(std::byte{0});
  EXPECT_FALSE(decode_mem_event(bytes).has_value()) << "long record";
  np_mem_event raw = oom_event();
  raw.kind = 0;
  EXPECT_FALSE(decode_mem_event(bytes_of(raw)).has_value()) << "kind 0";
  raw.kind = 99;
  EXPECT_FALSE(decode_mem_event(bytes_of(raw)).has_value()) << "unknown kind";
  EXPECT_FALSE(decode_mem_event({}).has_value()) << "empty";
}

}  // namespace
}  // namespace nodepulse
