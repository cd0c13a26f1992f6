// Secrets for real: the real agent, with a ZooKeeper digest from zookeeper.auth_file and webhook
// tokens from token_file and token_env, at log level trace. The tokens reach the webhook
// receivers (so they are really used), ZooKeeper holds the node under the digest's ACL, and none
// of the secret strings appears in the agent's log, /health, /metrics, the agent-check answer,
// the znode, or `nodepulse check` output.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "agent_check_client.h"
#include "agent_process.h"
#include "process.h"
#include "services.h"
#include "zk/zk_client.h"
#include "zookeeper.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using testing::AgentProcess;
using testing::agent_check_answer;
using testing::ChildProcess;
using testing::RecordingHttpServer;
using testing::TempDir;

std::string random_suffix() {
  std::random_device device;
  return std::to_string(device()) + std::to_string(device());
}

// `argv`'s stdout and stderr together, and its exit status.
std::pair<std::string, int> run(const std::vector<std::string>& argv, const std::filesystem::path& output) {
  ChildProcess child = ChildProcess::spawn(argv, output.string());
  const std::optional<int> status = child.wait_for_exit(60s);
  return {testing::file_text(output), status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1};
}

TEST(Secrets, AreUsedButNeverLoggedOrServed) {
  NODEPULSE_REQUIRE_ROOT();
  NODEPULSE_REQUIRE_ZOOKEEPER();
  TempDir dir("secrets");
  const std::string suffix = random_suffix();
  const std::string zk_password = "zkpass" + suffix;
  const std::string file_token = "filetoken" + suffix;
  const std::string env_token = "envtoken" + suffix;
  const std::string url_token = "urltoken" + suffix;
  const std::vector<std::string> secrets = {zk_password, file_token, env_token, url_token};

  testing::ZooKeeperEnsemble zookeeper(1);
  const std::filesystem::path auth_file = dir / "zookeeper.auth";
  testing::write_text(auth_file, "nodepulse:" + zk_password + "\n");
  const std::filesystem::path token_file = dir / "hook.token";
  testing::write_text(token_file, file_token + "\n");
  ::chmod(auth_file.c_str(), 0600);
  ::chmod(token_file.c_str(), 0600);
  RecordingHttpServer bearer_receiver;
  RecordingHttpServer key_receiver;
  const uint16_t agent_check_port = testing::free_loopback_port();

  const std::string marker = "3600." + std::to_string(::getpid());
  ChildProcess target = ChildProcess::spawn({"sleep", marker});
  const std::string node_id = "secrets-" + suffix.substr(0, 8);
  AgentProcess agent(
      dir.path(),
      "cluster: secrets\nnode: {id: " + node_id + "}\n"
      "targets: [{name: sleeper, cmdline_contains: 'sleep " + marker + "'}]\n"
      "log: {level: trace}\n"
      "agent_check: {listen: '127.0.0.1:" + std::to_string(agent_check_port) + "'}\n"
      "zookeeper: {connect: '" + zookeeper.connect_string() + "', auth_file: " + auth_file.string() + "}\n"
      "alerts:\n  webhooks:\n"
      "    - {url: '" + bearer_receiver.url("/hook?token=" + url_token) + "', token_file: " + token_file.string() + "}\n"
      "    - {url: '" + key_receiver.url("/hook") + "', token_env: NODEPULSE_TEST_HOOK_TOKEN, token_header: X-Api-Key}\n"
      "collect: {interval_ms: 50}\n",
      {"NODEPULSE_TEST_HOOK_TOKEN=" + env_token});

  // A state change (the target gone) posts to both webhooks.
  ASSERT_TRUE(testing::wait_until([&] { return agent.log().find("process") != std::string::npos; }, 5s));
  target.kill_and_reap();
  ASSERT_TRUE(testing::wait_until(
      [&] { return bearer_receiver.request_count() > 0 && key_receiver.request_count() > 0; }, 10s))
      << agent.log();
  EXPECT_NE(bearer_receiver.requests()[0].headers.find("Authorization: Bearer " + file_token + "\r\n"),
            std::string::npos)
      << bearer_receiver.requests()[0].headers;
  EXPECT_NE(key_receiver.requests()[0].headers.find("X-Api-Key: " + env_token + "\r\n"), std::string::npos)
      << key_receiver.requests()[0].headers;
  EXPECT_EQ(key_receiver.requests()[0].headers.find("Authorization"), std::string::npos);

  // ZooKeeper has the node, writable only with the digest: the password was really used.
  auto reader = zk::ZkClient::connect({.connect = zookeeper.connect_string(), .session_timeout = 4000ms, .digest = ""}, 10s);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  const std::string path = "/nodepulse/secrets/nodes/" + node_id;
  std::optional<zk::Node> node;
  ASSERT_TRUE(testing::wait_until(
      [&] {
        auto got = (*reader)->get(path);
        if (got.ok() && got->has_value()) node = **got;
        return node.has_value();
      },
      10s))
      << agent.log();
  EXPECT_EQ((*reader)->set(path, "{}").value(), ZNOAUTH);

  // Everywhere the agent speaks: none of the secrets.
  const auto health = testing::http_get(agent.port(), "/health");
  const auto metrics = testing::http_get(agent.port(), "/metrics");
  ASSERT_TRUE(health && metrics);
  const auto [check_output, check_status] =
      run({"env", "NODEPULSE_TEST_HOOK_TOKEN=" + env_token, NODEPULSE_BINARY, "--log-level", "trace", "check",
           "--config", agent.config().string()},
          dir / "check.out");
  EXPECT_NE(check_output.find("config:"), std::string::npos) << check_output;
  EXPECT_NE(check_status, 2) << check_output;
  const std::string log = agent.log();
  EXPECT_NE(log.find("alerts.webhooks[0] (http://127.0.0.1:"), std::string::npos) << "the log names the webhook";
  const std::vector<std::pair<std::string, std::string>> outputs = {{"the agent's log", log},
                                                                    {"/health", health->body},
                                                                    {"/metrics", metrics->body},
                                                                    {"agent-check", agent_check_answer(agent_check_port)},
                                                                    {"the znode", node->data},
                                                                    {"nodepulse check", check_output}};
  for (const auto& [where, text] : outputs) {
    EXPECT_FALSE(text.empty()) << where << " said nothing";
    for (const std::string& secret : secrets) {
      EXPECT_EQ(text.find(secret), std::string::npos) << where << " shows the secret " << secret << ":\n" << text;
    }
  }
}

// A token that cannot be read stops the agent at start with a message naming the file or the
// variable, not the token.
TEST(Secrets, AnUnreadableTokenStopsTheAgentAtStart) {
  NODEPULSE_REQUIRE_ROOT();
  TempDir dir("secrets-missing");
  const std::filesystem::path config = dir / "agent.yaml";
  const std::string second_line = "second" + random_suffix();
  testing::write_text(dir / "two-lines.token", "first\n" + second_line);
  const struct {
    std::string webhook;
    std::string expected;
  } cases[] = {
      {"token_file: " + (dir / "absent.token").string(), "alerts.webhooks[0].token_file " + (dir / "absent.token").string()},
      {"token_env: NODEPULSE_TEST_UNSET_TOKEN", "alerts.webhooks[0].token_env NODEPULSE_TEST_UNSET_TOKEN: the environment variable is not set"},
      {"token_file: " + (dir / "two-lines.token").string(), "the token must be one line"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.webhook);
    testing::write_text(config, "alerts:\n  webhooks: [{url: 'http://127.0.0.1:9/x', " + c.webhook + "}]\nhttp:\n  listen: 127.0.0.1:" +
                                    std::to_string(testing::free_loopback_port()) + "\n");
    const auto [output, status] = run({"env", "-u", "NODEPULSE_TEST_UNSET_TOKEN", NODEPULSE_BINARY, "agent", "--config", config.string()},
                                      dir / "agent.out");
    EXPECT_NE(status, 0) << output;
    EXPECT_NE(output.find(c.expected), std::string::npos) << output;
    EXPECT_EQ(output.find(second_line), std::string::npos) << output;
  }
}

}  // namespace
}  // namespace nodepulse
