// Finding a running Trino's etc dir from its command line, over a fake /proc.
#include "collect/trino_etc.h"

#include <gtest/gtest.h>

#include "fake_proc.h"

namespace nodepulse {
namespace {

namespace fs = std::filesystem;

TEST(TrinoEtcOfProcess, LauncherFormsAndRelativePaths) {
  testing::FakeProc proc;
  proc.add_process(10, {"java", "-Dconfig=/opt/trino/etc/config.properties", "io.trino.server.TrinoServer"}, "java");
  proc.add_process(11, {"launcher", "--etc-dir=etc", "run"}, "launcher");
  fs::create_directory_symlink("/srv/trino", proc.proc() / "11" / "cwd");
  proc.add_process(12, {"java", "io.trino.server.TrinoServer"}, "java");

  EXPECT_EQ(etc_dir_of_process(10, proc.proc()), fs::path("/opt/trino/etc"));
  EXPECT_EQ(etc_dir_of_process(11, proc.proc()), fs::path("/srv/trino/etc")) << "relative to the process's cwd";
  EXPECT_EQ(etc_dir_of_process(12, proc.proc()), std::nullopt) << "no etc dir named";
  EXPECT_EQ(etc_dir_of_process(99, proc.proc()), std::nullopt) << "gone";
}

TEST(TrinoEtcAdopt, OnlyWhenTheConfiguredDirDoesNotExist) {
  testing::FakeProc proc;
  const fs::path real_etc = proc.root() / "trino-etc";
  fs::create_directories(real_etc);
  proc.add_process(20, {"java", "-Dconfig=" + (real_etc / "config.properties").string(), "io.trino.server.TrinoServer"},
                   "java");

  Config missing;
  missing.trino.etc_dir = (proc.root() / "no-such-etc").string();
  EXPECT_EQ(adopt_running_trino_etc_dir(missing, proc.proc()), real_etc);
  EXPECT_EQ(missing.trino.etc_dir, real_etc.string());

  Config present;
  present.trino.etc_dir = proc.root().string();  // exists: an operator's choice stands
  EXPECT_EQ(adopt_running_trino_etc_dir(present, proc.proc()), std::nullopt);
  EXPECT_EQ(present.trino.etc_dir, proc.root().string());

  Config off;
  off.trino.etc_dir = "";  // "no Trino here"
  EXPECT_EQ(adopt_running_trino_etc_dir(off, proc.proc()), std::nullopt);
  EXPECT_EQ(off.trino.etc_dir, "");
}

}  // namespace
}  // namespace nodepulse
