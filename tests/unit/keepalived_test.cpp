// The keepalived track file: the value per state, atomic replacement, no needless rewrites, and
// repair of a file someone else changed.
#include "keepalived/track_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace nodepulse {
namespace {

using ::testing::HasSubstr;

Heartbeat heartbeat_of(HealthState state) {
  Heartbeat heartbeat;
  heartbeat.verdict.state = state;
  return heartbeat;
}

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

ino_t inode_of(const std::filesystem::path& file) {
  struct stat info {};
  return ::stat(file.c_str(), &info) == 0 ? info.st_ino : 0;
}

class KeepalivedTrackFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/nodepulse-keepalived-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    file_ = dir_ / "track";
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::unique_ptr<KeepalivedTrackFileSink> make(TrackFileValues values = {}) {
    auto sink = KeepalivedTrackFileSink::create(file_, values);
    if (!sink.ok()) {
      ADD_FAILURE() << sink.error().message;
      return nullptr;
    }
    return std::move(sink).value();
  }

  std::size_t entries_in_dir() const {
    return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(dir_), {}));
  }

  std::filesystem::path dir_;
  std::filesystem::path file_;
};

struct ValueCase {
  HealthState state;
  int32_t default_value;
  int32_t custom_value;
};

TEST(KeepalivedTrackFileValue, DefaultsFailOverOnlyWhenFailing) {
  const TrackFileValues defaults;
  const TrackFileValues custom{1, -50, -1000, 7};
  for (const ValueCase& value_case : {ValueCase{HealthState::kHealthy, 0, 1}, ValueCase{HealthState::kDegraded, 0, -50},
                                      ValueCase{HealthState::kFailing, -254, -1000},
                                      ValueCase{HealthState::kUnknown, 0, 7}}) {
    SCOPED_TRACE(std::string(to_string(value_case.state)));
    EXPECT_EQ(track_file_value(value_case.state, defaults), value_case.default_value);
    EXPECT_EQ(track_file_value(value_case.state, custom), value_case.custom_value);
  }
  // keepalived: a product below -253 is FAULT with weight 1; with weight 0 any non-zero value is.
  EXPECT_LT(track_file_value(HealthState::kFailing, defaults) * 1, -253);
  EXPECT_NE(track_file_value(HealthState::kFailing, defaults), 0);
}

TEST(KeepalivedTrackFileValue, ParsesWhatKeepalivedReads) {
  EXPECT_EQ(parse_track_file_value("0\n"), 0);
  EXPECT_EQ(parse_track_file_value("-254\n"), -254);
  EXPECT_EQ(parse_track_file_value(" 12 "), 12);
  EXPECT_EQ(parse_track_file_value(""), std::nullopt);
  EXPECT_EQ(parse_track_file_value("x"), std::nullopt);
  EXPECT_EQ(parse_track_file_value("1 2"), std::nullopt);
}

TEST_F(KeepalivedTrackFile, WritesTheValueOfEachState) {
  auto sink = make();
  ASSERT_TRUE(sink);
  EXPECT_FALSE(std::filesystem::exists(file_)) << "nothing is written before the first heartbeat";
  ASSERT_TRUE(sink->publish(heartbeat_of(HealthState::kHealthy)).ok());
  EXPECT_EQ(read_text(file_), "0\n");
  ASSERT_TRUE(sink->publish(heartbeat_of(HealthState::kFailing)).ok());
  EXPECT_EQ(read_text(file_), "-254\n");
  ASSERT_TRUE(sink->publish(heartbeat_of(HealthState::kHealthy)).ok());
  EXPECT_EQ(read_text(file_), "0\n");
  EXPECT_EQ(sink->writes(), 3u);
  struct stat info {};
  ASSERT_EQ(::stat(file_.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0644u) << "keepalived may read it as another user";
  EXPECT_EQ(entries_in_dir(), 1u) << "no temporary file is left behind";
}

TEST_F(KeepalivedTrackFile, RewritesOnlyWhenTheValueChanges) {
  auto sink = make();
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->publish(heartbeat_of(HealthState::kHealthy)).ok());
  const ino_t first = inode_of(file_);
  // healthy and degraded share the value 0 by default: keepalived must not even see an event.
  for (HealthState state : {HealthState::kHealthy, HealthState::kDegraded, HealthState::kUnknown}) {
    ASSERT_TRUE(sink->publish(heartbeat_of(state)).ok());
  }
  EXPECT_EQ(sink->writes(), 1u);
  EXPECT_EQ(inode_of(file_), first);
  ASSERT_TRUE(sink->publish(heartbeat_of(HealthState::kFailing)).ok());
  EXPECT_EQ(sink->writes(), 2u);
  EXPECT_NE(inode_of(file_), first) << "a change replaces the file by rename, never in place";
}

TEST_F(KeepalivedTrackFile, RepairsAFileChangedBySomeoneElse) {
  auto sink = make();
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->publish(heartbeat_of(HealthState::kFailing)).ok());
  std::ofstream(file_) << "0\n";  // e.g. keepalived restarted with `init_file 0 overwrite`
  ASSERT_TRUE(sink->publish(heartbeat_of(HealthState::kFailing)).ok());
  EXPECT_EQ(read_text(file_), "-254\n");
  std::filesystem::remove(file_);
  ASSERT_TRUE(sink->publish(heartbeat_of(HealthState::kFailing)).ok());
  EXPECT_EQ(read_text(file_), "-254\n");
}

TEST_F(KeepalivedTrackFile, UsesConfiguredValues) {
  auto sink = make({10, -20, -300, -1});
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->publish(heartbeat_of(HealthState::kDegraded)).ok());
  EXPECT_EQ(read_text(file_), "-20\n");
  ASSERT_TRUE(sink->publish(heartbeat_of(HealthState::kUnknown)).ok());
  EXPECT_EQ(read_text(file_), "-1\n");
}

TEST_F(KeepalivedTrackFile, MissingDirectoryIsAStartUpError) {
  auto sink = KeepalivedTrackFileSink::create(dir_ / "absent" / "track", {});
  ASSERT_FALSE(sink.ok());
  EXPECT_THAT(sink.error().message, HasSubstr("keepalived.track_file"));
  EXPECT_THAT(sink.error().message, HasSubstr("does not exist"));
  EXPECT_FALSE(KeepalivedTrackFileSink::create(dir_ / "", {}).ok());
}

TEST_F(KeepalivedTrackFile, AFailedWriteIsRetriedAtTheNextHeartbeat) {
  auto sink = make();
  ASSERT_TRUE(sink);
  std::filesystem::remove_all(dir_);
  const Result<void> failed = sink->publish(heartbeat_of(HealthState::kFailing));
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.error().message, HasSubstr("keepalived.track_file"));
  std::filesystem::create_directory(dir_);
  ASSERT_TRUE(sink->publish(heartbeat_of(HealthState::kFailing)).ok());
  EXPECT_EQ(read_text(file_), "-254\n");
}

TEST_F(KeepalivedTrackFile, ReplaceFileAtomicallyOverwrites) {
  ASSERT_TRUE(replace_file_atomically(file_, "a").ok());
  ASSERT_TRUE(replace_file_atomically(file_, "bb").ok());
  EXPECT_EQ(read_text(file_), "bb");
  EXPECT_EQ(entries_in_dir(), 1u);
}

}  // namespace
}  // namespace nodepulse
