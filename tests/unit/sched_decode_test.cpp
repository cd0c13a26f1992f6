// Decoding of bpf/sched.h records, fed from byte buffers laid out exactly as the kernel writes them.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "probes/sched_decode.h"

namespace nodepulse {
namespace {

std::vector<std::byte> bytes_of(const np_sched_event& event) {
  std::vector<std::byte> out(sizeof(event));
  std::memcpy(out.data(), &event, sizeof(event));
  return out;
}

TEST(SchedDecode, SumsHistogramsAcrossCpus) {
  std::vector<np_runq_stats> per_cpu(3);
  std::memset(per_cpu.data(), 0, per_cpu.size() * sizeof(np_runq_stats));
  per_cpu[0].wait.slots[10] = 4;
  per_cpu[0].wait.count = 4;
  per_cpu[0].wait.sum_ns = 4 * 1500;
  per_cpu[2].wait.slots[10] = 1;
  per_cpu[2].wait.slots[23] = 2;
  per_cpu[2].wait.count = 3;
  per_cpu[2].wait.sum_ns = 1500 + 2 * 9'000'000;
  per_cpu[2].stalls = 2;

  // Through raw bytes, as bpf_map_lookup_elem returns them.
  std::vector<std::byte> raw(per_cpu.size() * sizeof(np_runq_stats));
  std::memcpy(raw.data(), per_cpu.data(), raw.size());
  const auto* decoded = reinterpret_cast<const np_runq_stats*>(raw.data());

  const RunqReading reading = sum_runq({decoded, per_cpu.size()}, 0);
  EXPECT_EQ(reading.wait.slots[10], 5u);
  EXPECT_EQ(reading.wait.slots[23], 2u);
  EXPECT_EQ(reading.wait.count, 7u);
  EXPECT_EQ(reading.wait.sum_ns, 5u * 1500 + 2u * 9'000'000);
  EXPECT_EQ(reading.stalls, 2u);
}

TEST(SchedDecode, LongestWaitOnlyFromCpusInTheClosedWindow) {
  std::vector<np_runq_stats> per_cpu(3);
  std::memset(per_cpu.data(), 0, per_cpu.size() * sizeof(np_runq_stats));
  per_cpu[0].window_epoch = 7;
  per_cpu[0].window_max_ns = 3'000'000;
  per_cpu[1].window_epoch = 6;  // stale: this CPU saw nothing in window 7
  per_cpu[1].window_max_ns = 90'000'000;
  per_cpu[2].window_epoch = 7;
  per_cpu[2].window_max_ns = 5'000'000;

  EXPECT_EQ(sum_runq(per_cpu, 7).longest_wait_ns, 5'000'000u);
  EXPECT_EQ(sum_runq(per_cpu, 8).longest_wait_ns, 0u);
}

TEST(SchedDecode, DecodesEveryEventKind) {
  struct Case {
    const char* description;
    uint32_t raw_kind;
    SchedEvent::Kind kind;
  };
  const Case cases[] = {
      {"stall", NP_SCHED_EVENT_STALL, SchedEvent::Kind::kStall},
      {"exec", NP_SCHED_EVENT_EXEC, SchedEvent::Kind::kExec},
      {"exit", NP_SCHED_EVENT_EXIT, SchedEvent::Kind::kExit},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    np_sched_event raw{};
    raw.ts_ns = 123;
    raw.wait_ns = 45'000'000;
    raw.kind = c.raw_kind;
    raw.tgid = 4242;
    raw.pid = 4243;
    raw.target_slot = target_slot(2);
    std::memcpy(raw.comm, "java", 5);
    const auto event = decode_sched_event(bytes_of(raw));
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ(event->kind, c.kind);
    EXPECT_EQ(event->ts_ns, 123u);
    EXPECT_EQ(event->wait_ns, 45'000'000u);
    EXPECT_EQ(event->tgid, 4242);
    EXPECT_EQ(event->pid, 4243);
    EXPECT_EQ(event->target_index, 2);
    EXPECT_EQ(event->comm, "java");
  }
}

TEST(SchedDecode, RejectsMalformedRecords) {
  np_sched_event raw{};
  raw.kind = NP_SCHED_EVENT_STALL;
  auto bytes = bytes_of(raw);
  bytes.pop_back();
  EXPECT_FALSE(decode_sched_event(bytes).has_value()) << "short record";

  raw.kind = 99;
  EXPECT_FALSE(decode_sched_event(bytes_of(raw)).has_value()) << "unknown kind";
}

TEST(SchedDecode, NonTargetSlotAndUnterminatedComm) {
  np_sched_event raw{};
  raw.kind = NP_SCHED_EVENT_EXEC;
  raw.target_slot = NP_SCHED_NODE_SLOT;
  std::memset(raw.comm, 'x', sizeof(raw.comm));  // the kernel truncates without a NUL at 16
  const auto event = decode_sched_event(bytes_of(raw));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->target_index, -1);
  EXPECT_EQ(event->comm, std::string(NP_COMM_LEN, 'x'));
}

}  // namespace
}  // namespace nodepulse
