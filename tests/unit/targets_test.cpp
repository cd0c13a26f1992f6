// TargetMatcher over a fake /proc tree built in a temporary directory.
#include "collect/targets.h"

#include "fake_proc.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace nodepulse {
namespace {

namespace fs = std::filesystem;

constexpr pid_t kNoExclude = -1;
const std::vector<std::string> kTrinoArgs = {
    "/usr/lib/jvm/java-17/bin/java", "-Xmx16G", "-cp", "/usr/lib/trino/lib/*",
    "io.trino.server.TrinoServer"};

TargetSpec cmdline_spec(std::string name, std::string pattern) {
  TargetSpec spec;
  spec.name = std::move(name);
  spec.cmdline_contains = std::move(pattern);
  return spec;
}
TargetSpec comm_spec(std::string name, std::string comm) {
  TargetSpec spec;
  spec.name = std::move(name);
  spec.comm = std::move(comm);
  return spec;
}
TargetSpec pid_file_spec(std::string name, std::string path) {
  TargetSpec spec;
  spec.name = std::move(name);
  spec.pid_file = std::move(path);
  return spec;
}
TargetSpec cgroup_spec(std::string name, std::string cgroup) {
  TargetSpec spec;
  spec.name = std::move(name);
  spec.cgroup = std::move(cgroup);
  return spec;
}

class TargetMatcherTest : public ::testing::Test {
 protected:
  static void write_file(const fs::path& path, const std::string& content) {
    testing::FakeProc::write_file(path, content);
  }

  void add_process(pid_t pid, const std::vector<std::string>& args, const std::string& comm,
                   const std::string& cgroup_text = "0::/user.slice\n") {
    fake_.add_process(pid, args, comm, cgroup_text);
  }

  fs::path write_pid_file(const std::string& content, const std::string& name = "trino.pid") {
    return fake_.write_aside(name, content);
  }

  TargetMatcher matcher(std::vector<TargetSpec> specs, pid_t exclude = kNoExclude) const {
    return TargetMatcher(std::move(specs), proc_, exclude);
  }

  testing::FakeProc fake_;
  const fs::path& root_ = fake_.root();
  const fs::path& proc_ = fake_.proc();
};

TEST_F(TargetMatcherTest, CmdlineContains) {
  struct Case {
    const char* description;
    std::vector<std::string> args;
    std::string pattern;
    bool matches;
  };
  const std::vector<Case> cases = {
      {"one argument", kTrinoArgs, "io.trino.server.TrinoServer", true},
      {"part of one argument", kTrinoArgs, "trino.server", true},
      {"pattern spanning arguments reads NULs as spaces", kTrinoArgs,
       "-cp /usr/lib/trino/lib/* io.trino.server.TrinoServer", true},
      {"whole command line", kTrinoArgs,
       "/usr/lib/jvm/java-17/bin/java -Xmx16G -cp /usr/lib/trino/lib/* io.trino.server.TrinoServer",
       true},
      {"terminating NUL is dropped, not a trailing space", kTrinoArgs,
       "io.trino.server.TrinoServer ", false},
      {"arguments are not glued together", kTrinoArgs, "-Xmx16G-cp", false},
      {"other java service",
       {"java", "-cp", "x", "org.apache.zookeeper.server.quorum.QuorumPeerMain"},
       "io.trino.server.TrinoServer", false},
      {"case matters", kTrinoArgs, "io.trino.server.trinoserver", false},
  };
  pid_t pid = 100;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    add_process(++pid, c.args, "java");
    const auto result = matcher({cmdline_spec("trino", c.pattern)}).match(pid);
    if (c.matches) {
      ASSERT_TRUE(result.has_value());
      EXPECT_EQ(*result, (TargetProcess{pid, 0, "java"}));
    } else {
      EXPECT_FALSE(result.has_value());
    }
  }
}

TEST_F(TargetMatcherTest, CmdlineLongerThanCapIsSearchedOnlyInItsHead) {
  std::vector<std::string> args = {"java", "-Dhead=1", std::string(70 * 1024, 'x'), "TailMarker"};
  add_process(42, args, "java");
  EXPECT_TRUE(matcher({cmdline_spec("t", "java -Dhead=1")}).match(42).has_value());
  EXPECT_FALSE(matcher({cmdline_spec("t", "TailMarker")}).match(42).has_value());
}

TEST_F(TargetMatcherTest, KernelThreadOrZombieNeverMatches) {
  // Empty cmdline: kernel thread, or a zombie whose mm is gone. comm, cgroup and pid_file all
  // point at it, yet nothing may match.
  add_process(2, {}, "kthreadd", "0::/\n");
  const fs::path pid_file = write_pid_file("2\n");
  const struct {
    const char* description;
    TargetSpec spec;
  } cases[] = {
      {"comm", comm_spec("k", "kthreadd")},
      {"cgroup root", cgroup_spec("k", "/")},
      {"pid_file", pid_file_spec("k", pid_file.string())},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    const TargetMatcher m = matcher({c.spec});
    EXPECT_FALSE(m.match(2).has_value());
    EXPECT_TRUE(m.scan().empty());
  }
  // The same selectors do match once the process has a command line.
  add_process(2, {"kthreadd-lookalike"}, "kthreadd", "0::/\n");
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.description) + " with a command line");
    EXPECT_TRUE(matcher({c.spec}).match(2).has_value());
  }
}

TEST_F(TargetMatcherTest, CommIsExact) {
  struct Case {
    const char* description;
    std::string process_comm;
    std::string spec_comm;
    bool matches;
  };
  const std::vector<Case> cases = {
      {"exact", "java", "java", true},
      {"with spaces (thread-style name)", "C2 CompilerThre", "C2 CompilerThre", true},
      {"spec is a prefix", "javac", "java", false},
      {"spec is longer", "java", "javac", false},
      {"spec is a suffix", "trino-java", "java", false},
      {"case matters", "Java", "java", false},
  };
  pid_t pid = 200;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    add_process(++pid, {"/bin/" + c.process_comm}, c.process_comm);
    const auto result = matcher({comm_spec("t", c.spec_comm)}).match(pid);
    if (c.matches) {
      ASSERT_TRUE(result.has_value());
      EXPECT_EQ(*result, (TargetProcess{pid, 0, c.process_comm}));
    } else {
      EXPECT_FALSE(result.has_value());
    }
  }
}

TEST_F(TargetMatcherTest, PidFile) {
  add_process(1234, kTrinoArgs, "java");
  add_process(1235, kTrinoArgs, "java");
  // No real /proc has a "0"; this one makes a pid file holding 0 able to match if it were accepted.
  add_process(0, kTrinoArgs, "java");
  struct Case {
    const char* description;
    std::optional<std::string> content;  // nullopt = no file
    bool matches;
  };
  const std::vector<Case> cases = {
      {"plain pid", "1234", true},
      {"trailing newline", "1234\n", true},
      {"surrounding whitespace", "  \t1234 \r\n", true},
      {"missing file", std::nullopt, false},
      {"empty file", "", false},
      {"garbage", "trino\n", false},
      {"pid followed by text", "1234abc\n", false},
      {"two pids", "1234 1235\n", false},
      {"negative", "-1234\n", false},
      {"plus sign", "+1234\n", false},
      {"zero", "0\n", false},
      {"out of range", "99999999999999999999\n", false},
      {"stale: no such process in proc_root", "4321\n", false},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    const fs::path path = root_ / ("case" + std::to_string(++n) + ".pid");
    if (c.content) write_file(path, *c.content);
    const TargetMatcher m = matcher({pid_file_spec("trino", path.string())});
    const auto result = m.match(1234);
    const auto scanned = m.scan();
    if (c.matches) {
      ASSERT_TRUE(result.has_value());
      EXPECT_EQ(*result, (TargetProcess{1234, 0, "java"}));
      EXPECT_EQ(scanned, (std::vector<TargetProcess>{{1234, 0, "java"}}));
    } else {
      EXPECT_FALSE(result.has_value());
      EXPECT_TRUE(scanned.empty());
    }
    EXPECT_FALSE(m.match(1235).has_value()) << "only the pid in the file matches";
  }
}

TEST_F(TargetMatcherTest, PidFileIsReReadOnEveryCall) {
  add_process(1234, kTrinoArgs, "java");
  add_process(5678, kTrinoArgs, "java");
  add_process(77, {"/usr/sbin/sshd"}, "sshd");
  const fs::path path = write_pid_file("1234\n");
  // Mixed with a non-pid_file spec, so scan() goes through the directory listing.
  const TargetMatcher m =
      matcher({pid_file_spec("trino", path.string()), comm_spec("ssh", "sshd")});
  EXPECT_TRUE(m.match(1234).has_value());
  EXPECT_FALSE(m.match(5678).has_value());
  EXPECT_EQ(m.scan(), (std::vector<TargetProcess>{{77, 1, "sshd"}, {1234, 0, "java"}}));

  write_file(path, "5678\n");  // the service restarted
  EXPECT_FALSE(m.match(1234).has_value());
  EXPECT_TRUE(m.match(5678).has_value());
  EXPECT_EQ(m.scan(), (std::vector<TargetProcess>{{77, 1, "sshd"}, {5678, 0, "java"}}));

  fs::remove(path);  // the service stopped
  EXPECT_FALSE(m.match(5678).has_value());
  EXPECT_EQ(m.scan(), (std::vector<TargetProcess>{{77, 1, "sshd"}}));
}

TEST_F(TargetMatcherTest, Cgroup) {
  struct Case {
    const char* description;
    std::string cgroup_file;
    std::string spec;
    bool matches;
  };
  const std::string v1_trino =
      "12:pids:/system.slice/trino.service\n"
      "11:memory:/system.slice/trino.service\n"
      "3:cpu,cpuacct:/system.slice/trino.service\n"
      "1:name=systemd:/system.slice/trino.service\n"
      "0::/system.slice/trino.service\n";
  const std::string v1_other_first =
      "12:pids:/user.slice\n"
      "4:memory:/user.slice\n"
      "1:name=systemd:/system.slice/trino.service/payload\n";
  const std::vector<Case> cases = {
      {"v2 exact", "0::/system.slice/trino.service\n", "/system.slice/trino.service", true},
      {"v2 below", "0::/system.slice/trino.service/jvm\n", "/system.slice/trino.service", true},
      {"v2 deep below", "0::/a/b/c/d\n", "/a/b", true},
      {"v2 sibling with the spec as prefix", "0::/a/bc\n", "/a/b", false},
      {"v2 parent of the spec", "0::/a\n", "/a/b", false},
      {"v2 unrelated", "0::/user.slice/user-1000.slice\n", "/system.slice/trino.service", false},
      {"v2 no trailing newline", "0::/a/b", "/a/b", true},
      {"spec with trailing slash", "0::/a/b/c\n", "/a/b/", true},
      {"spec root covers everything", "0::/user.slice\n", "/", true},
      {"spec is a substring in the middle only", "0::/x/a/b\n", "/a/b", false},
      {"v1 all lines", v1_trino, "/system.slice/trino.service", true},
      {"v1 match on a later line", v1_other_first, "/system.slice/trino.service", true},
      {"v1 controller name is not the path", v1_other_first, "memory", false},
      {"v1 no line matches", v1_other_first, "/system.slice/zookeeper.service", false},
      {"path containing a colon", "0::/a/b:c\n", "/a/b:c", true},
      {"empty cgroup file", "", "/", false},
      {"line with an empty path", "0::\n", "/", false},
  };
  pid_t pid = 300;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    add_process(++pid, kTrinoArgs, "java", c.cgroup_file);
    const auto result = matcher({cgroup_spec("trino", c.spec)}).match(pid);
    if (c.matches) {
      ASSERT_TRUE(result.has_value());
      EXPECT_EQ(*result, (TargetProcess{pid, 0, "java"}));
    } else {
      EXPECT_FALSE(result.has_value());
    }
  }
}

TEST_F(TargetMatcherTest, FirstSpecInConfigOrderWins) {
  add_process(10, kTrinoArgs, "java", "0::/system.slice/trino.service\n");
  add_process(11, {"java", "org.apache.zookeeper.server.quorum.QuorumPeerMain"}, "java",
              "0::/system.slice/zookeeper.service\n");
  const TargetSpec by_cmdline = cmdline_spec("trino", "TrinoServer");
  const TargetSpec by_comm = comm_spec("any-java", "java");
  const TargetSpec by_cgroup = cgroup_spec("trino-cg", "/system.slice/trino.service");

  const TargetMatcher cmdline_first = matcher({by_cmdline, by_comm, by_cgroup});
  EXPECT_EQ(cmdline_first.match(10), (TargetProcess{10, 0, "java"}));
  EXPECT_EQ(cmdline_first.match(11), (TargetProcess{11, 1, "java"}));

  const TargetMatcher cgroup_first = matcher({by_cgroup, by_comm, by_cmdline});
  EXPECT_EQ(cgroup_first.match(10), (TargetProcess{10, 0, "java"}));
  EXPECT_EQ(cgroup_first.match(11), (TargetProcess{11, 1, "java"}));

  const TargetMatcher comm_last = matcher({by_cmdline, by_cgroup, by_comm});
  EXPECT_EQ(comm_last.scan(), (std::vector<TargetProcess>{{10, 0, "java"}, {11, 2, "java"}}));
}

TEST_F(TargetMatcherTest, ResultCarriesTheProcessComm) {
  add_process(10, kTrinoArgs, "trino-server");
  EXPECT_EQ(matcher({cmdline_spec("trino", "TrinoServer")}).match(10),
            (TargetProcess{10, 0, "trino-server"}));
}

TEST_F(TargetMatcherTest, ExcludeTgidIsNeverMatched) {
  // The agent itself, started with --set targets[0].cmdline_contains=TrinoServer.
  add_process(500, {"nodepulse", "agent", "--set", "targets[0].cmdline_contains=TrinoServer"},
              "nodepulse");
  add_process(600, kTrinoArgs, "java");
  const fs::path pid_file = write_pid_file("500\n");
  const TargetMatcher m = matcher({cmdline_spec("trino", "TrinoServer")}, 500);
  EXPECT_FALSE(m.match(500).has_value());
  EXPECT_EQ(m.scan(), (std::vector<TargetProcess>{{600, 0, "java"}}));
  // Also when the spec names it directly.
  const TargetMatcher by_pid = matcher({pid_file_spec("self", pid_file.string())}, 500);
  EXPECT_FALSE(by_pid.match(500).has_value());
  EXPECT_TRUE(by_pid.scan().empty());
  // Control: without the exclusion, it would have matched.
  EXPECT_TRUE(matcher({cmdline_spec("trino", "TrinoServer")}).match(500).has_value());
}

TEST_F(TargetMatcherTest, ScanIsSortedAndComplete) {
  // Created out of order so the directory order is unlikely to be the tgid order.
  for (pid_t pid : {30000, 7, 1001, 250, 99999, 2, 1000}) {
    add_process(pid, kTrinoArgs, "java");
  }
  add_process(3, {"/sbin/init"}, "systemd");
  add_process(4, {}, "kworker/0:1");
  add_process(5000, {"bash"}, "bash");
  const std::vector<TargetProcess> expected = {{2, 0, "java"},    {7, 0, "java"},
                                               {250, 0, "java"},  {1000, 0, "java"},
                                               {1001, 0, "java"}, {30000, 0, "java"},
                                               {99999, 0, "java"}};
  EXPECT_EQ(matcher({cmdline_spec("trino", "TrinoServer")}).scan(), expected);
}

TEST_F(TargetMatcherTest, ScanIgnoresNonProcessEntries) {
  add_process(10, kTrinoArgs, "java");
  add_process(7, kTrinoArgs, "java");  // "007" below must not make it appear twice
  // Entries that look like processes but are not /proc/<tgid> directories.
  for (const char* name : {"self", "sys", "thread-self", "12abc", "-5", "007", "0"}) {
    const fs::path dir = proc_ / name;
    fs::create_directories(dir);
    write_file(dir / "cmdline", std::string("java\0io.trino.server.TrinoServer\0", 33));
    write_file(dir / "comm", "java\n");
  }
  write_file(proc_ / "42", "a regular file, not a process\n");
  EXPECT_EQ(matcher({cmdline_spec("trino", "TrinoServer")}).scan(),
            (std::vector<TargetProcess>{{7, 0, "java"}, {10, 0, "java"}}));
  EXPECT_FALSE(matcher({cmdline_spec("trino", "TrinoServer")}).match(42).has_value());
}

TEST_F(TargetMatcherTest, VanishedProcessDoesNotMatch) {
  add_process(10, kTrinoArgs, "java", "0::/system.slice/trino.service\n");
  // Listed, but its files are already gone: the process exited between listing and reading.
  fs::create_directories(proc_ / "11");
  // Half gone: cmdline still readable, comm and cgroup not.
  fs::create_directories(proc_ / "12");
  write_file(proc_ / "12" / "cmdline", std::string("java\0io.trino.server.TrinoServer\0", 33));
  const fs::path pid_file = write_pid_file("11\n");

  const struct {
    const char* description;
    TargetSpec spec;
  } cases[] = {
      {"cmdline", cmdline_spec("t", "TrinoServer")},
      {"comm", comm_spec("t", "java")},
      {"cgroup", cgroup_spec("t", "/system.slice/trino.service")},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    const TargetMatcher m = matcher({c.spec});
    EXPECT_FALSE(m.match(11).has_value());
    EXPECT_FALSE(m.match(12).has_value());
    EXPECT_FALSE(m.match(13).has_value()) << "no directory at all";
    EXPECT_EQ(m.scan(), (std::vector<TargetProcess>{{10, 0, "java"}}));
  }
  EXPECT_FALSE(matcher({pid_file_spec("t", pid_file.string())}).match(11).has_value());
  EXPECT_TRUE(matcher({pid_file_spec("t", pid_file.string())}).scan().empty());
}

TEST_F(TargetMatcherTest, MissingProcRootOrNoSpecsFindsNothing) {
  add_process(10, kTrinoArgs, "java");
  const TargetMatcher no_root({cmdline_spec("trino", "TrinoServer")}, root_ / "absent", kNoExclude);
  EXPECT_TRUE(no_root.scan().empty());
  EXPECT_FALSE(no_root.match(10).has_value());

  const TargetMatcher no_specs = matcher({});
  EXPECT_TRUE(no_specs.scan().empty());
  EXPECT_FALSE(no_specs.match(10).has_value());

  // A spec with no selector set matches nothing (config validation rejects it anyway).
  TargetSpec empty;
  empty.name = "empty";
  EXPECT_FALSE(matcher({empty}).match(10).has_value());
  EXPECT_TRUE(matcher({empty}).scan().empty());

  // Control: the same tree with a real spec does match.
  EXPECT_EQ(matcher({cmdline_spec("trino", "TrinoServer")}).scan(),
            (std::vector<TargetProcess>{{10, 0, "java"}}));
}

}  // namespace
}  // namespace nodepulse
