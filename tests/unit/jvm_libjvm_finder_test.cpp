// Finding a process's libjvm.so in /proc/PID/maps text and in a fake /proc tree.
#include <gtest/gtest.h>

#include "fake_proc.h"
#include "probes/libjvm_finder.h"

namespace nodepulse {
namespace {

// Trimmed from a real OpenJDK 17 process on Debian 12.
constexpr const char* kHotspotMaps =
    "55d4c1a0e000-55d4c1a0f000 r--p 00000000 08:01 1312345                    /usr/lib/jvm/java-17-openjdk-amd64/bin/java\n"
    "55d4c2f4a000-55d4c2f6b000 rw-p 00000000 00:00 0                          [heap]\n"
    "7f3a5c000000-7f3a5c021000 rw-p 00000000 00:00 0 \n"
    "7f3a6a600000-7f3a6a8a5000 r--p 00000000 08:01 1312377                    /usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so\n"
    "7f3a6a8a5000-7f3a6b4f4000 r-xp 002a5000 08:01 1312377                    /usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so\n"
    "7f3a6c010000-7f3a6c012000 r--p 00000000 08:01 1312401                    /usr/lib/jvm/java-17-openjdk-amd64/lib/libjli.so\n"
    "7ffd8b5e1000-7ffd8b602000 rw-p 00000000 00:00 0                          [stack]\n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

TEST(JvmLibjvmFinder, FindsLibjvmInMapsText) {
  struct Case {
    const char* description;
    std::string maps;
    std::optional<LibjvmMapping> expected;
  };
  const Case cases[] = {
      {"HotSpot", kHotspotMaps,
       LibjvmMapping{"/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so", 1312377, false}},
      {"not a JVM",
       "55d4c1a0e000-55d4c1a0f000 r-xp 00000000 08:01 77 /usr/bin/sleep\n"
       "7f3a6c010000-7f3a6c012000 r--p 00000000 08:01 78 /usr/lib/x86_64-linux-gnu/libc.so.6\n",
       std::nullopt},
      {"the launcher before it loaded libjvm.so",
       "55d4c1a0e000-55d4c1a0f000 r--p 00000000 08:01 1312345 /usr/lib/jvm/java-17-openjdk-amd64/bin/java\n"
       "7f3a6c010000-7f3a6c012000 r--p 00000000 08:01 1312401 /usr/lib/jvm/java-17-openjdk-amd64/lib/libjli.so\n",
       std::nullopt},
      {"only the exact file name counts",
       "7f3a6a600000-7f3a6a8a5000 r--p 00000000 08:01 5 /opt/jdk/lib/server/libjvm.so.debug\n"
       "7f3a6a600000-7f3a6a8a5000 r--p 00000000 08:01 6 /opt/notlibjvm.so\n"
       "7f3a6a600000-7f3a6a8a5000 r--p 00000000 08:01 7 /opt/libjvm.so/other.so\n",
       std::nullopt},
      {"a path with spaces",
       "7f3a6a600000-7f3a6a8a5000 r-xp 00000000 08:01 42 /opt/my jdk/lib/server/libjvm.so\n",
       LibjvmMapping{"/opt/my jdk/lib/server/libjvm.so", 42, false}},
      {"replaced on disk since it was mapped",
       "7f3a6a600000-7f3a6a8a5000 r-xp 00000000 08:01 43 /usr/lib/jvm/j17/lib/server/libjvm.so (deleted)\n",
       LibjvmMapping{"/usr/lib/jvm/j17/lib/server/libjvm.so", 43, true}},
      {"OpenJ9's compatibility libjvm.so is still a libjvm.so (its missing probes are found at attach)",
       "7f3a6a600000-7f3a6a8a5000 r-xp 00000000 08:01 44 /opt/openj9/lib/j9vm/libjvm.so\n",
       LibjvmMapping{"/opt/openj9/lib/j9vm/libjvm.so", 44, false}},
      {"empty (a process that just exited)", "", std::nullopt},
      {"no trailing newline",
       "7f3a6a600000-7f3a6a8a5000 r-xp 00000000 08:01 45 /jdk/lib/server/libjvm.so",
       LibjvmMapping{"/jdk/lib/server/libjvm.so", 45, false}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    EXPECT_EQ(find_libjvm_in_maps(c.maps), c.expected);
  }
}

TEST(JvmLibjvmFinder, ReadsMapsFromAProcRootAndAttachesThroughTheProcessRoot) {
  testing::FakeProc proc;
  proc.add_process(4242, {"java", "-cp", ".", "Main"}, "java");
  testing::FakeProc::write_file(proc.proc() / "4242" / "maps", kHotspotMaps);

  auto mapping = find_libjvm(proc.proc(), 4242);
  ASSERT_TRUE(mapping) << mapping.error().message;
  ASSERT_TRUE(mapping->has_value());
  EXPECT_EQ((*mapping)->path, "/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so");

  auto path = libjvm_attach_path(proc.proc(), 4242, **mapping);
  ASSERT_TRUE(path) << path.error().message;
  EXPECT_EQ(*path, (proc.proc() / "4242/root/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so").string())
      << "through the process's own root, so a JVM in a container is found";
}

TEST(JvmLibjvmFinder, AGoneProcessIsAnErrorAndADeletedLibjvmIsRefused) {
  testing::FakeProc proc;
  auto gone = find_libjvm(proc.proc(), 999);
  ASSERT_FALSE(gone);
  EXPECT_NE(gone.error().message.find("999/maps"), std::string::npos) << gone.error().message;

  auto deleted = libjvm_attach_path(proc.proc(), 4242, {"/usr/lib/jvm/j17/lib/server/libjvm.so", 43, true});
  ASSERT_FALSE(deleted);
  EXPECT_NE(deleted.error().message.find("replaced or removed on disk"), std::string::npos) << deleted.error().message;
}

}  // namespace
}  // namespace nodepulse
