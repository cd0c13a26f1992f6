// The choice of attach path and event transport: given what a kernel supports and what the
// config forces, which path each probe takes, and the error when a forced one cannot load.
#include "probes/probe_paths.h"

#include <gtest/gtest.h>

namespace nodepulse {
namespace {

// Kernels by what they lack, newest first.
KernelSupport kernel_6_x() { return KernelSupport::all(); }

KernelSupport kernel_5_10() {  // tp_btf programs and a ring buffer, but no task storage
  KernelSupport kernel = KernelSupport::all();
  kernel.task_storage = false;
  return kernel;
}

KernelSupport kernel_5_4() {  // BTF, raw and classic tracepoints, perf buffers only
  KernelSupport kernel = kernel_5_10();
  kernel.tracing_programs = false;
  kernel.ring_buffer = false;
  return kernel;
}

KernelSupport without_btf() {
  KernelSupport kernel = kernel_5_4();
  kernel.btf = false;
  return kernel;
}

TEST(ChooseAttachPath, AutoTakesTheBestTheKernelSupports) {
  auto modern = choose_attach_path(std::nullopt, kernel_6_x());
  ASSERT_TRUE(modern);
  EXPECT_EQ(modern->path, AttachPath::kTpBtf);
  EXPECT_EQ(modern->reason, "the best this kernel supports");

  auto no_task_storage = choose_attach_path(std::nullopt, kernel_5_10());
  ASSERT_TRUE(no_task_storage);
  EXPECT_EQ(no_task_storage->path, AttachPath::kRawTp);
  EXPECT_NE(no_task_storage->reason.find("task storage"), std::string::npos) << no_task_storage->reason;

  auto old = choose_attach_path(std::nullopt, kernel_5_4());
  ASSERT_TRUE(old);
  EXPECT_EQ(old->path, AttachPath::kRawTp);
  EXPECT_NE(old->reason.find("tracing programs"), std::string::npos) << old->reason;
}

TEST(ChooseAttachPath, AutoFallsBackToClassicTracepoints) {
  KernelSupport kernel = kernel_5_4();
  kernel.raw_tracepoints = false;
  auto chosen = choose_attach_path(std::nullopt, kernel);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(chosen->path, AttachPath::kTracepoint);
  EXPECT_NE(chosen->reason.find("raw_tp: no raw tracepoint programs"), std::string::npos) << chosen->reason;
}

TEST(ChooseAttachPath, ForcedPathIsTakenWhereItLoads) {
  for (AttachPath path : {AttachPath::kTpBtf, AttachPath::kRawTp, AttachPath::kTracepoint}) {
    auto chosen = choose_attach_path(path, kernel_6_x());
    ASSERT_TRUE(chosen) << attach_path_name(path);
    EXPECT_EQ(chosen->path, path);
    EXPECT_EQ(chosen->reason, "forced by probes.attach");
  }
  auto raw = choose_attach_path(AttachPath::kRawTp, kernel_5_4());
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->path, AttachPath::kRawTp);
}

TEST(ChooseAttachPath, ForcedPathTheKernelLacksIsAnError) {
  auto chosen = choose_attach_path(AttachPath::kTpBtf, kernel_5_4());
  ASSERT_FALSE(chosen);
  EXPECT_EQ(chosen.error().message,
            "probes.attach=tp_btf, but this kernel has no BPF tracing programs (tp_btf, kernel >= 5.5); use auto");
  auto storage = choose_attach_path(AttachPath::kTpBtf, kernel_5_10());
  ASSERT_FALSE(storage);
  EXPECT_NE(storage.error().message.find("no BPF task storage"), std::string::npos);
}

TEST(ChooseAttachPath, NothingLoadsWithoutBtf) {
  auto chosen = choose_attach_path(std::nullopt, without_btf());
  ASSERT_FALSE(chosen);
  EXPECT_NE(chosen.error().message.find("no attach path loads on this kernel"), std::string::npos);
  EXPECT_NE(chosen.error().message.find("no kernel BTF"), std::string::npos);
  EXPECT_FALSE(choose_attach_path(AttachPath::kTracepoint, without_btf()));
}

TEST(ChooseEventTransport, AutoPrefersTheRingBuffer) {
  auto modern = choose_event_transport(std::nullopt, kernel_6_x());
  ASSERT_TRUE(modern);
  EXPECT_EQ(modern->path, EventTransport::kRingBuffer);
  auto old = choose_event_transport(std::nullopt, kernel_5_4());
  ASSERT_TRUE(old);
  EXPECT_EQ(old->path, EventTransport::kPerfBuffer);
  EXPECT_EQ(old->reason, "auto: no BPF ring buffer (kernel >= 5.8)");
}

TEST(ChooseEventTransport, ForcedTransport) {
  auto perf = choose_event_transport(EventTransport::kPerfBuffer, kernel_6_x());
  ASSERT_TRUE(perf);
  EXPECT_EQ(perf->path, EventTransport::kPerfBuffer);
  EXPECT_EQ(perf->reason, "forced by probes.events");
  auto ring = choose_event_transport(EventTransport::kRingBuffer, kernel_5_4());
  ASSERT_FALSE(ring);
  EXPECT_EQ(ring.error().message,
            "probes.events=ringbuf, but this kernel has no BPF ring buffer (kernel >= 5.8); use auto");
}

TEST(ParsePaths, ConfigSpellings) {
  EXPECT_EQ(parse_attach_path("auto"), std::optional<std::optional<AttachPath>>(std::in_place));
  EXPECT_EQ(parse_attach_path("tp_btf"), std::optional<std::optional<AttachPath>>(AttachPath::kTpBtf));
  EXPECT_EQ(parse_attach_path("raw_tp"), std::optional<std::optional<AttachPath>>(AttachPath::kRawTp));
  EXPECT_EQ(parse_attach_path("tracepoint"), std::optional<std::optional<AttachPath>>(AttachPath::kTracepoint));
  EXPECT_FALSE(parse_attach_path("kprobe").has_value());
  EXPECT_EQ(parse_event_transport("auto"), std::optional<std::optional<EventTransport>>(std::in_place));
  EXPECT_EQ(parse_event_transport("ringbuf"),
            std::optional<std::optional<EventTransport>>(EventTransport::kRingBuffer));
  EXPECT_EQ(parse_event_transport("perfbuf"),
            std::optional<std::optional<EventTransport>>(EventTransport::kPerfBuffer));
  EXPECT_FALSE(parse_event_transport("pipe").has_value());
}

}  // namespace
}  // namespace nodepulse
