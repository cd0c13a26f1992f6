// What the agent reads from /proc about other processes: their command line, comm, cgroup and
// memory maps, and a target's pid file. Any local user controls their own process's command
// line, comm and (with delegation) cgroup names, so these are attacker-chosen bytes read by a
// root process. The input is written into a fake /proc/PID tree, then read the way the agent
// reads it (TargetMatcher, the Trino etc dir, libjvm in the maps, the cgroup file).
//
// Input: cmdline (NULs between arguments) "\n@@\n" comm "\n@@\n" cgroup "\n@@\n" maps
//        "\n@@\n" pid file.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "collect/psi.h"
#include "collect/targets.h"
#include "collect/trino_etc.h"
#include "fuzz_support.h"
#include "probes/libjvm_finder.h"

using namespace nodepulse;

namespace {

constexpr pid_t kPid = 4242;

struct FakeProc {
  std::filesystem::path root;
  std::filesystem::path process;
  std::filesystem::path pid_file;

  FakeProc() {
    char name[] = "/tmp/nodepulse-proc-fuzz-XXXXXX";
    if (::mkdtemp(name) == nullptr) fuzz::fail("mkdtemp");
    root = name;
    process = root / std::to_string(kPid);
    std::filesystem::create_directories(process);
    std::filesystem::create_directory_symlink("/opt/trino", process / "cwd");
    pid_file = root / "trino.pid";
  }
  ~FakeProc() {
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
  }
};

void write_file(const std::filesystem::path& file, std::string_view content) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) fuzz::fail("cannot write " + file.string());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static FakeProc* proc = [] {
    auto* fake = new FakeProc();
    std::atexit([] { delete proc; });
    return fake;
  }();
  std::vector<std::string_view> fields = fuzz::split_fields(fuzz::as_text(data, size), 5);
  fields.resize(5);
  write_file(proc->process / "cmdline", fields[0]);
  write_file(proc->process / "comm", fields[1]);
  write_file(proc->process / "cgroup", fields[2]);
  write_file(proc->process / "maps", fields[3]);
  write_file(proc->pid_file, fields[4]);

  const std::vector<TargetSpec> specs = {
      {"by_pid_file", "", "", proc->pid_file.string(), ""},
      {"by_comm", "", "java", "", ""},
      {"by_cgroup", "", "", "", "/system.slice/trino.service"},
      {"by_cmdline", "io.trino.server.TrinoServer", "", "", ""},
  };
  const TargetMatcher matcher(specs, proc->root, /*exclude_tgid=*/1);
  const std::optional<TargetProcess> match = matcher.match(kPid);
  if (match && (match->tgid != kPid || match->target_index >= specs.size())) fuzz::fail("a match outside the specs");
  (void)matcher.scan();

  (void)etc_dir_of_process(kPid, proc->root);
  (void)find_libjvm_in_maps(fields[3]);
  (void)find_libjvm(proc->root, kPid);
  (void)read_proc_cgroup(proc->root, kPid);
  return 0;
}
