// /proc/pressure/* and /proc/PID/cgroup text (collect/psi.h). The kernel writes them, but their
// format changes across versions, cgroup names are chosen by whoever creates the cgroup, and a
// read can be cut short: the parsers must take anything.
//
// Input: pressure-file text "\n@@\n" /proc/PID/cgroup text.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "collect/psi.h"
#include "fuzz_support.h"

using namespace nodepulse;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::vector<std::string_view> fields = fuzz::split_fields(fuzz::as_text(data, size), 2);
  const Result<PsiStats> stats = parse_psi(fields[0]);
  if (stats.ok()) {
    // Deltas from a reading to itself and back: the tracker must take any totals.
    PsiDeltaTracker tracker;
    (void)tracker.next(*stats);
    (void)tracker.next(*stats);
    (void)tracker.next(PsiStats{});
  } else if (stats.error().message.empty()) {
    fuzz::fail("a PSI error without a message");
  }
  if (fields.size() > 1) {
    const ProcCgroup cgroup = parse_proc_cgroup(fields[1]);
    const CgroupMounts hybrid{"/sys/fs/cgroup/unified", "/sys/fs/cgroup/memory"};
    (void)memory_pressure_file(hybrid, cgroup);
    const CgroupMounts v2{"/sys/fs/cgroup", std::nullopt};
    (void)memory_pressure_file(v2, cgroup);
  }
  return 0;
}
