// The nginx driver without nginx: `binary` is /bin/true or /bin/false standing in for `nginx -t`,
// and the "master" is a child process of this test that counts the SIGHUPs it gets. Checks the
// file is written atomically, reloads happen only on a change, and a refused file is put back.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "balancer/nginx_driver.h"

namespace nodepulse {
namespace {

using ::testing::HasSubstr;

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Decision decision_with(ServerAction action) {
  ServerTarget server;
  server.node_id = "w1";
  server.name = "w1";
  server.address = "127.0.0.1:8080";
  server.state = action == ServerAction::kReady ? MemberState::kHealthy : MemberState::kFailing;
  server.action = action;
  server.weight = action == ServerAction::kReady ? 100 : 0;
  Decision decision;
  decision.servers = {server};
  return decision;
}

class NginxDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("np_nginx_driver_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    // A stand-in master: counts SIGHUPs into a pipe, exits on SIGTERM.
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    master_ = ::fork();
    ASSERT_GE(master_, 0);
    if (master_ == 0) {
      ::close(fds[0]);
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGHUP);
      sigaddset(&set, SIGTERM);
      sigprocmask(SIG_BLOCK, &set, nullptr);
      ::alarm(30);
      (void)::write(fds[1], "r", 1);  // ready: SIGHUP is blocked, so none is lost
      for (;;) {
        int sig = 0;
        sigwait(&set, &sig);
        if (sig == SIGTERM) ::_exit(0);
        (void)::write(fds[1], "h", 1);
      }
    }
    ::close(fds[1]);
    hups_ = fds[0];
    char ready = 0;
    ASSERT_EQ(::read(hups_, &ready, 1), 1);
    std::ofstream(dir_ / "nginx.pid") << master_ << "\n";
    std::ofstream(dir_ / "upstream.conf") << "upstream trino {\n    server 127.0.0.1:8080;\n}\n";
  }
  void TearDown() override {
    if (master_ > 0) {
      ::kill(master_, SIGTERM);
      ::waitpid(master_, nullptr, 0);
    }
    ::close(hups_);
    std::filesystem::remove_all(dir_);
  }

  NginxOptions options(const std::string& binary) const {
    NginxOptions options;
    options.upstream_file = (dir_ / "upstream.conf").string();
    options.pid_file = (dir_ / "nginx.pid").string();
    options.binary = binary;
    return options;
  }

  // SIGHUPs received so far (waits briefly for one in flight).
  int hups_received() {
    char buffer[64];
    int total = 0;
    for (;;) {
      fd_set set;
      FD_ZERO(&set);
      FD_SET(hups_, &set);
      timeval timeout{0, 200'000};
      if (::select(hups_ + 1, &set, nullptr, nullptr, &timeout) <= 0) break;
      const ssize_t count = ::read(hups_, buffer, sizeof buffer);
      if (count <= 0) break;
      total += static_cast<int>(count);
    }
    return hups_seen_ += total;
  }

  std::filesystem::path dir_;
  pid_t master_ = -1;
  int hups_ = -1;
  int hups_seen_ = 0;
};

TEST_F(NginxDriverTest, WritesValidatesAndReloadsOnlyOnChange) {
  NginxDriver driver(options("true"));
  Result<void> applied = driver.apply(decision_with(ServerAction::kReady));
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_THAT(read(dir_ / "upstream.conf"), HasSubstr("server 127.0.0.1:8080 weight=100;"));
  EXPECT_EQ(hups_received(), 1);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "upstream.conf.nodepulse-tmp"));

  ASSERT_TRUE(driver.apply(decision_with(ServerAction::kReady)).ok());
  EXPECT_EQ(hups_received(), 1) << "same text: no reload";

  ASSERT_TRUE(driver.apply(decision_with(ServerAction::kDrain)).ok());
  EXPECT_THAT(read(dir_ / "upstream.conf"), HasSubstr("server 127.0.0.1:8080 down;"));
  EXPECT_EQ(hups_received(), 2);
}

TEST_F(NginxDriverTest, RefusedFileIsPutBackAndNotReloaded) {
  const std::string before = read(dir_ / "upstream.conf");
  NginxDriver driver(options("false"));
  Result<void> applied = driver.apply(decision_with(ServerAction::kDrain));
  ASSERT_FALSE(applied.ok());
  EXPECT_THAT(applied.error().message, HasSubstr("nginx -t refused the configuration"));
  EXPECT_EQ(read(dir_ / "upstream.conf"), before);
  EXPECT_EQ(hups_received(), 0);
}

TEST_F(NginxDriverTest, MissingBinaryOrPidFileIsAnErrorNotACrash) {
  Result<void> no_binary = NginxDriver(options("/nonexistent/nginx")).apply(decision_with(ServerAction::kReady));
  ASSERT_FALSE(no_binary.ok());
  NginxOptions no_pid = options("true");
  no_pid.pid_file = (dir_ / "absent.pid").string();
  Result<void> no_pid_file = NginxDriver(no_pid).apply(decision_with(ServerAction::kReady));
  ASSERT_FALSE(no_pid_file.ok());
  EXPECT_THAT(no_pid_file.error().message, HasSubstr("absent.pid"));
  EXPECT_EQ(hups_received(), 0);
}

}  // namespace
}  // namespace nodepulse
